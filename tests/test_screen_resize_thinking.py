"""A resize while thinking streams, or while the waiting line shows: both are erased as
drawn, in rows counted at the new width. Read through a terminal emulator (pyte) that
reflows its lines on a resize, as test_screen.py reads it."""

from __future__ import annotations

import threading

import pytest

from fakes.anthropic_api import Reply
from test_screen import start, terminals  # noqa: F401  (a fixture)

pytestmark = pytest.mark.pty


def test_narrowing_the_window_while_thinking_leaves_only_the_thought_line(  # type: ignore[no-untyped-def]
    terminals,  # noqa: F811
    fake_api,
) -> None:
    """The rows of thinking the terminal re-wrapped stayed above "thought for 6 s · 238
    tokens" for good: they were erased as many rows as they had taken before the resize."""
    release = threading.Event()
    thought = " ".join(f"thinkword{i}" for i in range(80))
    fake_api.queue(Reply("final answer here", thinking=thought, held_after=0, release=release))
    terminal = start(terminals, rows=40, cols=100)
    try:
        terminal.send("think\r")
        terminal.wait_for("thinkword79")  # all of it streamed; the answer is held
        terminal.resize(40, 50)
        terminal.pump(0.5)
    finally:
        release.set()
    lines = terminal.settled("final answer here", 2)
    assert not [line for line in lines if "thinkword" in line], terminal.dump()
    assert sum(line.startswith("thought for") for line in lines) == 1, terminal.dump()
    assert lines.count("final answer here") == 1, terminal.dump()


def test_narrowing_and_widening_while_waiting_leaves_no_piece_of_the_waiting_line(  # type: ignore[no-untyped-def]
    terminals,  # noqa: F811
    fake_api,
) -> None:
    """A "waiting for Cla" stayed above the answer: the line, re-wrapped over two rows by
    the narrowed terminal, was erased as one."""
    release = threading.Event()
    fake_api.queue(Reply(chunks=["late answer"], held_after=0, release=release))
    terminal = start(terminals, cols=100)
    try:
        terminal.send("slow\r")
        terminal.wait_for("waiting for Claude · 1 s")
        terminal.resize(24, 15)
        terminal.wait_for("waiting · ")  # drawn again at the new width
        terminal.resize(24, 100)
        terminal.pump(0.5)
    finally:
        release.set()
    lines = terminal.settled("late answer", 2)
    assert not [line for line in lines if "wait" in line or "ude ·" in line], terminal.dump()
    assert lines.count("late answer") == 1, terminal.dump()
