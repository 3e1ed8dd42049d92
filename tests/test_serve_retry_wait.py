"""A stream waiting to ask Claude again says `: waiting`, not `: thinking`. The attempt that
thought broke off (overloaded) after the reply began, so the status line had gone; through
the retry's wait the stream went on saying `: thinking`, though nothing was being asked."""

from __future__ import annotations

import asyncio

import pytest

from claudechat import turn_retries
from claudechat.server import sse
from claudechat.server.service import ChatRequest, Service
from claudechat.server.turns import Turn
from claudechat.settings import load_settings
from fakes.anthropic_api import FakeAnthropic, Reply

KEEP_ALIVES = 3


def test_the_wait_before_a_retry_is_not_called_thinking(
    fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run in this process, as a worker runs it, with the keep-alive interval short and the
    retry's wait long (the test ends it by stopping the turn, as a client leaving would)."""
    monkeypatch.setattr(sse, "ALIVE_EVERY_SECONDS", 0.05)
    monkeypatch.setattr(turn_retries, "RETRY_BACKOFF_SECONDS", 600.0)
    monkeypatch.setattr(turn_retries, "LONGEST_WAIT_OVER_HTTP_SECONDS", 600.0)
    broke_off = Reply(thinking="let me see", cut_after=1, error_event=("overloaded_error", "busy"))
    fake_api.queue(broke_off)
    service = Service.from_settings(load_settings())
    service.connect()

    async def while_waiting() -> tuple[list[str], list[str]]:
        turn = Turn(service, "tester", ChatRequest("think first")).start()
        events = sse._events(None, turn, await turn.queue.get())  # type: ignore[arg-type]
        before, after = [], []
        async for line in events:  # the request is needed by the last event alone
            # The notice follows the session's Retrying event, which the stream is told of.
            waiting = any("retrying in" in notice for notice in turn.notices.lines)
            (after if waiting else before).append(line)
            # The first line after the notice may have been said as the Retrying event came.
            if len(after) == 1 + KEEP_ALIVES:
                break
        await events.aclose()
        turn.stop()
        await turn.outcome()
        return before, after

    try:
        before, after = asyncio.run(while_waiting())
    finally:
        service.store.close()
    # As the think began: a `: waiting` may come first (the first delta past 50 ms), and on a
    # busy machine the retry's notice before the stream said anything.
    assert sse.THINKING in before + after[:1]
    assert after[1:] == [sse.WAITING] * KEEP_ALIVES
    assert len(fake_api.requests) == 1  # still waiting to ask again
