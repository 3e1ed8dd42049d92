"""One SQLite writer at a time across this machine's threads and processes, woken promptly.

SQLite lets one connection write at a time. The others wait in its busy handler, which sleeps
1, 2, 5, 10 ... up to 100 ms between tries, so with many writers (serve's threads and workers,
several terminals) a save can wait tens of milliseconds for a lock that was free after one.
Here a writer queues on a thread lock, then on an advisory lock on a file beside the database,
tried again at most 1 ms apart, and reaches SQLite only when no other writer holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from pathlib import Path

# Past this wait the lock's holder is taken for stuck (a stopped process): the writer goes on
# to SQLite, whose own busy timeout then decides. Well inside the store's 5 s deadline, so a
# save passes a stuck holder rather than being given up.
PATIENCE_SECONDS = 1.5
LONGEST_NAP = 0.001


class SqliteWriterLock:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".writers")
        self._threads = threading.Lock()
        self._descriptor: int | None = None
        self._holding_file = False

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            self._holding_file = self._take_file_lock()
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._holding_file and self._descriptor is not None:
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        finally:
            self._holding_file = False
            self._threads.release()

    def _take_file_lock(self) -> bool:
        """True once held; False when there is no lock file to be had or its holder seems
        stuck, and SQLite's own locking is all there is."""
        descriptor = self._open()
        if descriptor is None:
            return False
        deadline, nap = time.monotonic() + PATIENCE_SECONDS, 0.00005
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    return False  # a filesystem without locks (some network ones): SQLite's
                if time.monotonic() > deadline:
                    return False
                time.sleep(nap)
                nap = min(nap * 2, LONGEST_NAP)

    def close(self) -> None:
        with self._threads:
            if self._descriptor is not None:
                os.close(self._descriptor)
                self._descriptor = None

    def _open(self) -> int | None:
        if self._descriptor is None:
            with contextlib.suppress(OSError):  # a read-only folder: SQLite's locking only
                self._descriptor = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        return self._descriptor
