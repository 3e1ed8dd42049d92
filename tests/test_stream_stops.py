"""Stopping a streaming reply from another thread (stream_stops.py), through the real SDK
against the fake: at once while Claude is silent, whatever the response's framing, also
when the stop came first, and never the stream of other work in a reused thread."""

from __future__ import annotations

import threading
import time

import pytest

from claudechat.claude import Claude
from claudechat.claude_stream import Reply
from claudechat.errors import Stopped
from claudechat.memory import ContextMessage
from claudechat.settings import load_settings
from fakes.anthropic_api import FakeAnthropic
from fakes.anthropic_api import Reply as FakeReply

SILENCE = 5.0  # seconds before the fake's first delta: far longer than any stop may take
ASKED = [ContextMessage("user", ({"type": "text", "text": "think"},))]


def _claude() -> Claude:
    claude = Claude(load_settings())
    claude.client  # noqa: B018  (the SDK imported now, not inside the timed part)
    return claude


def _read(claude: Claude, token: threading.Event) -> Reply:
    reply = Reply()
    with claude.stops.owned_by(token):
        for _event in claude.stream(ASKED, "claude-sonnet-4-6", None, reply):
            pass
    return reply


def _stop_soon(claude: Claude, token: threading.Event, after: float = 0.3) -> threading.Timer:
    def stop() -> None:
        token.set()
        claude.stops.stop(token)

    timer = threading.Timer(after, stop)
    timer.start()
    return timer


@pytest.mark.parametrize("framing", ["chunked", "close-delimited"])
def test_a_silent_stream_is_stopped_at_once(fake_api: FakeAnthropic, framing: str) -> None:
    """A close-delimited body reads a shut socket as its end: that too is a stop, not a
    reply cut off (which the session would ask again for, unstoppably)."""
    cut = {"cut_after": 1, "cut_mode": "close"} if framing == "close-delimited" else {}
    fake_api.queue(FakeReply(chunks=["late ", "words"], delay=SILENCE, **cut))
    claude, token = _claude(), threading.Event()
    timer = _stop_soon(claude, token)
    started = time.monotonic()
    with pytest.raises(Stopped):
        _read(claude, token)
    assert time.monotonic() - started < SILENCE / 2
    timer.join()


def test_a_stop_before_the_stream_began_ends_it_as_it_begins(fake_api: FakeAnthropic) -> None:
    fake_api.queue(FakeReply(chunks=["late"], delay=SILENCE))
    claude, token = _claude(), threading.Event()
    token.set()
    claude.stops.stop(token)  # nothing to end yet
    started = time.monotonic()
    with pytest.raises(Stopped):
        _read(claude, token)
    assert time.monotonic() - started < SILENCE / 2


def test_a_late_stop_never_ends_the_next_streams_of_the_same_thread(
    fake_api: FakeAnthropic,
) -> None:
    """Thread ids are reused; stops go by the work's own token, so a stop for work that has
    ended does nothing to the work that came after it."""
    claude, ended = _claude(), threading.Event()
    fake_api.queue(FakeReply("done"))
    assert _read(claude, ended).complete
    fake_api.queue(FakeReply(chunks=["slow ", "but ", "whole"], delay=0.3))
    timer = _stop_soon(claude, ended, after=0.4)  # the ended work's stop, mid-stream
    reply = _read(claude, threading.Event())
    timer.join()
    assert reply.complete and reply.text == "slow but whole"
