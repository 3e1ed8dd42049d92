"""What a serve worker leaves to the garbage collector (server/heap.py).

Every object a turn leaves in a reference cycle waits for the cyclic collector, which stops
every request of the worker while it walks them. A turn must be freed by reference counting
alone; and a worker, once started, freezes its start-up heap so no collection walks it again.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator

import pytest

from claudechat.server import heap
from claudechat.server.service import ChatRequest, Notices, Service
from claudechat.settings import load_settings


@pytest.fixture
def no_automatic_collection() -> Iterator[None]:
    """Cycles kept in gc.garbage instead of freed, and no collection but the test's own."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_turns_leave_nothing_for_the_cyclic_collector(  # type: ignore[no-untyped-def]
    fake_api, isolated_home, no_automatic_collection
) -> None:
    settings = load_settings()
    service = Service.from_settings(settings)
    service.new_chat("tester")
    warmed = 0
    for turn in range(5):  # the first ones also import, connect and fetch: not counted
        session = service.open_session("tester", ChatRequest(f"t{turn}"), Notices())
        session.send(f"t{turn}", lambda _text: None)
        del session
        if turn == 1:
            gc.collect()  # kept in gc.garbage (not freed: it would be found again)
            warmed = len(gc.garbage)
    gc.collect()
    left = gc.garbage[warmed:]
    kinds = Counter(type(o).__qualname__ for o in left)
    # A session pointing at itself (a catalogue holding its bound method) took its
    # conversation, every message and block with it into the cycle: 78 objects per turn.
    ours = [o for o in left if type(o).__module__.startswith("claudechat")]
    assert ours == [], kinds.most_common(10)
    assert len(left) < 30, kinds.most_common(10)  # over three turns, the libraries' included
    service.store.close()


def test_a_settled_worker_never_walks_its_start_up_heap_again() -> None:
    before = gc.get_threshold()
    try:
        heap.settle()
        assert gc.get_freeze_count() > 1000  # at least the modules this test process loaded
        assert gc.get_threshold()[:2] == (max(before[0], heap.YOUNG), heap.MIDDLE)
        assert all(
            len(gc.get_objects(generation)) < gc.get_freeze_count() for generation in (0, 1, 2)
        )
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
