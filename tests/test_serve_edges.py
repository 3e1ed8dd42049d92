"""`claudechat serve` at its edges: text no database column takes, bodies and headers that are
odd rather than wrong, what a client is not told. The servers are test_serve.py's (one per
storage configuration, --no-auth on loopback)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from claudechat.jsontext import replace_lone_surrogates
from claudechat.server import ServeOptions, is_loopback
from claudechat.server.app import wants_events
from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic, Reply
from serve_harness import Serve, clean_env, listed, text_of
from test_serve import BODY_SECONDS, MAX_BODY, fake, server  # noqa: F401  (the fixtures)

JSON_TYPE = {"Content-Type": "application/json"}


@pytest.mark.parametrize("odd", ["\ud800", "\x00"], ids=["lone surrogate", "NUL"])
def test_text_no_database_column_takes_is_kept_and_the_conversation_goes_on(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    odd: str,
) -> None:
    """SQLite takes no lone surrogate, PostgreSQL no NUL: either, in a message or a reply,
    used to fail the save and every later turn of the conversation."""
    said = f"hi {odd} there"
    with server.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        first = http.post("/chat", content=json.dumps({"user_input": said}), headers=JSON_TYPE)
        assert first.status_code == 200, first.text
        fake.queue(Reply(f"odd {odd} reply"))
        second = http.post("/chat", json={"user_input": "and then"})
        assert second.status_code == 200, second.text
        third = http.post("/chat", json={"user_input": "again"})
        assert third.status_code == 200, third.text
        document = http.get("/get_conversation", params={"conversation_id": started}).json()
    texts = [text_of(m["content"]) for m in document["messages"]]
    echo = f"echo: {replace_lone_surrogates(said)}"  # sent to Claude as U+FFFD
    assert texts == [said, echo, "and then", f"odd {odd} reply", "again", "echo: again"]
    assert {m["status"] for m in document["messages"]} == {"complete"}
    server.settled()  # the last turn's push is after its answer: `synced` waits for it
    listed = server.cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["id"] == started)
    assert row["title"] == "hi \ufffd there" and row["synced"]
    found = server.cli("search", "--json", "there")
    assert found.returncode == 0, found.stderr
    assert started in found.stdout


def test_odd_bodies_get_json_errors_and_save_nothing(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    def chunked(total: int) -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"user_input": "'
        for _ in range(total // 1024):
            yield b"x" * 1024
        yield b'"}'

    with server.client() as http:
        before = listed(http)
        cases = [
            (http.post("/chat", content=b'{"user_input": "\xff\xfe"}', headers=JSON_TYPE), 400),
            (http.post("/chat", content=b"[" * (MAX_BODY - 1), headers=JSON_TYPE), 400),
            (http.post("/chat", json={"user_input": "hi", "conversationId": "x"}), 422),
            (http.post("/chat", content=chunked(2 * MAX_BODY), headers=JSON_TYPE), 413),
            (http.get("/conversations", params={"offset": 10**20}), 422),
        ]
        for response, status in cases:
            assert response.status_code == status, (response.request, response.text)
            assert response.headers["content-type"] == "application/json"
            kinds = {400: "malformed_json", 413: "too_large", 422: "invalid_request"}
            assert response.json()["error"]["type"] == kinds[status]
        after = listed(http)
    assert after == before
    assert fake.requests == []


def test_head_answers_where_get_does(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    with server.client() as http:
        made = http.post("/chat", json={"user_input": "hi"}).json()["conversation_id"]
        for path, params in (
            ("/health", {}),
            ("/conversations", {}),
            ("/get_conversation", {"conversation_id": made}),
        ):
            got, head = http.get(path, params=params), http.head(path, params=params)
            assert (head.status_code, head.content) == (200, b""), path
            assert head.headers["content-type"] == got.headers["content-type"]


@pytest.mark.parametrize(
    ("accept", "events"),
    [
        ("text/event-stream", True),
        ("application/json, text/event-stream", True),
        ("text/event-stream;q=0.5, application/json", False),
        ("application/json, text/event-stream;q=0", False),
        ("application/json", False),
        ("*/*", False),
        ("text/event-stream;q=nonsense", False),
    ],
)
def test_the_accept_header_is_weighed_not_searched(accept: str, events: bool) -> None:
    assert wants_events(accept) is events


def test_a_refused_stream_answers_json(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    headers = {"Accept": "application/json, text/event-stream;q=0"}
    with server.client() as http:
        answer = http.post("/chat", json={"user_input": "hi"}, headers=headers)
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["reply"] == "echo: hi"


def test_an_explicit_stream_false_wins_over_an_accept_header(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """HTTP libraries send Accept headers the script's writer never chose: with
    "stream": false in the body the reply still came as server-sent events."""
    headers = {"Accept": "text/event-stream"}
    with server.client() as http:
        answer = http.post("/chat", json={"user_input": "hi", "stream": False}, headers=headers)
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["reply"] == "echo: hi"


def test_a_deletion_does_not_say_where_the_document_was(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    with server.client() as http:
        made = http.post("/chat", json={"user_input": "soon gone"}).json()["conversation_id"]
        deleted = http.delete(f"/conversations/{made}").json()
    assert deleted["deleted"] == made
    assert "document" in deleted["summary"]
    assert "file:" not in deleted["summary"] and "s3:" not in deleted["summary"]


def test_the_current_conversation_deleted_from_the_cli_is_gone_for_serve_too(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """It stayed serve's current conversation: a turn naming it (or none) was answered 200 and
    thrown away (its save refused: deleted), and /get_conversation showed it empty."""
    with server.client() as http:
        made = http.post("/chat", json={"user_input": "soon gone"}).json()["conversation_id"]
        assert server.cli("delete", "--yes", made).returncode == 0
        asked = len(fake.requests)
        named = http.post("/chat", json={"user_input": "still there?", "conversation_id": made})
        read = http.get("/get_conversation", params={"conversation_id": made})
        assert (named.status_code, read.status_code) == (404, 404), (named.text, read.text)
        assert len(fake.requests) == asked  # Claude was not asked
        bare = http.post("/chat", json={"user_input": "a new one"}).json()
    assert bare["conversation_id"] != made


def test_a_host_in_brackets_is_the_address_inside() -> None:
    options = ServeOptions(host="[::1]", no_auth=True)
    assert options.host == "::1" and is_loopback(options.host)
    options.check()


def test_a_body_that_trickles_in_is_refused_in_time(server: Serve) -> None:  # noqa: F811
    """A client that sends its headers and part of its body, then nothing, held a connection
    (and a worker's buffer) for as long as it liked."""
    import socket
    import time

    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(
            b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"user_input": '
        )
        started = time.monotonic()
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        waited = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert json.loads(body)["error"]["type"] == "request_timeout"
    assert BODY_SECONDS - 0.5 < waited < BODY_SECONDS + 10


def test_post_get_conversation_takes_the_id_in_the_query_or_the_body(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    with server.client() as http:
        http.post("/new_chat", json={})
        made = http.post("/chat", json={"user_input": "find me"}).json()["conversation_id"]
        by_query = http.post("/get_conversation", params={"conversation_id": made[:8]})
        by_body = http.post("/get_conversation", json={"conversation_id": made[:8]})
        empty_body = http.post("/get_conversation", params={"conversation_id": made[:8]}, json={})
        refused = [
            http.post("/get_conversation", json={}),
            http.post("/get_conversation"),
            http.post(
                "/get_conversation", params={"conversation_id": made}, json={"conversation_id": "f"}
            ),
        ]
    for answer in (by_query, by_body, empty_body):
        assert (answer.status_code, answer.json()["id"]) == (200, made), answer.text
    assert [(a.status_code, a.json()["error"]["type"]) for a in refused] == [
        (400, "invalid_request")
    ] * 3


def test_chat_takes_the_conversation_id_in_the_query_string_too(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """As /get_conversation does; it was ignored, and the turn went to the current one."""
    with server.client() as http:
        http.post("/new_chat", json={})
        first = http.post("/chat", json={"user_input": "one"}).json()["conversation_id"]
        http.post("/new_chat", json={})  # the current conversation is another one now
        by_query = http.post(
            "/chat", params={"conversation_id": first[:8]}, json={"user_input": "two"}
        )
        differing = http.post(
            "/chat",
            params={"conversation_id": first},
            json={"user_input": "x", "conversation_id": "f"},
        )
    assert by_query.status_code == 200 and by_query.json()["conversation_id"] == first
    assert differing.status_code == 400 and differing.json()["error"]["type"] == "invalid_request"


def test_an_empty_conversation_id_is_an_id_not_found(server: Serve, fake: FakeAnthropic) -> None:  # noqa: F811
    """Taken for none, an empty id (a script's empty variable) sent the turn to the current
    conversation."""
    with server.client() as http:
        current = http.post("/new_chat", json={}).json()["conversation_id"]
        for body, query in (({"conversation_id": ""}, {}), ({}, {"conversation_id": ""})):
            answer = http.post("/chat", json={"user_input": "lost?", **body}, params=query)
            assert answer.status_code == 404, answer.text
        document = http.get("/get_conversation", params={"conversation_id": current}).json()
    assert document["messages"] == []


def test_new_chat_starts_the_conversation_as_asked_and_refuses_what_it_does_not_know(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """Every field was taken and dropped: a name, model or system prompt given here was lost."""
    wanted = {"conversation_name": "Project X", "model": "claude-opus-4-5", "system": "be terse"}
    with server.client() as http:
        started = http.post("/new_chat", json=wanted)
        assert started.status_code == 200, started.text
        conversation_id = started.json()["conversation_id"]
        document = http.get("/get_conversation", params={"conversation_id": conversation_id})
        unknown = http.post("/new_chat", json={"conversation_title": "typo"})
        bare = http.post("/new_chat")  # no body at all
        bad_model = http.post("/new_chat", json={"model": "claude opus"})
    assert (document.json()["name"], document.json()["model"]) == ("Project X", "claude-opus-4-5")
    assert document.json()["system"] == "be terse"
    assert unknown.status_code == 422 and unknown.json()["error"]["type"] == "invalid_request"
    assert bare.status_code == 200, bare.text
    assert bad_model.status_code in (400, 422), bad_model.text


def test_a_trailing_slash_or_a_stream_flag_in_words_gets_a_json_error(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """/chat/ answered an empty 307 (curl follows it as a GET: 405); "stream": "yes" was
    taken for true."""
    with server.client() as http:
        slashed = http.post("/chat/", json={"user_input": "hi"})
        worded = http.post("/chat", json={"user_input": "hi", "stream": "yes"})
    assert slashed.status_code == 404 and slashed.json()["error"]["type"] == "not_found"
    assert worded.status_code == 422, worded.text


def test_a_message_too_large_names_every_way_to_raise_the_budget_and_no_conversation(
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """serve has no --max-context-tokens, yet its callers were told to raise it; and a refused
    message (never saved) named its conversation only when that held earlier messages."""
    env = clean_env(
        ANTHROPIC_API_KEY=API_KEY,
        ANTHROPIC_BASE_URL=fake.base_url,
        CLAUDECHAT_MAX_CONTEXT_TOKENS="1000",
    )
    over_budget = {"user_input": "word " * 2000}
    beyond_window = {"user_input": "a" * 700_000}  # over claude-haiku-4-5's 200,000 tokens
    with Serve(env, "--no-auth") as serve, serve.client() as http:
        started = http.post("/new_chat", json={"model": "claude-haiku-4-5"}).json()
        assert http.post("/chat", json={"user_input": "hi"}).status_code == 200
        refused = [http.post("/chat", json=body) for body in (over_budget, beyond_window)]
        http.post("/new_chat", json={"model": "claude-haiku-4-5"})
        refused += [http.post("/chat", json=body) for body in (over_budget, beyond_window)]
        document = http.get("/get_conversation", params=started).json()
    assert [answer.status_code for answer in refused] == [400] * 4
    assert [("conversation_id" in answer.json()) for answer in refused] == [False] * 4
    said = refused[0].json()["error"]["message"]
    assert "raise max_context_tokens (--max-context-tokens, CLAUDECHAT_MAX_CONTEXT_TOKENS" in said
    assert "whole context window of 200,000 tokens" in refused[1].json()["error"]["message"]
    assert [text_of(m["content"]) for m in document["messages"]] == ["hi", "echo: hi"]


def test_serve_help_names_every_route(cli) -> None:  # type: ignore[no-untyped-def]
    """It named four: DELETE /conversations/{id}, /health and /openapi.json were left out."""
    shown = cli("serve", "--help")
    assert shown.returncode == 0, shown.stderr
    said = " ".join(shown.stdout.split())
    for route in (
        "POST /chat",
        "POST /new_chat",
        "GET|POST /get_conversation",
        "GET /conversations",
        "DELETE /conversations/{id}",
        "GET /health",
        "GET /openapi.json",
    ):
        assert route in said, route


def test_serve_without_its_extras_says_how_to_install_them_from_a_checkout_too(  # type: ignore[no-untyped-def]
    cli, fake_api, tmp_path
) -> None:
    """It said only `pip install 'claudechat[serve]'`, which installed from a checkout
    (`pip install .`) is not the command."""
    missing = tmp_path / "uvicorn"
    missing.mkdir()
    (missing / "__init__.py").write_text("raise ImportError('no uvicorn here')\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    refused = cli("serve", "--no-auth", env={"PYTHONPATH": path})
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == (
        "claudechat: serve needs its extras: pip install 'claudechat[serve]' "
        "(from a checkout: pip install '.[serve]')"
    ), refused.stderr
