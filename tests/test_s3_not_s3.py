"""An S3 endpoint that answers, but not as S3 does (a plain web server: 501 or 404 with an
HTML page to every request), is a configuration to fix, not an outage to wait for: a piped
chat said "pushed when the store is back" and exited 0, and every later command said the store
was down. A real S3's own failures (503 SlowDown, 500 InternalError, with its XML error body)
stay outages."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

import pytest

from conftest import conversation_id

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>"
)
INTERNAL_ERROR = SLOW_DOWN.replace(b"SlowDown", b"InternalError").replace(
    b"Please reduce your request rate.", b"We encountered an internal error."
)
WEB_PAGE = b"<html><body><h1>Nothing here</h1></body></html>"


class Answering(http.server.ThreadingHTTPServer):
    """A server on 127.0.0.1 that gives every request the one answer it was made with."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        self.answer = status, body, content_type
        super().__init__(("127.0.0.1", 0), _SameAnswer)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _SameAnswer(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        assert isinstance(self.server, Answering)
        status, body, content_type = self.server.answer
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def answering(status: int, body: bytes, content_type: str) -> Iterator[Answering]:
    server = Answering(status, body, content_type)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture(params=[501, 404])
def web_server(request: pytest.FixtureRequest) -> Iterator[Answering]:
    with answering(request.param, WEB_PAGE, "text/html") as server:
        yield server


def test_an_endpoint_that_is_no_s3_is_refused_and_the_turn_kept(  # type: ignore[no-untyped-def]
    cli, team, fake_api, web_server: Answering
) -> None:
    status = web_server.answer[0]
    env = {"AWS_ENDPOINT_URL_S3": web_server.url}
    result = cli("chat", input="hello", env=env)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "echo: hello\n"
    assert "the store refused the configuration" in result.stderr
    phrase = http.HTTPStatus(status).phrase
    assert f"S3 endpoint {web_server.url} answered {status} {phrase}" in result.stderr
    assert "pushed once that is fixed" in result.stderr
    assert "when the store is back" not in result.stderr and "Traceback" not in result.stderr

    later = cli("list", env=env)  # the database answers; pushing the turn is refused again
    assert later.returncode == 0, later.stderr
    assert f"S3 endpoint {web_server.url} answered {status}" in later.stderr
    assert "fix AWS_ENDPOINT_URL_S3" in later.stderr

    synced = cli("sync")  # back on the real S3
    assert synced.returncode == 0 and "pushed 1 conversation" in synced.stderr
    assert "echo: hello" in cli("show", conversation_id(result.stderr)).stdout


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (503, SLOW_DOWN, "application/xml"),
        (500, INTERNAL_ERROR, "application/xml"),
        # A gateway in front of the store says so, in a page of its own, while it restarts.
        (502, WEB_PAGE, "text/html"),
        (504, WEB_PAGE, "text/html"),
    ],
    ids=["SlowDown", "InternalError", "gateway-502", "gateway-504"],
)
def test_a_real_s3_failing_is_still_an_outage(  # type: ignore[no-untyped-def]
    cli, team, fake_api, status: int, body: bytes, kind: str
) -> None:
    with answering(status, body, kind) as server:
        result = cli("chat", input="hello", env={"AWS_ENDPOINT_URL_S3": server.url})
        assert result.returncode == 0, result.stderr
        assert result.stdout == "echo: hello\n"
        assert "when the store is back" in result.stderr
        assert "refused the configuration" not in result.stderr
