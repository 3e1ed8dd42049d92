"""The access log under --no-auth names the local user every request acts as, a request
refused before its handler ran too: a body that did not parse was logged as user=-, since the
dependency that sets the user never ran; health and the docs act as nobody (user=-). The server
is test_serve.py's embedded one."""

from __future__ import annotations

import re

import pytest

from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, access_lines
from test_serve import MAX_BODY, fake, server  # noqa: F401  (the fixtures)

JSON_TYPE = {"Content-Type": "application/json"}


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
@pytest.mark.parametrize(
    ("body", "status"),
    [(b'{"user_input": "', 400), (b"x" * (MAX_BODY + 1), 413)],
    ids=["malformed JSON", "too large"],
)
def test_a_refused_body_is_logged_as_the_local_user(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    body: bytes,
    status: int,
) -> None:
    before = len(server.log())
    with server.client() as http:
        answer = http.post("/chat", content=body, headers=JSON_TYPE)
    assert answer.status_code == status, answer.text
    lines = access_lines(server, before, rf'"POST /chat" {status} [^\n]*\n')
    assert len(lines) == 1, server.log()[before:]
    assert " user=tester conversation=-" in lines[0], lines[0]


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
def test_a_public_path_is_logged_as_nobody(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    path: str,
) -> None:
    """Health and the docs act as no user, with a token or without: under --no-auth they
    named the local user, where a server with tokens logs them as user=-."""
    before = len(server.log())
    with server.client() as http:
        answer = http.get(path)
    assert answer.status_code == 200, answer.text
    lines = access_lines(server, before, rf'"GET {re.escape(path)}" 200 [^\n]*\n')
    assert len(lines) == 1, server.log()[before:]
    assert " user=- conversation=-" in lines[0], lines[0]
