"""Stopping `claudechat serve`: SIGTERM mid-reply, and the grace period. Several hosts on one
store, and the store failing under a running server: test_serve_outages.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from claudechat.turn_retries import LONGEST_WAIT_OVER_HTTP_SECONDS
from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply
from serve_harness import Serve, api_env, sse_events, text_of

WORDS = [f"w{i} " for i in range(20)]
# uvicorn shuts down gracefully, then re-raises the signal so the exit status says SIGTERM.
STOPPED = (0, -signal.SIGTERM)


@pytest.fixture
def fake(fake_server: FakeAnthropic) -> FakeAnthropic:
    fake_server.reset()
    return fake_server


def _chat_in_background(server: Serve, answers: list[Any]) -> threading.Thread:
    def post() -> None:
        try:
            with server.client() as http:
                answers.append(http.post("/chat", json={"user_input": "a long one"}))
        except httpx.HTTPError as exc:
            answers.append(exc)

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def _sigterm_during(server: Serve, fake: FakeAnthropic, client: Callable[[], None]) -> None:
    """`client` (its requests) in a thread; SIGTERM once the reply streams; both ended."""
    thread = threading.Thread(target=client)
    thread.start()
    _wait_until_streaming(fake)
    server.terminate()
    assert server.process is not None and server.process.wait(30) in STOPPED
    thread.join(10)


def _wait_until_streaming(fake: FakeAnthropic, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not fake.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # a few deltas in
    assert fake.requests, "the reply never started"


def _stored(server: Serve) -> dict[str, Any]:
    listed = server.cli("list", "--json")
    (row,) = json.loads(listed.stdout)
    shown = server.cli("show", "--json", row["id"])
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_sigterm_lets_a_reply_in_flight_finish_before_exit(fake: FakeAnthropic) -> None:
    fake.queue(Reply(chunks=WORDS, delay=0.05))  # about a second
    server = Serve(api_env(fake), "--no-auth").start()
    answers: list[Any] = []
    thread = _chat_in_background(server, answers)
    _wait_until_streaming(fake)
    server.terminate()
    assert server.process is not None and server.process.wait(60) in STOPPED
    thread.join(10)
    (answer,) = answers
    assert answer.status_code == 200 and answer.json()["reply"] == "".join(WORDS)
    assert _stored(server)["messages"][-1]["status"] == "complete"


def test_sighup_with_one_worker_stops_as_sigterm_does(fake: FakeAnthropic) -> None:
    """It met the CLI's handler inside uvicorn's event loop: a traceback in the log, no grace
    period for the reply in flight, exit 0."""
    fake.queue(Reply(chunks=WORDS, delay=0.05))  # about a second
    server = Serve(api_env(fake), "--no-auth").start()
    answers: list[Any] = []
    thread = _chat_in_background(server, answers)
    _wait_until_streaming(fake)
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)
    assert server.process.wait(60) in STOPPED
    thread.join(10)
    (answer,) = answers
    assert answer.status_code == 200 and answer.json()["reply"] == "".join(WORDS)
    assert "Traceback" not in server.log()


def test_sigterm_saves_a_reply_that_outlasts_the_grace_period(fake: FakeAnthropic) -> None:
    fake.queue(Reply(chunks=WORDS * 5, delay=0.05))  # about five seconds
    server = Serve(api_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    answers: list[Any] = []
    thread = _chat_in_background(server, answers)
    _wait_until_streaming(fake)
    server.terminate()
    # Had shutdown waited for the whole reply, it would be saved complete.
    assert server.process is not None and server.process.wait(30) in STOPPED
    thread.join(10)
    stored = _stored(server)
    reply = stored["messages"][-1]
    assert reply["role"] == "assistant" and reply["status"] == "interrupted"
    assert 0 < len(text_of(reply["content"]).split()) < len(WORDS) * 5
    (answer,) = answers
    assert answer.status_code == 503 and answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["type"] == "shutting_down"
    assert answer.json()["conversation_id"] == stored["id"]
    assert "Traceback" not in server.log()
    # The documented way such a stop goes: uvicorn's ERROR line for it tripped log alerting.
    cancelled = [line for line in server.log().splitlines() if "graceful shutdown" in line]
    assert cancelled and all(" WARNING " in line for line in cancelled), cancelled
    assert " ERROR " not in server.log()


def test_sigterm_past_the_grace_period_ends_a_stream_with_an_error_event(
    fake: FakeAnthropic,
) -> None:
    fake.queue(Reply(chunks=WORDS * 5, delay=0.05))  # about five seconds
    server = Serve(api_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    lines: list[str] = []

    def stream() -> None:
        body = {"user_input": "a long one", "stream": True}
        with server.client() as http, http.stream("POST", "/chat", json=body) as answer:
            lines.extend(answer.iter_lines())

    _sigterm_during(server, fake, stream)
    events = sse_events(lines)
    assert {name for name, _ in events[:-1]} == {"delta"}
    name, data = events[-1]
    stored = _stored(server)
    assert name == "error" and json.loads(data)["error"]["type"] == "shutting_down"
    assert json.loads(data)["conversation_id"] == stored["id"]
    reply = stored["messages"][-1]
    assert reply["status"] == "interrupted"
    assert text_of(reply["content"]) == "".join(json.loads(d)["text"] for _, d in events[:-1])
    assert "Traceback" not in server.log()


def test_sigterm_past_the_grace_period_before_any_text_ends_a_stream_with_an_error_event(
    fake: FakeAnthropic,
) -> None:
    """Claude's reply has begun but no text yet (a long think): the stream has its 200
    already, so the answer to shutdown is its last event, saying what is kept."""
    fake.queue(Reply(chunks=["late ", "words"], delay=2.5))
    server = Serve(api_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    answers: list[Any] = []

    def stream() -> None:
        body = {"user_input": "a slow start", "stream": True}
        with server.client() as http, http.stream("POST", "/chat", json=body) as answer:
            answers.append((answer.status_code, sse_events(answer.iter_lines())))

    _sigterm_during(server, fake, stream)
    ((status, events),) = answers
    stored = _stored(server)
    assert status == 200 and [name for name, _ in events] == ["error"]
    error = json.loads(events[0][1])
    assert (error["status"], error["error"]["type"]) == (503, "shutting_down")
    assert error["error"]["message"].endswith("your message is saved, with no reply yet")
    assert error["conversation_id"] == stored["id"]
    assert [m["role"] for m in stored["messages"]] == ["user"]
    assert "Traceback" not in server.log()


def test_sigterm_past_the_grace_period_before_claude_answers_a_stream_in_json(
    fake: FakeAnthropic,
) -> None:
    """Claude has not begun a reply (the turn waits out a rate limit's retry-after): no
    events have started, so the answer is a real status, 503, in JSON, not uvicorn's
    plain-text 500."""
    # The longest wait serve takes (a longer one is the caller's), twice: past the grace period.
    wait = f"{LONGEST_WAIT_OVER_HTTP_SECONDS:g}"
    fake.queue(*[ErrorReply(429, "rate_limit_error", headers={"retry-after": wait})] * 3)
    server = Serve(api_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    answers: list[Any] = []

    def stream() -> None:
        body = {"user_input": "a slow start", "stream": True}
        with server.client() as http:
            answers.append(http.post("/chat", json=body))

    _sigterm_during(server, fake, stream)
    (answer,) = answers
    assert answer.status_code == 503 and answer.json()["error"]["type"] == "shutting_down"
    assert answer.json()["conversation_id"] == _stored(server)["id"]
    assert "Traceback" not in server.log()


def test_sigterm_with_claude_silent_stops_its_request_at_once(fake: FakeAnthropic) -> None:
    """Claude accepted the request and sends nothing (a long think, a stalled upstream). The
    turn's thread waited in its read until the next event or the idle timeout (60 s), and
    the process with it, long past the grace period."""
    fake.queue(Reply(chunks=["too late"], delay=30))
    server = Serve(api_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    answers: list[Any] = []
    started = time.monotonic()
    _sigterm_during(server, fake, lambda: _ask(server, answers))
    assert time.monotonic() - started < 15
    (answer,) = answers
    assert answer.status_code == 503 and answer.json()["error"]["type"] == "shutting_down"
    # It said "what arrived of the reply is saved, marked interrupted" of no reply.
    assert answer.json()["error"]["message"].endswith("your message is saved, with no reply yet")
    assert [m["role"] for m in _stored(server)["messages"]] == ["user"]  # kept; nothing came
    assert "Traceback" not in server.log()


def _ask(server: Serve, answers: list[Any]) -> None:
    with server.client() as http:
        answers.append(http.post("/chat", json={"user_input": "think hard"}))


def test_the_other_commands_do_not_import_the_server() -> None:
    code = (
        "import sys; from claudechat.cli import run; run(['--help']); "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"
