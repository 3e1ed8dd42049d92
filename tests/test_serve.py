"""`claudechat serve` over real HTTP: the seed's curl commands, SSE, bad input, Claude's errors.

One server per storage configuration (embedded, team) answers every test of this module; it
runs with --no-auth on loopback as the local user "tester", as the seed's curl commands need.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import API_KEY
from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply
from serve_harness import Serve, clean_env, sse_events, team_env, text_of

# As the issue (and the seed's README) wrote them; only host and port are substituted.
SEED_CURL = [
    """curl -X POST -H "Content-Type: application/json" -d '{"user_input": "Hello", "conversation_name": "My Chat"}' http://localhost:5000/chat""",  # noqa: E501
    """curl -X POST http://localhost:5000/new_chat -H "Content-Type: application/json" -d '{}'""",
    """curl -X POST "http://localhost:5000/get_conversation?conversation_id=44f5ef67-6118-4e92-8472-3d05f34b9455\"""",
]
MAX_BODY = 4096
BODY_SECONDS = 2
IDLE_TIMEOUT = 2  # seconds of silence before a stream counts as stalled


@pytest.fixture(scope="module", params=["embedded", "team"])
def server(request: pytest.FixtureRequest, fake_server: FakeAnthropic) -> Iterator[Serve]:
    env = clean_env(
        ANTHROPIC_API_KEY=API_KEY,
        ANTHROPIC_BASE_URL=fake_server.base_url,
        CLAUDECHAT_STREAM_IDLE_TIMEOUT=str(IDLE_TIMEOUT),
    )
    if request.param == "team":
        env.update(team_env(request.getfixturevalue("postgres"), request.getfixturevalue("s3")))
    limits = ("--max-body-bytes", str(MAX_BODY), "--body-seconds", str(BODY_SECONDS))
    with Serve(env, "--no-auth", *limits) as serve:
        yield serve


@pytest.fixture
def fake(fake_server: FakeAnthropic) -> FakeAnthropic:
    fake_server.reset()
    return fake_server


