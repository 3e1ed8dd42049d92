"""Claude's API refused or silent, over `claudechat serve`: the caller's 502 or 504 says so
without the API's address (the operator's ANTHROPIC_BASE_URL, any token holder read it), and
the server's log names it. A terminal still names it: test_setup_errors.py (refused),
test_stream_faults.py (silent) and test_claude_connect_timeout.py (no connection at all)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import API_KEY
from serve_harness import Serve, clean_env
from servers import Blackhole, free_port

IDLE_TIMEOUT = 1  # seconds a silent API is waited for


def _serve(address: str) -> Serve:
    env = clean_env(
        ANTHROPIC_API_KEY=API_KEY,
        ANTHROPIC_BASE_URL=address,
        CLAUDECHAT_STREAM_IDLE_TIMEOUT=str(IDLE_TIMEOUT),
    )
    return Serve(env, "--no-auth")


@pytest.fixture
def refusing() -> str:
    """The address of a closed port: every connection refused."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def silent() -> Iterator[str]:
    """The address of a server that takes each connection and never answers."""
    with Blackhole() as hole:
        yield f"http://127.0.0.1:{hole.port}"


def _asked(server: Serve) -> tuple[int, dict[str, Any]]:
    """A turn asked as events: failed before Claude's reply began, it is a JSON answer."""
    with server.client() as http:
        answer = http.post("/chat", json={"user_input": "anyone there?", "stream": True})
    assert answer.headers["content-type"] == "application/json"
    return answer.status_code, answer.json()


def test_a_refused_api_is_a_bad_gateway_that_keeps_its_address_in_the_log(
    refusing: str,
) -> None:
    with _serve(refusing) as server:
        status, body = _asked(server)
        log = server.log()
    assert (status, body["error"]["type"]) == (502, "upstream_error")
    message = body["error"]["message"]
    assert message.startswith("cannot reach the Anthropic API ("), message
    assert "127.0.0.1" not in message and "ANTHROPIC_BASE_URL" not in message
    # The same line in the log, as the failed turn's own (not only its retries'), with where.
    named = f"the Anthropic API at {refusing}, set by ANTHROPIC_BASE_URL"
    assert f"claudechat.serve: {message.replace('the Anthropic API', named)}\n" in log, log


def test_a_silent_api_is_a_gateway_timeout_that_keeps_its_address_in_the_log(
    silent: str,
) -> None:
    with _serve(silent) as server:
        status, body = _asked(server)
        log = server.log()
    assert (status, body["error"]["type"]) == (504, "upstream_timeout")
    assert body["error"]["message"] == (
        f"the Anthropic API did not answer within {IDLE_TIMEOUT} s "
        "(the stream_idle_timeout setting)"
    )
    assert (
        f"claudechat.serve: the Anthropic API at {silent}, set by ANTHROPIC_BASE_URL, did not "
        f"answer within {IDLE_TIMEOUT} s (the stream_idle_timeout setting)\n"
    ) in log, log
