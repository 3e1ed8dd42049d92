"""A deadline on every store call, and a circuit breaker for a store that stopped answering.

Driver timeouts (libpq connect_timeout and keepalives, botocore connect/read timeouts) cover
most faults, but not all: a server that accepts and never answers, or a stopped PostgreSQL
behind an open connection, keeps a call waiting in the kernel. So each store operation runs in
a daemon thread and is given up after `timeout` seconds. Once a call was given up (or failed
slowly), the breaker opens: further calls fail at once, so saves go straight to the journal
and cost no waiting, and one background probe at a time asks the store again; when a probe
succeeds (the store's health check, both of its parts) the breaker closes. A call given up
may still finish later; that is harmless, since every write is a merge.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

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
        # What a probe of the open breaker runs; None: the call that found it open. A call
        # that touches only part of the store must not close it for the whole.
        self.health: Callable[[], object] | None = None

    @property
    def is_open(self) -> bool:
        return self._open_since is not None

    def call(self, operation: Callable[[], T], timeout: float | None = None) -> T:
        """operation() within the deadline (`timeout`, default the guard's). While the breaker
        is open it fails at once, and runs the operation in the background as a probe."""
        self._refuse_while_open(operation)
        return self._within_deadline(operation, timeout)

    def _refuse_while_open(self, operation: Callable[[], object]) -> None:
        """An open breaker: the call fails at once; the store is probed in the background."""
        if self._open_since is not None:
            self._start_probe(self.health or operation)
            raise self._unanswered()

    def ask(self, operation: Callable[[], T]) -> T:
        """operation() within the deadline, even while the breaker is open, for a caller that
        answers with the store's state now (serve's /health): on an open breaker it answered
        with the failure remembered, and only then started the probe that would close it, so
        the first /health after the store came back, however much later, said "unreachable".
        Open, the store is asked by one caller at a time, at most once per PROBE_INTERVAL;
        the others get the failure remembered."""
        if self._open_since is None:
            return self._within_deadline(operation)
        if not self._claim_probe():
            raise self._unanswered()
        try:
            value = self._within_deadline(operation)
        finally:
            with self._lock:
                self._probing = False
        with self._lock:
            self._open_since = None
        return value

    def _unanswered(self) -> StoreUnansweredError:
        return StoreUnansweredError(f"{self._reason} (not waiting on it again for now)")

    async def call_awaited(self, operation: Callable[[], T]) -> T:
        """call(), awaited on an event loop: the operation runs on a runner thread as call()
        runs it, and the loop goes on meanwhile. Calling call() from a thread of the loop's
        pool cost a second hand-over between threads, and the pool's own bookkeeping, on every
        request (serve's token lookup)."""
        self._refuse_while_open(operation)
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        call = Call(operation, on_done=lambda: _resolve_soon(loop, finished))
        started = time.monotonic()
        # Handed to an idle runner; only when none is idle does the loop wait for a thread to
        # start (a fraction of a millisecond), as call() does.
        _RUNNERS.run(call)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(finished), self.timeout)
        return self._outcome(call, started, self.timeout)

    def _within_deadline(self, operation: Callable[[], T], timeout: float | None = None) -> T:
        started = time.monotonic()
        timeout = timeout or self.timeout
        call = _run_with_deadline(operation, timeout)
        return self._outcome(call, started, timeout)

    def _outcome(self, call: Call[T], started: float, timeout: float) -> T:
        """The call's value, or its error raised; a call not done by its deadline is given up
        (and opens the breaker), as is a slow failure of the store."""
        if not call.done.is_set():
            self._trip(f"{call.part_waited_on()} did not answer within {timeout:g} s")
            raise StoreUnansweredError(self._reason)
        value, error = call.value, call.error
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
        if self._claim_probe():
            threading.Thread(target=self._probe, args=(probe,), daemon=True).start()

    def _claim_probe(self) -> bool:
        """Whether the caller may probe the open breaker now (then it is the one probing)."""
        with self._lock:
            now = time.monotonic()
            if self._probing or now - self._last_probe < PROBE_INTERVAL:
                return False
            self._probing, self._last_probe = True, now
            return True

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
    from claudechat.errors import StoreRefusedError
    from claudechat.storage.blobs import BlobConflictError, BlobNotFoundError

    return not isinstance(error, BlobConflictError | BlobNotFoundError | StoreRefusedError)


