"""SQLite's WAL checkpoints, kept out of the writers' way.

A checkpoint copies the pages written to the WAL into the database file and syncs it. SQLite
runs one by itself inside the commit that takes the WAL past its threshold, so that writer, and
every writer queued behind it, waits for the copy and the sync: under serve's load, 100 ms and
more, the whole of a save's slowest percent. Here a thread of the process's own does it instead,
every COMMITS_BETWEEN commits, in two steps: a passive checkpoint copies what the WAL holds while
writers go on, then a second one, inside the writers' queue, copies the few pages they added
meanwhile. Only then has the WAL been copied whole, so the next writer starts it over from its
beginning instead of growing it.

SQLite's own checkpoint stays as a backstop at a higher threshold, for processes that write too
seldom to get here (and SQLite checkpoints when the last connection closes).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

COMMITS_BETWEEN = 100  # about 700 pages of WAL at a save's 7
CLOSING_WAIT_SECONDS = 2.0
# SQLite's own threshold (its default is 1000): reached where no process makes 100 commits
# (terminals only), and then a commit waits for twice the default's copy, no more.
BACKSTOP_PAGES = 2000

log = logging.getLogger("claudechat.storage")


class Checkpoints:
    def __init__(self, engine: Engine, writers: contextlib.AbstractContextManager[Any]) -> None:
        self._engine = engine
        self._writers = writers
        self._lock = threading.Lock()
        self._commits = 0
        self._due = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def committed(self) -> None:
        """Called after each commit; wakes the checkpoint thread every COMMITS_BETWEEN."""
        with self._lock:
            self._commits += 1
            if self._commits < COMMITS_BETWEEN:
                return
            self._commits = 0
            if self._thread is None:
                # A daemon: a checkpoint cut short by the exit is harmless, SQLite redoes it.
                self._thread = threading.Thread(
                    target=self._run, name="sqlite-checkpoints", daemon=True
                )
                self._thread.start()
        self._due.set()

    def _run(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            if self._closed:
                return
            try:
                self.checkpoint()
            except Exception as exc:  # not done now, done next time (or by the backstop)
                log.debug("checkpoint skipped: %s", exc)

    def close(self) -> None:
        """No checkpoint after this; one under way is waited for (briefly), so none runs on
        after the store closed its engine and its lock."""
        self._closed = True
        self._due.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSING_WAIT_SECONDS)

    def checkpoint(self) -> None:
        with self._engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            with self._writers:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
