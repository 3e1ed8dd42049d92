"""`claudechat serve`'s turns that do not go to plan, over real HTTP: Claude's errors (rate
limits, failures, an unknown model, a stall), a client leaving mid-turn, a conversation deleted
during its turn, two turns at once. The servers of test_serve.py answer them.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from claudechat.turn_retries import LONGEST_WAIT_OVER_HTTP_SECONDS
from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply
from serve_harness import Serve, conversation_json, sse_events, text_of, wait_until
from test_serve import IDLE_TIMEOUT, fake, server  # noqa: F401  (the fixtures)


def _kept(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Each message of a conversation as (role, text, status)."""
    return [(m["role"], text_of(m["content"]), m["status"]) for m in document["messages"]]


def test_claude_rate_limits_pass_on_with_retry_after(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    # The session asks twice more (waiting retry-after-ms, as the SDK would), then gives up.
    limited = ErrorReply(
        429, "rate_limit_error", headers={"retry-after": "7", "retry-after-ms": "10"}
    )
    fake.queue(limited, limited, limited)
    with server.client() as http:
        http.post("/new_chat", json={})
        answer = http.post("/chat", json={"user_input": "are you there"})
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "7"
        kept = conversation_json(http, answer.json()["conversation_id"])
    assert _kept(kept) == [("user", "are you there", "pending")]


def test_a_client_leaving_during_a_rate_limit_wait_stops_the_turn(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """The SDK's own retries slept through retry-after deaf to a stop: the turn asked Claude
    again after its client had gone (and shutdown waited for it, past the grace period)."""
    # The longest wait serve takes (a longer one is the caller's): a second past its timeout.
    wait = LONGEST_WAIT_OVER_HTTP_SECONDS
    limited = ErrorReply(429, "rate_limit_error", headers={"retry-after": f"{wait:g}"})
    fake.queue(limited, limited, Reply("too late"))
    gone = '"POST /chat" 499'
    before = server.log().count(gone)
    with server.client() as http:
        http.post("/new_chat", json={})
    asked = len(fake.requests)
    body = '{"user_input": "anyone?"}'
    head = "POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode())
        # Gone once refused, in the wait: not at a fixed time, which a slow start outlasts.
        wait_until(lambda: len(fake.requests) > asked, "Claude was asked", timeout=20)
    wait_until(lambda: server.log().count(gone) > before, "the client's leaving logged")
    assert server.log().count(gone) == before + 1
    time.sleep(wait)  # past the retry-after
    assert len(fake.requests) == asked + 1
    fake.reset()


def test_a_failed_or_cut_off_reply_is_a_bad_gateway_keeping_the_message(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    failing = ErrorReply(500, "api_error", "upstream broke")
    fake.queue(failing, failing, failing, Reply("one two three four", cut_after=2))
    with server.client() as http:
        http.post("/new_chat", json={})
        failed = http.post("/chat", json={"user_input": "first"})
        cut = http.post("/chat", json={"user_input": "second"})
        assert (failed.status_code, failed.json()["error"]["type"]) == (502, "upstream_error")
        assert (cut.status_code, cut.json()["error"]["type"]) == (502, "reply_cut_off")
        kept = conversation_json(http, cut.json()["conversation_id"])
    assert _kept(kept) == [
        ("user", "first", "pending"),
        ("user", "second", "complete"),
        ("assistant", "one two ", "incomplete"),
    ]


def test_a_model_claude_does_not_know_is_the_callers_error(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """A 502 said Claude failed, which invites the same request again."""
    with server.client() as http:
        http.post("/new_chat", json={})
        first = http.post("/chat", json={"user_input": "hello"}).json()
        fake.queue(ErrorReply(404, "not_found_error", "model: gpt-4"))
        refused = http.post("/chat", json={"user_input": "hi", "model": "gpt-4"})
        kept = conversation_json(http, first["conversation_id"])
    assert (refused.status_code, refused.json()["error"]["type"]) == (400, "unknown_model")
    assert "gpt-4" in refused.json()["error"]["message"]
    assert refused.json()["conversation_id"] == first["conversation_id"]
    # Not kept on the conversation: later requests without "model" would fail alike; the
    # operator reads so in the log, as the session says it in a terminal.
    assert kept["model"] == first["model"]
    assert f"the conversation goes back to {first['model']}" in server.log()


def test_an_address_with_no_messages_api_is_a_bad_gateway_not_an_unknown_model(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """A 404 that names no model (a proxy's path, a wrong base URL) is not the caller's."""
    fake.queue(ErrorReply(404, "not_found_error", "Not found: /v1/messages"))
    with server.client() as http:
        refused = http.post("/chat", json={"user_input": "hi"})
    assert (refused.status_code, refused.json()["error"]["type"]) == (502, "upstream_error")
    assert "check ANTHROPIC_BASE_URL" in refused.json()["error"]["message"]
    # Where the API is, the operator's: in the log, not to any token holder; nor the path a
    # server that is not the API echoes.
    assert fake.base_url not in refused.json()["error"]["message"]
    assert "/v1/messages" not in refused.json()["error"]["message"]
    assert f"at {fake.base_url}/v1/messages: not_found_error" in server.log()


def test_a_stalled_reply_is_a_gateway_timeout_keeping_what_arrived(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    fake.queue(Reply("one two three four", stall_after=2, stall_seconds=IDLE_TIMEOUT + 1))
    with server.client() as http:
        http.post("/new_chat", json={})
        stalled = http.post("/chat", json={"user_input": "hello?"})
        assert (stalled.status_code, stalled.json()["error"]["type"]) == (504, "upstream_timeout")
        kept = conversation_json(http, stalled.json()["conversation_id"])
    assert _kept(kept) == [
        ("user", "hello?", "complete"),
        ("assistant", "one two ", "incomplete"),
    ]


def test_an_error_mid_stream_ends_the_events_with_an_error(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    fake.queue(Reply("one two three four", cut_after=2))
    with server.client() as http:
        http.post("/new_chat", json={})
        with http.stream("POST", "/chat", json={"user_input": "go", "stream": True}) as r:
            events = sse_events(r.iter_lines())
    assert [name for name, _ in events] == ["delta", "delta", "error"]
    error = json.loads(events[-1][1])
    assert (error["status"], error["error"]["type"]) == (502, "reply_cut_off")
    assert error["conversation_id"]


def _wait_for_reply(
    http: httpx.Client, conversation_id: str, timeout: float = 15
) -> dict[str, Any]:
    """The assistant message once the server has saved one (the turn ends on its own thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = conversation_json(http, conversation_id)["messages"]
        if messages and messages[-1]["role"] == "assistant":
            return messages[-1]  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"no reply saved in {conversation_id}")


SLOW_WORDS = [f"w{i} " for i in range(80)]


def test_a_client_leaving_mid_stream_keeps_the_partial_reply_marked(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    fake.queue(Reply(chunks=SLOW_WORDS, delay=0.05))
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        with http.stream("POST", "/chat", json={"user_input": "long", "stream": True}) as r:
            lines = r.iter_lines()
            received = [line for line, _ in zip(lines, range(6), strict=False)]
        # Leaving the block closed the connection after two deltas.
        assert sum(line.startswith("event: delta") for line in received) == 2
        reply = _wait_for_reply(http, started)
    assert reply["status"] == "interrupted"
    assert 2 <= len(text_of(reply["content"]).split()) < len(SLOW_WORDS)
    assert "".join(SLOW_WORDS).startswith(text_of(reply["content"]))
    assert "unexpected error" not in server.log()  # a client leaving is no defect of ours


def test_a_client_leaving_a_json_chat_keeps_the_partial_reply_marked(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    # Held after three words until the client has gone: a slow start cannot outlast it.
    release = threading.Event()
    fake.queue(Reply(chunks=SLOW_WORDS, delay=0.05, held_after=3, release=release))
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        try:
            with pytest.raises(httpx.ReadTimeout):
                http.post("/chat", json={"user_input": "long"}, timeout=2.5)
        finally:
            release.set()
        reply = _wait_for_reply(http, started)
    assert reply["status"] == "interrupted"
    assert 0 < len(text_of(reply["content"]).split()) < len(SLOW_WORDS)
    time.sleep(0.5)  # the turn's end reaches the handler after the reply is saved
    assert "unexpected error" not in server.log()


def test_a_stream_left_before_its_first_text_stops_the_turn(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """A client gone while Claude is still silent (thinking, or slow to start): the stream
    was watched only from its first text, so the turn ran on for as long as Claude took and
    saved a whole reply nobody would read."""
    fake.queue(Reply("late words", stall_after=0, stall_seconds=20))
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        with pytest.raises(httpx.ReadTimeout):
            http.post("/chat", json={"user_input": "slow", "stream": True}, timeout=0.8)
        # Its 200 went when Claude's reply began; the access log says the client left.
        answered = re.compile(rf'"POST /chat" 499 .* conversation={started}')
        deadline = time.monotonic() + 8
        while not answered.search(server.log()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert answered.search(server.log()), server.log()[-2000:]
        kept = conversation_json(http, started)["messages"]
    assert [(m["role"], m["status"]) for m in kept] == [("user", "pending")]


def test_a_conversation_deleted_during_its_turn_stays_deleted(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """DELETE answered 200, then the turn's save wrote the conversation back, whole."""
    release = threading.Event()  # the reply ends only once the DELETE is answered
    fake.queue(Reply(chunks=SLOW_WORDS[:20], delay=0.02, held_after=2, release=release))
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        with http.stream("POST", "/chat", json={"user_input": "long", "stream": True}) as r:
            lines = r.iter_lines()
            next(line for line in lines if line.startswith("event: delta"))
            try:
                deleted = http.delete(f"/conversations/{started}")
            finally:
                release.set()
            events = sse_events(lines)
        assert deleted.status_code == 200, deleted.text
        assert events[-1][0] == "error"
        assert json.loads(events[-1][1])["status"] == 404
        time.sleep(0.3)  # the turn's end reaches the handler after its save was refused
        after = http.get("/get_conversation", params={"conversation_id": started})
        listed = http.get("/conversations", params={"limit": 100}).json()["conversations"]
    assert after.status_code == 404
    assert started not in {c["conversation_id"] for c in listed}


def test_two_turns_at_once_on_one_conversation_keep_both(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """Two requests on one conversation in one worker: the slow one loaded the conversation
    before the fast one saved, and saves last. It must merge the fast one's turn, not write
    over it (the worker knew the fast one's version; the slow one did not start from it)."""
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        http.post("/chat", json={"user_input": "opening"})
        release = threading.Event()  # the slow reply ends once the fast turn is answered
        slow_reply = Reply(chunks=SLOW_WORDS[:20], delay=0.02, held_after=2, release=release)
        fake.queue(slow_reply, Reply(text="fast reply"))
        with ThreadPoolExecutor(1) as pool:
            body = {"user_input": "slow", "conversation_id": started}
            slow = pool.submit(http.post, "/chat", json=body)
            deadline = time.monotonic() + 20
            while len(fake.requests) < 2:  # the slow request has loaded, and reached Claude
                assert time.monotonic() < deadline, "the slow request never reached Claude"
                time.sleep(0.01)
            try:
                fast = http.post("/chat", json={"user_input": "fast", "conversation_id": started})
            finally:
                release.set()
            assert fast.status_code == 200
            assert not slow.done()  # else the slow one saved first: nothing was tested
            assert slow.result().status_code == 200
        saved = http.get("/get_conversation", params={"conversation_id": started}).json()
    texts = sorted(text_of(m["content"]) for m in saved["messages"])
    assert texts == sorted(
        ["opening", "echo: opening", "slow", "".join(SLOW_WORDS[:20]), "fast", "fast reply"]
    )
