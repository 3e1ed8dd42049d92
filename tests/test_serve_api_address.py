"""Claude's API refused or silent, over `claudechat serve`: the caller's 502 or 504 says so
without the API's address (the operator's ANTHROPIC_BASE_URL, any token holder read it), and
the server's log names it. A terminal still names it: test_setup_errors.py (refused),
test_stream_faults.py (silent) and test_claude_connect_timeout.py (no connection at all)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    # The reason in the system's words alone: an error's own text may name a host (a TLS
    # certificate's), as "[Errno 111] ..." does not here but may elsewhere.
    assert body["error"]["message"] == "cannot reach the Anthropic API (Connection refused)"
    # The whole line in the log, as the failed turn's own (not only its retries'), with where.
    assert (
        f"claudechat.serve: cannot reach the Anthropic API at {refusing}, set by "
        "ANTHROPIC_BASE_URL ([Errno 111] Connection refused)\n"
    ) in log, log


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


def test_a_login_page_in_place_of_the_stream_is_a_bad_gateway_without_the_address() -> None:
    """A proxy's login page answering for Claude's API: the terminal's line names the server
    (test_stream_faults.py); serve's caller gets what it answered, not where it is."""
    from fakes.anthropic_api import FakeAnthropic, Reply

    with FakeAnthropic(api_key=API_KEY) as fake:
        fake.queue(Reply(html_page=True))
        address = fake.base_url
        with _serve(address) as server:
            with server.client() as http:
                answer = http.post("/chat", json={"user_input": "anyone there?"})
            log = server.log()
    assert (answer.status_code, answer.json()["error"]["type"]) == (502, "upstream_error")
    message = answer.json()["error"]["message"]
    assert message.startswith("Claude's API did not stream the reply (it answered with text/html")
    assert "127.0.0.1" not in message
    assert f"the server at {address} did not stream the reply" in log, log


class _ProxyPage(BaseHTTPRequestHandler):
    """A proxy in front of the API that refuses with a page of its own, naming its hosts."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        page = b"<html><body>403 Forbidden by llm-proxy.internal:8443 (10.1.2.3)</body></html>"
        self.send_response(403)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *_args: object) -> None:
        pass


def test_a_proxys_own_refusal_reaches_the_log_not_the_caller() -> None:
    """The API's own error words go to the caller (test_serve_turn_faults.py); a page that is
    not the API's error may name internal hosts: the caller is told where to look instead."""
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyPage)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        with _serve(f"http://127.0.0.1:{proxy.server_address[1]}") as server:
            with server.client() as http:
                answer = http.post("/chat", json={"user_input": "anyone there?"})
            log = server.log()
    finally:
        proxy.shutdown()
    message = answer.json()["error"]["message"]
    assert answer.status_code == 502, answer.text
    assert "llm-proxy.internal" not in message and "10.1.2.3" not in message
    assert message.endswith("(403): its answer is in the server's log"), message
    assert "403 Forbidden by llm-proxy.internal:8443 (10.1.2.3)" in log, log