def _resolve_soon(loop: asyncio.AbstractEventLoop, finished: asyncio.Future[None]) -> None:
    """From a runner thread: the awaited call is done. A loop closed meanwhile (a server
    that stopped) has nobody waiting any more."""

    def resolve() -> None:
        if not finished.done():
            finished.set_result(None)

    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(resolve)


def _run_with_deadline(operation: Callable[[], T], timeout: float) -> Call[T]:
    """The call, done or given up at the deadline (its `done` not set)."""
    call = Call(operation)
    _RUNNERS.run(call)
    call.done.wait(timeout)
    return call


class waiting_on:  # named as the context manager it is, as database_errors is
    """Names the part of the store (S3 bucket 'team-chats', database team on db:5432) that a
    guarded call waits on meanwhile, for the line said when it does not answer in time: "the
    store did not answer" did not say which part had stopped. `part` is made only then."""

    def __init__(self, part: Callable[[], str]) -> None:
        self.part = part
        self.call: Call[Any] | None = None
        self.before: Callable[[], str] | None = None

    def __enter__(self) -> None:
        self.call = getattr(_RUNNING, "call", None)  # None: not run by a guard
        if self.call is not None:
            self.before, self.call.waiting_on = self.call.waiting_on, self.part

    def __exit__(self, *_exc: object) -> None:
        if self.call is not None:
            self.call.waiting_on = self.before


class Call(Generic[T]):
    """An operation run on another thread: its value or the exception it raised, kept for
    whoever waits for it (`done`)."""

    def __init__(
        self, operation: Callable[[], T], on_done: Callable[[], object] | None = None
    ) -> None:
        self.operation = operation
        self.on_done = on_done  # run on the runner thread once `done` is set
        self.value: T | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.waiting_on: Callable[[], str] | None = None  # see waiting_on()

    def run(self) -> None:
        _RUNNING.call = self
        try:
            self.value = self.operation()
        except BaseException as exc:  # handed to whoever waits for the result
            self.error = exc
        finally:
            _RUNNING.call = None
            self.done.set()
            if self.on_done is not None:
                self.on_done()

    def part_waited_on(self) -> str:
        """What the call waits on now, as waiting_on() named it; "the store" where none did."""
        part = self.waiting_on
        try:
            return part() if part is not None else "the store"
        except Exception:  # a name is not worth a second failure
            return "the store"

    def result(self) -> T:
        """Once done: the value, or the operation's exception raised again."""
        if self.error is not None:
            raise self.error
        assert self.done.is_set()
        # Set by run(): None only where the operation returned None.
        return self.value  # type: ignore[return-value]


class _Runners:
    """Threads that run store calls, kept for the next call once done. A new thread per call
    costs its creation and a wait for it to start, twice a turn in every session; under serve's
    load each of those waits is a wait for the GIL. A thread whose call was given up at the
    deadline is not reused until the call ends; others are started meanwhile."""

    def __init__(self) -> None:
        self._idle: list[queue.SimpleQueue[Call[Any]]] = []
        self._lock = threading.Lock()

    def run(self, call: Call[Any]) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            # Daemons: a call stuck in a store that never answers must not keep the process.
            threading.Thread(
                target=self._serve, args=(inbox,), name="store-call", daemon=True
            ).start()
        inbox.put(call)

    def _serve(self, inbox: queue.SimpleQueue[Call[Any]]) -> None:
        while True:
            inbox.get().run()
            with self._lock:
                if len(self._idle) >= MAX_IDLE_RUNNERS:
                    return
                self._idle.append(inbox)


MAX_IDLE_RUNNERS = 64
_RUNNERS = _Runners()
_RUNNING = threading.local()  # .call: the Call a runner thread is running
