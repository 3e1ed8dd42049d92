"""Threads kept for the next job once done, for the work a chat turn starts beside itself.

serve starts two such jobs a turn: the turn itself (off the event loop) and the push of the
user's message beside the request to Claude. A new thread for each cost its creation and a
wait, on the starting thread, until the new one ran; under serve's load each of those waits is
a wait for the GIL, on the turn's path. A kept thread takes a job at once, and the one idle
last takes the next: its memory is the likeliest still in the CPU's caches, which on these
machines matters more than the work itself (bench/bench_idle_cost.py). A pool whose threads
take turns (concurrent.futures') measured no better than new threads.

Jobs are not daemons: a process on its way out waits for the ones still running (a turn
saving the reply it has, a save still pushing), as it waited for the threads they had. Idle
threads are ended then, and do not hold it up.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# A kept thread beyond this many idle ones ends instead (a burst of turns is over).
MOST_KEPT_IDLE = 256


class Job(Generic[T]):
    """A job handed to a thread: its value or the exception it raised, once `done`."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._work = work
        self._value: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> T:
        """Wait for the job, then its value, or its exception raised again."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # None only where work returned it

    def run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # handed to whoever waits for the result
            self._error = exc
        finally:
            self._done.set()


def run_soon(work: Callable[[], T]) -> Job[T]:
    """`work` on a kept thread (a new one only when none is idle)."""
    job = Job(work)
    _kept().run(job)
    return job


class _KeptThreads:
    def __init__(self) -> None:
        # Each idle thread's inbox, and the thread (for tests), the last idle last.
        self._idle: list[tuple[queue.SimpleQueue[Job[Any] | None], threading.Thread]] = []
        self._lock = threading.Lock()
        # Once the interpreter exits, idle threads are ended and a job gets a thread of its
        # own: one waiting for work would hold the exit up forever.
        self._exiting = not _end_at_exit(self._end_idle)

    def run(self, job: Job[Any]) -> None:
        with self._lock:
            exiting = self._exiting
            inbox = self._idle.pop()[0] if self._idle and not exiting else None
        if exiting:
            threading.Thread(target=job.run, name="claudechat-job").start()
            return
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name="claudechat-job").start()
        inbox.put(job)

    def _serve(self, inbox: queue.SimpleQueue[Job[Any] | None]) -> None:
        while (job := inbox.get()) is not None:
            job.run()
            del job  # nothing of it kept while idle
            with self._lock:
                if self._exiting or len(self._idle) >= MOST_KEPT_IDLE:
                    return
                self._idle.append((inbox, threading.current_thread()))

    def _idle_threads(self) -> list[threading.Thread]:
        """The idle threads, last idle last (for tests)."""
        with self._lock:
            return [thread for _, thread in self._idle]

    def _end_idle(self) -> None:
        with self._lock:
            self._exiting = True
            idle, self._idle = self._idle, []
        for inbox, _ in idle:
            inbox.put(None)


def _end_at_exit(end: Callable[[], None]) -> bool:
    """Have `end` called as the interpreter exits, before it waits for threads still running
    (what concurrent.futures does for its own idle threads). False: that cannot be done."""
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        return False
    try:
        register(end)
    except RuntimeError:  # the interpreter is exiting already
        return False
    return True


_threads: _KeptThreads | None = None
_threads_made = threading.Lock()


def _kept() -> _KeptThreads:
    global _threads
    with _threads_made:
        if _threads is None:
            _threads = _KeptThreads()
        return _threads
