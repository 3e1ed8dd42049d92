"""Plain ASGI middleware: the caller's token, then body limits and content types, before any
handler; and access logs.

The token comes first: a caller without a valid one learns nothing else (not the body limit,
not what a body must look like), and its body is not even read. The body is then read here in
full (at most the configured limit) so that an oversized or wrongly typed request is refused
before a handler could save anything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from claudechat.server.errors import error_body

Scope = dict[str, Any]
Message = dict[str, Any]

access_log = logging.getLogger("claudechat.access")


async def send_json(
    send: Any,
    status: int,
    body: dict[str, Any],
    close: bool = False,
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(body).encode() + b"\n"  # as every JSON answer (responses.Json)
    sent = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    sent += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    if close:  # the rest of the request may still come: not on this connection
        sent.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": sent})
    await send({"type": "http.response.body", "body": data})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


NOT_UTF8 = "the body is not valid JSON (not UTF-8)"


def _is_utf8(body: bytes) -> bool:
    """Whether the handlers' JSON parser reads the body as UTF-8, as the API's JSON must be
    (RFC 8259 8.1). json.loads guesses UTF-16 and UTF-32 from the first bytes, so such a body
    was accepted (and saved), where any other that is not UTF-8 was refused. A UTF-8 byte order
    mark is let through: RFC 8259 lets a parser ignore it, json.loads does, and Windows tools
    write one unasked. A charset parameter of the Content-Type changes nothing: application/json
    has none (RFC 8259 11), and the body is read as UTF-8 whatever it says."""
    if json.detect_encoding(body) not in ("utf-8", "utf-8-sig"):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Authenticate:
    """The token's user, found once (awaited: the lookup is a database call) and left in
    the request's state, where the handlers and the access log read it."""

    def __init__(
        self, app: Any, user_for: Callable[[str], Awaitable[str | None]], public: set[str]
    ) -> None:
        self.app = app
        self.user_for = user_for
        # The paths answered without a token (health, the API's description and docs). Every
        # other path needs one, an unknown route too: it answered 404 without a token, though
        # README promises 401 whatever else is wrong with the request.
        self.public = public

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or _route_path(scope) in self.public:
            await self.app(scope, receive, send)
            return
        scheme, _, token = _header(scope, b"authorization").partition(" ")
        user = None
        if scheme.lower() == "bearer" and token.strip():
            from claudechat.server.errors import describe

            try:
                user = await self.user_for(token.strip())
            except Exception as exc:  # the database down: 503, as for any store call
                # (describe logs a defect's traceback and answers 500 internal_error, in JSON
                # as the app's own handler does)
                status, kind, message, headers = describe(exc)
                await send_json(send, status, error_body(kind, message), headers=headers)
                return
        if user is None:
            body = error_body("unauthorized", "a valid bearer token is required")
            await send_json(send, 401, body, headers={"WWW-Authenticate": "Bearer"})
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the app routes on: behind a prefix a proxy strips (uvicorn --root-path), the
    request's path starts with it, and the check let /api/conversations through unchecked."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


class _ClientLeft(Exception):
    pass


class RequestGuard:
    def __init__(self, app: Any, max_body_bytes: int, body_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.body_seconds):  # no task of its own, unlike wait_for
                body = await self._read(scope, receive)
        except _ClientLeft:  # nobody to answer; the access log says 499
            scope.setdefault("state", {})["client_left"] = True
            return
        except TimeoutError:
            message = f"the body did not arrive within {self.body_seconds:g} s"
            await send_json(send, 408, error_body("request_timeout", message), close=True)
            return
        if body is None:
            limit = f"{self.max_body_bytes} bytes"
            await send_json(send, 413, error_body("too_large", f"the body is over {limit}"))
            return
        if body and not _is_json(_header(scope, b"content-type")):
            message = "send the body as JSON, with Content-Type: application/json"
            await send_json(send, 415, error_body("unsupported_media_type", message))
            return
        if body and not _is_utf8(body):
            await send_json(send, 400, error_body("malformed_json", NOT_UTF8))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return dict(await receive())  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Any) -> bytes | None:
        """The body, or None when it is over the limit. A client that leaves before it has all
        come raises _ClientLeft: what had arrived was taken for the whole body, and an empty one
        made /new_chat save a conversation for a client that was gone."""
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect
                raise _ClientLeft
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


class AccessLog:
    """One line per request: who, which conversation, status, time. Never message text, never
    the query string or headers (a token could be pasted anywhere).

    `local_user` is the user every request acts as under --no-auth: set here, before anything
    can refuse the request, it named nobody (user=-) for a body that did not parse, since the
    dependency that set it never ran. The `public` paths (health, the docs) act as nobody and
    say user=-, as they do with tokens: /health named the local user under --no-auth."""

    def __init__(self, app: Any, public: set[str], local_user: str | None = None) -> None:
        self.app = app
        self.public = public
        self.local_user = local_user

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        if self.local_user is not None and _route_path(scope) not in self.public:
            state["user"] = self.local_user
        status = 0

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            # a stream whose client left after its status went, or a body cut short
            if state.get("client_left"):
                status = 499
            client = scope.get("client") or ("-", 0)
            access_log.info(
                '%s "%s %s" %s %.1fms user=%s conversation=%s',
                client[0],
                scope["method"],
                _printable(scope["path"]),
                status or "-",
                (time.perf_counter() - started) * 1000,
                state.get("user", "-"),
                state.get("conversation_id", "-"),
            )


def _printable(path: str, limit: int = 200) -> str:
    """A path as one log line: a client must not be able to forge lines with a newline."""
    return "".join(ch if ch.isprintable() and ch != '"' else "?" for ch in path[:limit])
