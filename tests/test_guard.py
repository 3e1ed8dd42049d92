"""The store's deadline (guard.py) runs calls on threads it keeps: reused once a call ends,
never waited for past the deadline, and never blocking the calls after one that hangs."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from claudechat.errors import StorageError
from claudechat.storage.guard import Guard, StoreUnansweredError


def _store_call_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "store-call")


def test_calls_one_after_another_reuse_one_thread() -> None:
    guard = Guard(timeout=5)
    ran_on: list[threading.Thread] = []  # kept alive, so no two are ever the same object

    def call(n: int) -> int:
        ran_on.append(threading.current_thread())
        return n * 2

    assert [guard.call(lambda n=n: call(n)) for n in range(200)] == [n * 2 for n in range(200)]  # type: ignore[misc]
    assert len(set(ran_on)) == 1
    assert threading.main_thread() not in ran_on


def test_errors_reach_the_caller_and_the_thread_is_kept() -> None:
    guard = Guard(timeout=5)

    ran_on: list[threading.Thread] = []

    def fails() -> None:
        ran_on.append(threading.current_thread())
        raise StorageError("the store said no")

    before = _store_call_threads()
    for _ in range(20):
        with pytest.raises(StorageError, match="said no"):
            guard.call(fails)
    assert guard.call(lambda: "fine") == "fine"
    assert _store_call_threads() - before <= 1
    assert len(set(ran_on)) == 1  # the thread that raised was used again


def test_a_hung_call_is_given_up_and_the_next_calls_run_beside_it() -> None:
    release = threading.Event()
    hung = Guard(timeout=0.3)
    started = time.monotonic()
    with pytest.raises(StoreUnansweredError):
        hung.call(release.wait)
    assert time.monotonic() - started < 2
    # Another store's calls (a fresh guard: this one's breaker is open now) are not queued
    # behind the hung call's thread.
    other = Guard(timeout=2)
    assert [other.call(lambda n=n: n) for n in range(5)] == list(range(5))  # type: ignore[misc]
    release.set()  # the hung call ends; its thread goes back to the idle ones
    time.sleep(0.2)
    threads = _store_call_threads()
    assert [other.call(lambda: 1) for _ in range(50)] == [1] * 50
    assert _store_call_threads() <= threads


def test_an_awaited_call_answers_without_holding_up_the_event_loop() -> None:
    """serve's token lookup: the value and the error reach the coroutine that awaits; the
    event loop runs other work meanwhile."""
    guard = Guard(timeout=5)
    release = threading.Event()

    async def scenario() -> tuple[str, list[str]]:
        ticks: list[str] = []

        async def other_work() -> None:
            for _ in range(3):
                ticks.append("tick")
                await asyncio.sleep(0.01)
            release.set()

        ticker = asyncio.ensure_future(other_work())
        value = await guard.call_awaited(lambda: "alice" if release.wait(5) else "late")
        await ticker
        with pytest.raises(StorageError, match="said no"):
            await guard.call_awaited(_refusing)
        return value, ticks

    value, ticks = asyncio.run(scenario())
    assert value == "alice" and ticks == ["tick"] * 3


def test_an_awaited_call_past_its_deadline_opens_the_breaker() -> None:
    """A database that stopped answering: the request is answered at the deadline, and the
    next ones at once, while a probe asks the store in the background."""
    release = threading.Event()
    guard = Guard(timeout=0.3)

    async def scenario() -> tuple[float, float]:
        started = time.monotonic()
        with pytest.raises(StoreUnansweredError):
            await guard.call_awaited(lambda: release.wait(5))
        given_up = time.monotonic() - started
        assert guard.is_open
        started = time.monotonic()
        with pytest.raises(StoreUnansweredError):  # its probe runs the call, in the background
            await guard.call_awaited(lambda: "refused: the breaker is open")
        return given_up, time.monotonic() - started

    try:
        given_up, refused = asyncio.run(scenario())
    finally:
        release.set()
    assert 0.25 < given_up < 2 and refused < 0.1


def test_an_awaited_call_ending_after_its_loop_closed_is_harmless() -> None:
    """A server stopped while a lookup was still running: the runner's answer finds no loop."""
    release, ended = threading.Event(), threading.Event()
    guard = Guard(timeout=0.2)

    def slow() -> str:
        release.wait(5)
        ended.set()
        return "too late"

    async def scenario() -> None:
        with pytest.raises(StoreUnansweredError):
            await guard.call_awaited(slow)

    asyncio.run(scenario())  # the loop is closed when this returns
    release.set()
    assert ended.wait(5)
    assert Guard(timeout=2).call(lambda: "runners still work") == "runners still work"


def _refusing() -> None:
    raise StorageError("the store said no")
