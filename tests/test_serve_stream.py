"""/chat as server-sent events: when the status line goes, and what a client reads before any
text. The servers are test_serve.py's (one per storage configuration, --no-auth on loopback)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from claudechat.server import sse
from claudechat.server.service import ChatRequest, Service
from claudechat.server.turns import Turn
from claudechat.settings import load_settings
from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply
from serve_harness import Serve, sse_events, text_of
from test_serve import fake, server  # noqa: F401  (the fixtures)

STREAM = {"user_input": "think first", "stream": True}
RATE_LIMITED = {"retry-after": "7", "retry-after-ms": "10"}


def test_a_stream_has_its_status_line_while_claude_still_thinks(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """The status line waited for the first text: a long think left the client with nothing,
    and a proxy or client with a read timeout gave up before a 200 arrived. The fake holds
    the text until this test releases it, so the headers here came before any text."""
    release = threading.Event()
    fake.queue(Reply("after the think", thinking="let me see", held_after=0, release=release))
    try:
        with server.client() as http:
            started = http.post("/new_chat", json={}).json()["conversation_id"]
            with http.stream("POST", "/chat", json=STREAM) as answer:
                # The fake holds the text until `release` is set, below: none was sent yet.
                assert answer.status_code == 200
                assert answer.headers["content-type"].startswith("text/event-stream")
                lines = answer.iter_lines()
                assert next(lines) == ": thinking"  # a comment, which SSE clients skip
                release.set()
                events = sse_events(lines)
            document = http.get("/get_conversation", params={"conversation_id": started}).json()
    finally:
        release.set()
    assert [name for name, _ in events] == ["delta", "delta", "delta", "message"]
    assert "".join(json.loads(data)["text"] for _, data in events[:-1]) == "after the think"
    reply = document["messages"][-1]
    assert (text_of(reply["content"]), reply["status"]) == ("after the think", "complete")


def test_a_long_think_keeps_saying_the_stream_is_alive(
    fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`: thinking` went once, as the think began, then nothing until the text: a proxy's idle
    timeout still cut a long think. Run here in this process, as a worker runs it, with the
    interval made short; the fake holds the text until the comment came three times."""
    monkeypatch.setattr(sse, "ALIVE_EVERY_SECONDS", 0.05)
    release = threading.Event()
    fake_api.queue(Reply("after the think", thinking="let me see", held_after=0, release=release))
    service = Service.from_settings(load_settings())
    service.connect()

    async def before_the_text() -> list[str]:
        turn = Turn(service, "tester", ChatRequest("think first")).start()
        events = sse._events(None, turn, await turn.queue.get())  # type: ignore[arg-type]
        lines = []
        async for line in events:  # the request is needed by the last event alone
            lines.append(line)
            if line.startswith("event: delta"):
                break
            if lines.count(sse.THINKING) == 3:
                release.set()
        await events.aclose()
        await turn.outcome()
        return lines

    try:
        lines = asyncio.run(before_the_text())
    finally:
        release.set()
        service.store.close()
    # Three at least: more may come between the release and the text reaching the turn.
    assert set(lines[:-1]) == {sse.THINKING} and len(lines[:-1]) >= 3
    assert lines[-1].startswith("event: delta")


@pytest.mark.parametrize(
    ("refusal", "status", "kind"),
    [
        # The session asks twice more, waiting retry-after-ms (as the SDK would), then gives up.
        (ErrorReply(429, "rate_limit_error", headers=RATE_LIMITED), 429, "rate_limited"),
        (ErrorReply(401, "authentication_error", "invalid x-api-key"), 502, "upstream_error"),
    ],
    ids=["429", "401"],
)
def test_claude_refusing_before_its_reply_begins_is_a_real_status_on_a_stream(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    refusal: ErrorReply,
    status: int,
    kind: str,
) -> None:
    """The stream's status line goes once Claude's reply has begun; a refusal comes before
    that, so it still answers as the JSON answer does (429 with its Retry-After)."""
    fake.queue(refusal, refusal, refusal)
    with server.client() as http:
        http.post("/new_chat", json={})
        with http.stream("POST", "/chat", json=STREAM) as answer:
            answer.read()
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["type"] == kind
    if status == 429:
        assert answer.headers["retry-after"] == "7"


def test_a_rate_limit_after_the_reply_began_gives_its_retry_after_in_the_error_event(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """The 200 went as Claude's reply began; Claude then broke off while thinking (asked
    again) and rate-limited each try after it. The `error` event said 429 and nothing of how
    long to wait, which the JSON answer's Retry-After tells."""
    broke_off = Reply(thinking="let me see", cut_after=1, error_event=("overloaded_error", "busy"))
    limited = ErrorReply(429, "rate_limit_error", headers=RATE_LIMITED)
    fake.queue(broke_off, limited, limited)
    with server.client() as http:
        http.post("/new_chat", json={})
        with http.stream("POST", "/chat", json=STREAM) as answer:
            assert answer.status_code == 200
            events = sse_events(answer.iter_lines())
    ((name, data),) = events
    assert name == "error"
    ended = json.loads(data)
    assert (ended["status"], ended["error"]["type"]) == (429, "rate_limited")
    assert ended["retry_after"] == 7