def curl(server: Serve, command: str, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    """Run a command line through bash with the real curl; a .curlrc adds -s and the status."""
    (tmp_path / ".curlrc").write_text('silent\nwrite-out = "\\n%{http_code}"\n')
    command = command.replace("localhost:5000", f"localhost:{server.port}")
    env = {**server.env, "CURL_HOME": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_the_seed_curl_commands_work_as_written(
    server: Serve, fake: FakeAnthropic, tmp_path: Path
) -> None:
    status, chat = curl(server, SEED_CURL[0], tmp_path)
    assert status == 200
    assert chat["reply"] == "echo: Hello"
    assert (chat["status"], chat["stop_reason"]) == ("complete", "end_turn")
    assert chat["usage"]["output_tokens"] > 0
    assert chat["model"] == "claude-sonnet-4-6"  # list price 3 / 15 USD per million tokens
    usage = chat["usage"]
    billed = 3 * usage["input_tokens"] + 15 * usage["output_tokens"]
    billed += 3.75 * usage["cache_creation_tokens"] + 0.3 * usage["cache_read_tokens"]
    assert chat["cost_usd"] == pytest.approx(billed / 1e6, abs=1e-6)

    status, new = curl(server, SEED_CURL[1], tmp_path)
    assert status == 200 and new["conversation_id"] != chat["conversation_id"]

    status, missing = curl(server, SEED_CURL[2], tmp_path)
    assert status == 404 and missing["error"]["type"] == "not_found"
    ours = SEED_CURL[2].replace("44f5ef67-6118-4e92-8472-3d05f34b9455", chat["conversation_id"])
    status, document = curl(server, ours, tmp_path)
    assert status == 200
    assert document["name"] == "My Chat"
    assert [(m["role"], text_of(m["content"])) for m in document["messages"]] == [
        ("user", "Hello"),
        ("assistant", "echo: Hello"),
    ]
    # The same conversation, read in a terminal by `claudechat show`.
    shown = server.cli("show", chat["conversation_id"][:8])
    assert shown.returncode == 0 and "echo: Hello" in shown.stdout


def test_a_bare_chat_continues_the_conversation_new_chat_started(
    server: Serve, fake: FakeAnthropic
) -> None:
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        empty = http.get("/get_conversation", params={"conversation_id": started})
        assert empty.status_code == 200 and empty.json()["messages"] == []
        first = http.post("/chat", json={"user_input": "one"}).json()
        second = http.post("/chat", json={"user_input": "two"}).json()
        assert first["conversation_id"] == second["conversation_id"] == started
        explicit = http.post("/chat", json={"user_input": "three", "conversation_id": started[:8]})
        assert explicit.json()["conversation_id"] == started
    sent = [text_of(m["content"]) for m in fake.requests[-1].body["messages"]]
    assert sent == ["one", "echo: one", "two", "echo: two", "three"]


def test_an_id_new_chat_gave_stays_usable_after_the_next_new_chat(
    server: Serve, fake: FakeAnthropic
) -> None:
    """A bot holding a conversation per person starts each with /new_chat: the earlier ids
    answered 404 once a later /new_chat had replaced the caller's current conversation."""
    with server.client() as http:
        first = http.post("/new_chat", json={}).json()["conversation_id"]
        second = http.post("/new_chat", json={}).json()["conversation_id"]
        empty = http.get("/get_conversation", params={"conversation_id": first})
        assert empty.status_code == 200 and empty.json()["messages"] == []
        answer = http.post("/chat", json={"user_input": "to the first", "conversation_id": first})
        assert answer.status_code == 200 and answer.json()["conversation_id"] == first
        bare = http.post("/chat", json={"user_input": "to the current one"}).json()
        listed = http.get("/conversations", params={"limit": 100}).json()["conversations"]
        stored = _document(http, first)
    assert bare["conversation_id"] == second
    assert {first, second} <= {c["conversation_id"] for c in listed}
    assert [text_of(m["content"]) for m in stored["messages"]] == [
        "to the first",
        "echo: to the first",
    ]


@pytest.mark.parametrize("how", ["flag", "accept"])
def test_chat_streams_server_sent_events(server: Serve, fake: FakeAnthropic, how: str) -> None:
    fake.queue(Reply(chunks=["Hel", "lo ", "there"]))
    body = {"user_input": "hi", "stream": True} if how == "flag" else {"user_input": "hi"}
    headers = {"Accept": "text/event-stream"} if how == "accept" else {}
    with server.client() as http, http.stream("POST", "/chat", json=body, headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.iter_lines())
    names = [name for name, _ in events]
    assert names == ["delta", "delta", "delta", "message"]
    assert [json.loads(data)["text"] for _, data in events[:3]] == ["Hel", "lo ", "there"]
    final = json.loads(events[-1][1])
    assert (final["reply"], final["status"]) == ("Hello there", "complete")
    with server.client() as http:
        saved = http.get("/get_conversation", params={"conversation_id": final["conversation_id"]})
    assert text_of(saved.json()["messages"][-1]["content"]) == "Hello there"


def test_bad_input_gets_json_errors_and_saves_nothing(server: Serve, fake: FakeAnthropic) -> None:
    json_type = {"Content-Type": "application/json"}
    with server.client() as http:
        before = http.get("/conversations").json()["conversations"]
        cases = [
            (http.post("/chat", content=b'{"user_input": ', headers=json_type), 400),
            (http.post("/chat", json={}), 422),
            (http.post("/chat", json={"user_input": "   "}), 422),
            (http.post("/chat", json=["user_input"]), 422),
            (http.post("/chat", json={"user_input": "x" * MAX_BODY}), 413),
            (http.post("/chat", content=b"hi", headers={"Content-Type": "text/plain"}), 415),
            (http.post("/chat", data={"user_input": "hi"}), 415),
            (http.post("/chat", json={"user_input": "hi", "conversation_name": "a\nb"}), 400),
            (http.post("/chat", json={"user_input": "hi", "model": "no such model"}), 400),
            (http.post("/chat", json={"user_input": "hi", "conversation_id": "../../etc"}), 404),
            (http.post("/chat", json={"user_input": "hi", "conversation_id": "ffffffff"}), 404),
            (http.get("/get_conversation", params={"conversation_id": "not-an-id!"}), 404),
            (http.get("/get_conversation"), 422),
            (http.get("/conversations", params={"limit": 0}), 422),
            (http.get("/no/such/route"), 404),
            (http.delete("/chat"), 405),
        ]
        for response, status in cases:
            assert response.status_code == status, (response.request, response.text)
            error = response.json()["error"]
            assert error["type"] and error["message"]
        after = http.get("/conversations").json()["conversations"]
    assert after == before
    assert fake.requests == []  # nothing reached Claude either


def test_unknown_malformed_and_missing_ids_answer_alike(server: Serve, fake: FakeAnthropic) -> None:
    with server.client() as http:
        answers = [
            http.get("/get_conversation", params={"conversation_id": ref})
            for ref in ("44f5ef67-6118-4e92-8472-3d05f34b9455", "zz", "'; DROP TABLE x")
        ]
    assert {a.status_code for a in answers} == {404}
    assert {a.json()["error"]["type"] for a in answers} == {"not_found"}


def test_conversations_are_listed_newest_first_in_pages(server: Serve, fake: FakeAnthropic) -> None:
    with server.client() as http:
        made = []
        for word in ("alpha", "beta", "gamma"):
            http.post("/new_chat", json={})
            made.append(http.post("/chat", json={"user_input": word}).json()["conversation_id"])
        first = http.get("/conversations", params={"limit": 2}).json()
        second = http.get("/conversations", params={"limit": 2, "offset": 2}).json()
    assert [c["conversation_id"] for c in first["conversations"]] == made[::-1][:2]
    assert first["next_offset"] == 2
    assert second["conversations"][0]["conversation_id"] == made[0]
    assert second["conversations"][0]["preview"] == "alpha"


def test_health_and_the_openapi_description(server: Serve) -> None:
    with server.client() as http:
        health = http.get("/health")
        described = http.get("/openapi.json").json()
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "blob_store": "ok"}
    assert {"/chat", "/new_chat", "/get_conversation", "/conversations", "/health"} <= set(
        described["paths"]
    )
    assert set(described["paths"]["/get_conversation"]) == {"get", "post"}
    # Errors as they are sent: the error body, each status with its meaning; and the events.
    chat = described["paths"]["/chat"]["post"]["responses"]
    for status in ("400", "401", "404", "413", "415", "422", "429", "502", "503", "504"):
        schema = chat[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}, status
    assert "text/event-stream" in chat["200"]["content"]
    assert "HTTPValidationError" not in json.dumps(described["paths"])
    # --no-auth: no Bearer scheme, so /docs has no Authorize button that would mean nothing.
    assert "securitySchemes" not in described.get("components", {})
    assert '"security"' not in json.dumps(described["paths"])


def test_claude_rate_limits_pass_on_with_retry_after(server: Serve, fake: FakeAnthropic) -> None:
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
        kept = _document(http, answer.json()["conversation_id"])
    assert [(m["role"], text_of(m["content"]), m["status"]) for m in kept["messages"]] == [
        ("user", "are you there", "pending")
    ]


def test_a_client_leaving_during_a_rate_limit_wait_stops_the_turn(
    server: Serve, fake: FakeAnthropic
) -> None:
    """The SDK's own retries slept through retry-after deaf to a stop: the turn asked Claude
    again after its client had gone (and shutdown waited for it, past the grace period)."""
    limited = ErrorReply(429, "rate_limit_error", headers={"retry-after": "6"})
    fake.queue(limited, limited, Reply("too late"))
    gone = '"POST /chat" 499'
    before = server.log().count(gone)
    with server.client() as http:
        http.post("/new_chat", json={})
        asked = len(fake.requests)
        with pytest.raises(httpx.ReadTimeout):
            http.post("/chat", json={"user_input": "anyone?"}, timeout=1)
    deadline = time.monotonic() + 4
    while server.log().count(gone) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.log().count(gone) == before + 1
    time.sleep(6)  # past the retry-after
    assert len(fake.requests) == asked + 1
    fake.reset()


def test_a_failed_or_cut_off_reply_is_a_bad_gateway_keeping_the_message(
    server: Serve, fake: FakeAnthropic
) -> None:
    failing = ErrorReply(500, "api_error", "upstream broke")
    fake.queue(failing, failing, failing, Reply("one two three four", cut_after=2))
    with server.client() as http:
        http.post("/new_chat", json={})
        failed = http.post("/chat", json={"user_input": "first"})
        cut = http.post("/chat", json={"user_input": "second"})
        assert (failed.status_code, failed.json()["error"]["type"]) == (502, "upstream_error")
        assert (cut.status_code, cut.json()["error"]["type"]) == (502, "reply_cut_off")
        kept = _document(http, cut.json()["conversation_id"])
    assert [(m["role"], text_of(m["content"]), m["status"]) for m in kept["messages"]] == [
        ("user", "first", "pending"),
        ("user", "second", "complete"),
        ("assistant", "one two ", "incomplete"),
    ]


def test_a_model_claude_does_not_know_is_the_callers_error(
    server: Serve, fake: FakeAnthropic
) -> None:
    """A 502 said Claude failed, which invites the same request again."""
    with server.client() as http:
        http.post("/new_chat", json={})
        first = http.post("/chat", json={"user_input": "hello"}).json()
        fake.queue(ErrorReply(404, "not_found_error", "model: gpt-4"))
        refused = http.post("/chat", json={"user_input": "hi", "model": "gpt-4"})
        kept = _document(http, first["conversation_id"])
    assert (refused.status_code, refused.json()["error"]["type"]) == (400, "unknown_model")
    assert "gpt-4" in refused.json()["error"]["message"]
    assert refused.json()["conversation_id"] == first["conversation_id"]
    # Not kept on the conversation: later requests without "model" would fail alike; the
    # operator reads so in the log, as the session says it in a terminal.
    assert kept["model"] == first["model"]
    assert f"the conversation goes back to {first['model']}" in server.log()


def test_an_address_with_no_messages_api_is_a_bad_gateway_not_an_unknown_model(
    server: Serve, fake: FakeAnthropic
) -> None:
    """A 404 that names no model (a proxy's path, a wrong base URL) is not the caller's."""
    fake.queue(ErrorReply(404, "not_found_error", "Not found: /v1/messages"))
    with server.client() as http:
        refused = http.post("/chat", json={"user_input": "hi"})
    assert (refused.status_code, refused.json()["error"]["type"]) == (502, "upstream_error")
    assert "check ANTHROPIC_BASE_URL" in refused.json()["error"]["message"]


def test_a_stalled_reply_is_a_gateway_timeout_keeping_what_arrived(
    server: Serve, fake: FakeAnthropic
) -> None:
    fake.queue(Reply("one two three four", stall_after=2, stall_seconds=IDLE_TIMEOUT + 1))
    with server.client() as http:
        http.post("/new_chat", json={})
        stalled = http.post("/chat", json={"user_input": "hello?"})
        assert (stalled.status_code, stalled.json()["error"]["type"]) == (504, "upstream_timeout")
        kept = _document(http, stalled.json()["conversation_id"])
    assert [(m["role"], text_of(m["content"]), m["status"]) for m in kept["messages"]] == [
        ("user", "hello?", "complete"),
        ("assistant", "one two ", "incomplete"),
    ]


def test_an_error_mid_stream_ends_the_events_with_an_error(
    server: Serve, fake: FakeAnthropic
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


def _document(http: httpx.Client, conversation_id: str) -> dict[str, Any]:
    answer = http.get("/get_conversation", params={"conversation_id": conversation_id})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _wait_for_reply(
    http: httpx.Client, conversation_id: str, timeout: float = 15
) -> dict[str, Any]:
    """The assistant message once the server has saved one (the turn ends on its own thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = _document(http, conversation_id)["messages"]
        if messages and messages[-1]["role"] == "assistant":
            return messages[-1]  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"no reply saved in {conversation_id}")


SLOW_WORDS = [f"w{i} " for i in range(80)]


def test_a_client_leaving_mid_stream_keeps_the_partial_reply_marked(
    server: Serve, fake: FakeAnthropic
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
    server: Serve, fake: FakeAnthropic
) -> None:
    fake.queue(Reply(chunks=SLOW_WORDS, delay=0.05))
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        with pytest.raises(httpx.ReadTimeout):
            http.post("/chat", json={"user_input": "long"}, timeout=0.8)
        reply = _wait_for_reply(http, started)
    assert reply["status"] == "interrupted"
    assert 0 < len(text_of(reply["content"]).split()) < len(SLOW_WORDS)
    time.sleep(0.5)  # the turn's end reaches the handler after the reply is saved
    assert "unexpected error" not in server.log()


def test_a_stream_left_before_its_first_text_stops_the_turn(
    server: Serve, fake: FakeAnthropic
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
        kept = _document(http, started)["messages"]
    assert [(m["role"], m["status"]) for m in kept] == [("user", "pending")]


def test_a_conversation_deleted_during_its_turn_stays_deleted(
    server: Serve, fake: FakeAnthropic
) -> None:
    """DELETE answered 200, then the turn's save wrote the conversation back, whole."""
    fake.queue(Reply(chunks=SLOW_WORDS[:20], delay=0.05))
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        with http.stream("POST", "/chat", json={"user_input": "long", "stream": True}) as r:
            lines = r.iter_lines()
            next(line for line in lines if line.startswith("event: delta"))
            deleted = http.delete(f"/conversations/{started}")
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
    server: Serve, fake: FakeAnthropic
) -> None:
    """Two requests on one conversation in one worker: the slow one loaded the conversation
    before the fast one saved, and saves last. It must merge the fast one's turn, not write
    over it (the worker knew the fast one's version; the slow one did not start from it)."""
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        http.post("/chat", json={"user_input": "opening"})
        fake.queue(Reply(chunks=SLOW_WORDS[:20], delay=0.1), Reply(text="fast reply"))
        with ThreadPoolExecutor(1) as pool:
            body = {"user_input": "slow", "conversation_id": started}
            slow = pool.submit(http.post, "/chat", json=body)
            deadline = time.monotonic() + 20
            while len(fake.requests) < 2:  # the slow request has loaded, and reached Claude
                assert time.monotonic() < deadline, "the slow request never reached Claude"
                time.sleep(0.01)
            fast = http.post("/chat", json={"user_input": "fast", "conversation_id": started})
            assert fast.status_code == 200
            assert not slow.done()  # else the slow one saved first: nothing was tested
            assert slow.result().status_code == 200
        saved = http.get("/get_conversation", params={"conversation_id": started}).json()
    texts = sorted(text_of(m["content"]) for m in saved["messages"])
    assert texts == sorted(
        ["opening", "echo: opening", "slow", "".join(SLOW_WORDS[:20]), "fast", "fast reply"]
    )
