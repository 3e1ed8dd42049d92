"""`claudechat serve` over real HTTP: the seed's curl commands, SSE, bad input. Claude's errors
and clients leaving: test_serve_turn_faults.py.

One server per storage configuration (embedded, team) answers every test of this module; it
runs with --no-auth on loopback as the local user "tester", as the seed's curl commands need.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic, Reply
from serve_harness import (
    Serve,
    clean_env,
    conversation_json,
    listed,
    sse_events,
    team_env,
    text_of,
)

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
    # Ended by a newline, as the seed's Flask answers were: the shell's prompt was glued to
    # the closing brace.
    assert body.endswith("}\n"), body
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
        stored = conversation_json(http, first)
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
        before = listed(http)
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
        after = listed(http)
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


def test_an_id_too_short_answers_404_saying_why_whether_or_not_one_starts_so(
    server: Serve, fake: FakeAnthropic
) -> None:
    """A prefix of 3 characters of an existing id answered "no conversation '63f'", where the
    CLI says to give at least 4: the reason is the id's own, the same for one that matches
    nothing (or another user's), so it tells nothing of what is stored."""
    with server.client() as http:
        made = http.post("/new_chat", json={}).json()["conversation_id"]
        other = next(p for p in ("abc", "def", "123") if not made.startswith(p))
        answers = {
            reference: [
                http.get("/get_conversation", params={"conversation_id": reference}),
                http.post("/chat", json={"user_input": "hi", "conversation_id": reference}),
                http.delete(f"/conversations/{reference}"),
            ]
            for reference in (made[:3], other)
        }
    for reference, said in answers.items():
        assert [a.status_code for a in said] == [404] * 3, [a.text for a in said]
        assert {a.json()["error"]["message"] for a in said} == {
            f"not a conversation id: '{reference}' "
            "(give the full id or at least 4 of its first characters)"
        }
    assert fake.requests == []
    with server.client() as http:  # it was blamed on its digits: "ids are hexadecimal"
        empty = http.get("/get_conversation", params={"conversation_id": ""})
    assert empty.status_code == 404
    assert empty.json()["error"]["message"] == "not a conversation id: '' (it is empty)"


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
        answer = http.get("/openapi.json")
    # Ended by a newline as every other JSON answer (see curl() above): FastAPI's own route
    # was the one without.
    assert answer.headers["content-type"] == "application/json"
    assert answer.content.endswith(b"}\n"), answer.content[-20:]
    described = json.loads(answer.content)
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "blob_store": "ok"}
    assert {"/chat", "/new_chat", "/get_conversation", "/conversations", "/health"} <= set(
        described["paths"]
    )
    assert set(described["paths"]["/get_conversation"]) == {"get", "post"}
    # A copy that may be behind the store's is marked so: the description said nothing of it.
    assert "stale: true" in described["paths"]["/get_conversation"]["get"]["description"]
    # Errors as they are sent: the error body, each status with its meaning; and the events.
    chat = described["paths"]["/chat"]["post"]["responses"]
    for status in ("400", "404", "413", "415", "422", "429", "502", "503", "504"):
        schema = chat[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}, status
    assert "text/event-stream" in chat["200"]["content"]
    assert "HTTPValidationError" not in json.dumps(described["paths"])
    # --no-auth: no Bearer scheme, so /docs has no Authorize button that would mean nothing.
    assert "securitySchemes" not in described.get("components", {})
    assert '"security"' not in json.dumps(described["paths"])
    # Nor a 401 on any route: no request is refused for its token (see test_serve_auth.py).
    refused = [
        f"{method.upper()} {path}"
        for path, operations in described["paths"].items()
        for method, operation in operations.items()
        if "401" in operation["responses"]
    ]
    assert refused == []
