"""A deadline on every store call, and a circuit breaker for a store that stopped answering.

Driver timeouts (libpq connect_timeout and keepalives, botocore connect/read timeouts) cover
most faults, but not all: a server that accepts and never answers, or a stopped PostgreSQL
behind an open connection, keeps a call waiting in the kernel. So each store operation runs in
a daemon thread and is given up after `timeout` seconds. Once a call was given up (or failed
slowly), the breaker opens: further calls fail at once, so saves go straight to the journal
and cost no waiting, and one background probe at a time asks the store again; when a probe
succeeds the breaker closes. A call given up may still finish later; that is harmless, since
every write is a merge.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from claudechat.errors import StorageError

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0
# A probe of an open breaker is started at most this often.
PROBE_INTERVAL = 1.0


class StoreUnansweredError(StorageError):
    """The store did not answer in time, now or in a recent call."""


class Guard:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._open_since: float | None = None
        self._reason = ""
        self._probing = False
        self._last_probe = 0.0

    @property
    def is_open(self) -> bool:
        return self._open_since is not None

    def call(self, operation: Callable[[], T], probe: Callable[[], object] | None = None) -> T:
        """operation() within the deadline. While the breaker is open it fails at once (and
        starts `probe`, or the operation itself, in the background)."""
        if self._open_since is not None:
            self._start_probe(probe or operation)
            raise StoreUnansweredError(f"{self._reason} (not waiting on it again for now)")
        started = time.monotonic()
        finished, value, error = _run_with_deadline(operation, self.timeout)
        if not finished:
            self._trip(f"the store did not answer within {self.timeout:g} s")
            raise StoreUnansweredError(self._reason)
        if error is not None:
            slow = time.monotonic() - started > self.timeout / 2
            if slow and isinstance(error, StorageError) and _is_outage(error):
                self._trip(str(error))  # a slow failure: the next one would be slow too
            raise error
        return value  # type: ignore[return-value]

    def _trip(self, reason: str) -> None:
        with self._lock:
            self._open_since = time.monotonic()
            self._reason = reason

    def _start_probe(self, probe: Callable[[], object]) -> None:
        with self._lock:
            now = time.monotonic()
            if self._probing or now - self._last_probe < PROBE_INTERVAL:
                return
            self._probing, self._last_probe = True, now
        threading.Thread(target=self._probe, args=(probe,), daemon=True).start()

    def _probe(self, probe: Callable[[], object]) -> None:
        try:
            probe()
        except Exception:
            pass
        else:
            with self._lock:
                self._open_since = None
        finally:
            with self._lock:
                self._probing = False


def _is_outage(error: StorageError) -> bool:
    from claudechat.storage.blobs import BlobConflictError, BlobNotFoundError

    return not isinstance(error, BlobConflictError | BlobNotFoundError)


def _run_with_deadline(
    operation: Callable[[], T], timeout: float
) -> tuple[bool, T | None, BaseException | None]:
    outcome: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = operation()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    if not done.wait(timeout):
        return False, None, None
    error = outcome.get("error")
    return True, outcome.get("value"), error if isinstance(error, BaseException) else None  # type: ignore[return-value]
