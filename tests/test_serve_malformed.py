"""`claudechat serve` and bodies that are not JSON it can read: one type, malformed_json, and
one wording, whichever way the body is wrong. The parsing does not touch the store, so one
configuration's server (test_serve.py's embedded one) is enough."""

from __future__ import annotations

import socket

import pytest

from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, access_lines, listed
from test_serve import MAX_BODY, fake, server  # noqa: F401  (the fixtures)

JSON_TYPE = {"Content-Type": "application/json"}


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
def test_every_unreadable_body_says_it_is_not_valid_json(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """A body that was not UTF-8 said "There was an error parsing the body" (FastAPI's),
    where truncated JSON said the project's own "the body is not valid JSON"."""
    bodies = {
        "truncated": b'{"user_input": "',
        "not UTF-8": b'{"user_input": "\xff\xfe"}',
        "nested too deep": b"[" * (MAX_BODY - 1),
    }
    with server.client() as http:
        answers = {
            how: http.post("/chat", content=body, headers=JSON_TYPE) for how, body in bodies.items()
        }
    said = {how: (a.status_code, a.json()["error"]["type"]) for how, a in answers.items()}
    assert said == dict.fromkeys(bodies, (400, "malformed_json"))
    messages = {how: a.json()["error"]["message"] for how, a in answers.items()}
    assert messages == {
        "truncated": "the body is not valid JSON",
        "not UTF-8": "the body is not valid JSON (not UTF-8)",
        "nested too deep": "the body is not valid JSON (nested too deep)",
    }
    assert fake.requests == []


CHAT = '{"user_input": "hi"}'


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-32-be"])
@pytest.mark.parametrize("path", ["/chat", "/new_chat"])
def test_a_body_in_utf16_or_utf32_is_not_utf8(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    encoding: str,
    path: str,
) -> None:
    """The API's JSON is UTF-8 (RFC 8259 8.1): a body in UTF-16 or UTF-32, with its byte order
    mark or without, was read all the same (json.loads guesses them) and the turn saved."""
    with server.client() as http:
        before = listed(http)
        answer = http.post(path, content=CHAT.encode(encoding), headers=JSON_TYPE)
        after = listed(http)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == {
        "type": "malformed_json",
        "message": "the body is not valid JSON (not UTF-8)",
    }
    assert fake.requests == []
    assert after == before


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
def test_a_utf8_body_with_a_byte_order_mark_is_read(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """RFC 8259 lets a parser ignore the mark, which Windows tools write unasked; a charset
    parameter, which application/json does not have, changes nothing either."""
    headers = {"Content-Type": "application/json; charset=latin-1"}
    with server.client() as http:
        answer = http.post("/chat", content=CHAT.encode("utf-8-sig"), headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["reply"] == "echo: hi"


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
def test_a_body_cut_short_by_the_client_leaving_is_not_read(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """A client that hangs up before its body has all come (its Content-Length said more) was
    answered by nobody, yet what had arrived was taken for the whole body: an empty one made
    /new_chat save a conversation. It is logged as 499, as any request whose client left."""
    with server.client() as http:
        before = listed(http)
    since = len(server.log())
    head = "POST /new_chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(f"{head}Content-Length: 100\r\n\r\n{{}}".encode())
    lines = access_lines(server, since, r'"POST /new_chat" [^\n]*\n')
    assert len(lines) == 1 and '"POST /new_chat" 499 ' in lines[0], lines
    with server.client() as http:
        assert listed(http) == before
