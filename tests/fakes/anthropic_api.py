"""A scriptable fake of the Anthropic Messages API and the Bedrock runtime, over real HTTP.

The program under test runs as a subprocess, so the fake must be a real server on
127.0.0.1 that speaks the same wire formats as the services: SSE for the Messages API,
AWS event-stream frames for Bedrock (bedrock_runtime.py).  Only the standard library is used.
What a test queues and what the fake received: replies.py; how a reply streams:
reply_stream.py.

    with FakeAnthropic() as fake:
        fake.queue(Reply("Hi!"), ErrorReply(429, "rate_limit_error"))
        env = {"ANTHROPIC_BASE_URL": fake.base_url, "ANTHROPIC_API_KEY": fake.api_key}
        ...
        assert fake.requests[0].body["messages"][-1]["role"] == "user"
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fakes.bedrock_runtime import BedrockRuntime
from fakes.content_blocks import (
    cache_key,
    citations_for,
    received,
)
from fakes.models_catalogue import default_models, page, refused_parameter
from fakes.replies import (
    LOGIN_PAGE,
    ErrorReply,
    ReceivedRequest,
    Rejected,
    Reply,
    estimate_input_tokens,
    new_request_id,
    text_of,
    validate_messages,
)
from fakes.reply_stream import ReplyStream, Sink

__all__ = ["ErrorReply", "FakeAnthropic", "ReceivedRequest", "Reply"]


class _Handler(BedrockRuntime, ReplyStream, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK pools connections
    # Each event goes out as it is written, as from the real API: with Nagle's algorithm a
    # burst of small writes (the events after the last delta) waited for the client's delayed
    # ACK, up to 40 ms, which the timings of bench_serve counted as the client's.
    disable_nagle_algorithm = True
    server: _Server
    _request_id: str

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._request_id = new_request_id()
        url = urlsplit(self.path)
        if url.path == "/v1/models":
            fake = self.server.fake
            with fake._lock:
                fake.model_requests.append(url.query)
                models = list(fake.models)
                refused = fake.models_refused
                silent = fake.models_silent_seconds
                answer = fake.models_answer
            time.sleep(silent)  # a Models API slow to answer
            if answer is not None:
                self._reply_raw(*answer)
                return
            if refused:  # as for a key not allowed to list models (and not retried by the SDK)
                message = "this API key may not list models"
                self._reply_json(403, self._anthropic_error("permission_error", message))
                return
            self._reply_json(200, page(models, parse_qs(url.query)))
            return
        self._reply_json(404, self._anthropic_error("not_found_error", "Not found"))

    def do_POST(self) -> None:
        # One handler serves every request on a keep-alive connection, so ids are per call.
        self._request_id = new_request_id()
        try:
            self._dispatch()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            # The client went away mid-response; that is a test scenario, not a fault.
            self.close_connection = True

    def _dispatch(self) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        bedrock = re.fullmatch(r"/model/([^/]+)/(invoke|invoke-with-response-stream)", path)
        recorded = body if isinstance(body, dict) else {}
        if bedrock:
            # Bedrock carries the model in the path; tests read it from the body as usual.
            recorded = {**recorded, "model": unquote(bedrock.group(1))}
        fake._record(ReceivedRequest(path, headers, recorded, raw=raw))

        if bedrock:
            self._bedrock(headers, body, recorded, stream=bedrock.group(2) != "invoke")
        elif path in ("/v1/messages", "/v1/messages/count_tokens"):
            self._messages(path, headers, body)
        else:
            self._reply_json(404, self._anthropic_error("not_found_error", f"Not found: {path}"))

    # --- Messages API -------------------------------------------------------------

    def _messages(self, path: str, headers: dict[str, str], body: Any) -> None:
        fake = self.server.fake
        try:
            bearer = headers.get("authorization", "").removeprefix("Bearer ")
            if fake.api_key not in (headers.get("x-api-key"), bearer):
                raise Rejected(401, "authentication_error", "invalid x-api-key")
            if "anthropic-version" not in headers:
                raise Rejected(
                    400, "invalid_request_error", "anthropic-version: header is required"
                )
            if not isinstance(body, dict):
                raise Rejected(400, "invalid_request_error", "The request body is not valid JSON.")
            if not body.get("model"):
                raise Rejected(400, "invalid_request_error", "model: Field required")
            if path.endswith("/count_tokens"):
                self._reply_json(200, {"input_tokens": estimate_input_tokens(body)})
                return
            validate_messages(body)
            model = next((m for m in fake.models if m["id"] == body["model"]), None)
            refused = refused_parameter(model, body)
            if refused is not None:
                raise Rejected(400, "invalid_request_error", refused)
        except Rejected as e:
            self._reply_json(e.status, self._anthropic_error(e.error_type, e.message))
            return

        reply = fake._next_reply(body)
        if isinstance(reply, ErrorReply):
            error = self._anthropic_error(reply.error_type, reply.message)
            self._reply_json(reply.status, error, reply.headers)
        elif reply.html_page:
            self._reply_raw("text/html; charset=utf-8", LOGIN_PAGE)
        elif body.get("stream") and not reply.not_streamed:
            self._stream(reply, body, bedrock=False)
        else:
            self._reply_json(200, self._whole_message(reply, body, "msg_"))

    def _sse(self, sink: Sink, event: dict[str, Any]) -> None:
        sink.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())

    def _anthropic_error(self, error_type: str, message: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": self._request_id,
        }

    # --- shared -------------------------------------------------------------------

    def _message(self, reply: Reply, body: dict[str, Any], id_prefix: str) -> dict[str, Any]:
        return {
            "id": id_prefix + uuid.uuid4().hex[:24],
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": reply.content(),
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": self._usage(reply, body, reply.out_tokens()),
        }

    def _whole_message(self, reply: Reply, body: dict[str, Any], id_prefix: str) -> dict[str, Any]:
        """A reply asked for whole (not streamed): it comes when its stream would have ended,
        the model taking as long to write it."""
        if reply.delay:
            time.sleep(reply.delay * (len(reply.deltas()) + len(reply.thinking_deltas())))
        return self._message(reply, body, id_prefix)

    def _usage(self, reply: Reply, body: dict[str, Any], output_tokens: int) -> dict[str, int]:
        input_tokens = reply.input_tokens
        if input_tokens is None:
            input_tokens = estimate_input_tokens(body)
        return {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": reply.cache_creation_input_tokens,
            "cache_read_input_tokens": reply.cache_read_input_tokens,
        }

    def _common_headers(self) -> None:
        self.send_header("request-id", self._request_id)
        self.send_header("x-amzn-requestid", self._request_id)

    def _reply_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self._common_headers()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _reply_raw(self, content_type: str, data: bytes) -> None:
        """A 200 that is not the API's: a proxy's or a captive portal's page, say."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a slow stream to finish
    request_queue_size = 128

    def __init__(self, fake: FakeAnthropic) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping connections is routine here; anything else still surfaces.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FakeAnthropic:
    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.requests: list[ReceivedRequest] = []
        # GET /v1/models: the catalogue it pages through, and the query of each call.
        self.models: list[dict[str, Any]] = default_models()
        self.model_requests: list[str] = []
        self.models_refused = False  # GET /v1/models answers 403
        self.models_silent_seconds = 0.0  # ... and waits this long first
        # GET /v1/models answers 200 with this (content type, body) instead: a proxy's page.
        self.models_answer: tuple[str, bytes] | None = None
        self._replies: deque[Reply | ErrorReply] = deque()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # When on, usage reports cache reads and writes as automatic prompt caching would.
        self.prompt_cache = False
        self._cached: set[str] = set()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def queue(self, *replies: Reply | ErrorReply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self.requests.clear()
            self.models = default_models()
            self.model_requests.clear()
            self.models_refused = False
            self.models_silent_seconds = 0.0
            self.models_answer = None
            self.prompt_cache = False
            self._cached.clear()

    def start(self) -> FakeAnthropic:
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="FakeAnthropic",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Pooled keep-alive connections would otherwise go on being served.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _next_reply(self, body: dict[str, Any]) -> Reply | ErrorReply:
        reply = self._queued_or_echo(body)
        if self.prompt_cache and isinstance(reply, Reply):
            reply = self._cache_figures(reply, body)
        return reply

    def _queued_or_echo(self, body: dict[str, Any]) -> Reply | ErrorReply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        user = next((m for m in reversed(body["messages"]) if m["role"] == "user"), None)
        content = user["content"] if user else ""
        text = "echo: " + text_of(content) + received(content)
        return Reply(text=text, citations=citations_for(content) or None)

    def _cache_figures(self, reply: Reply, body: dict[str, Any]) -> Reply:
        """The longest prefix an earlier cached request wrote is read; the rest is written."""
        messages = body["messages"]
        cached = any("cache_control" in b for b in messages[-1]["content"] if isinstance(b, dict))
        if not (cached or body.get("cache_control")):
            return reply
        total = estimate_input_tokens(body)
        read = 0
        with self._lock:
            for k in range(len(messages), 0, -1):
                if cache_key(body.get("system"), messages[:k]) in self._cached:
                    read = estimate_input_tokens({**body, "messages": messages[:k]})
                    break
            self._cached.add(cache_key(body.get("system"), messages))
        reply = copy.copy(reply)
        reply.cache_read_input_tokens = read
        reply.cache_creation_input_tokens = max(0, total - read)
        reply.input_tokens = 1
        return reply
