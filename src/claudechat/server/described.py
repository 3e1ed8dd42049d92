"""What the OpenAPI description says of the answers besides a route's own 200: the one error
shape every failure has, each status with what it means, and /chat's event stream; and the
description itself answered as every JSON answer is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel
from starlette.routing import Route


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail
    # Where the user's message was saved, when a turn failed after saving it.
    conversation_id: str | None = None
    details: list[dict[str, Any]] | None = None  # 422: each field refused, and why
    status: int | None = None  # in a stream's `error` event: the status it would have had
    # In a stream's `error` event of a 429: the Retry-After the JSON answer would have had.
    retry_after: int | str | None = None


MEANINGS = {
    400: "Malformed JSON (or not UTF-8), a bad conversation name or model, a model Claude does "
    "not know (unknown_model; your message is kept)",
    401: "A missing or wrong bearer token",
    404: "No such conversation: unknown, malformed and other users' ids alike",
    408: "The body did not arrive within --body-seconds",
    413: "The body is over --max-body-bytes",
    415: "The body is not JSON",
    422: "A missing or empty field, or a field this route does not know",
    500: "A corrupt conversation document, or a defect of the server (see its log)",
    429: "Claude rate-limited the request; its Retry-After is passed on",
    502: "Claude failed or the reply was cut off; your message is kept",
    503: "The store is unavailable or refuses the configuration, or the server is shutting down",
    504: "Claude did not answer in time; your message is kept",
}
BODY_CHECKS = (400, 408, 413, 415, 422)


class Description:
    """What the description says of a route's errors and token, which depends on --no-auth."""

    def __init__(self, no_auth: bool) -> None:
        self.no_auth = no_auth

    def errors(self, *statuses: int) -> dict[int | str, dict[str, Any]]:
        # Under --no-auth no request is refused for its token: every route listed a 401.
        shown = [status for status in statuses if not (self.no_auth and status == 401)]
        return {status: {"model": ErrorBody, "description": MEANINGS[status]} for status in shown}

    def chat(self) -> dict[int | str, dict[str, Any]]:
        return {200: _reply(), **self.errors(*BODY_CHECKS, 401, 404, 429, 500, 502, 503, 504)}

    def bearer(self) -> Callable[..., Any]:
        """The dependency that declares the Bearer scheme on every route that needs a caller
        (the token itself is checked by middleware.Authenticate). Under --no-auth it declares
        nothing: the description said every route needed a token, and /docs showed an
        Authorize button that meant nothing."""
        if self.no_auth:
            return _no_credentials
        return HTTPBearer(auto_error=False, description="A token from `claudechat token create`")


def _reply() -> dict[str, Any]:
    events = {
        "description": 'With `stream`: `delta` events ({"text"}), then one `message` (the '
        "saved reply, as the JSON answer has it) or one `error` (an error body with its "
        "status, and a 429's `retry_after` in seconds); a `: thinking` comment line when Claude "
        "starts thinking, again every 10 s while it thinks (`: waiting` for another silence)",
        "schema": {"type": "string"},
    }
    content = {"text/event-stream": events}
    return {"description": "The saved reply, or its events", "content": content}


async def _no_credentials() -> None:
    return None


def end_description_with_newline(app: FastAPI) -> None:
    """FastAPI's own /openapi.json route, its answer ended by a newline as every other JSON
    answer is (responses.Json): after curl, the shell's prompt was glued to the closing brace.
    Wrapped rather than rewritten: FastAPI's route also adds the root path uvicorn is given."""
    routes = app.router.routes
    position, own = next(
        (index, route)
        for index, route in enumerate(routes)
        if isinstance(route, Route) and route.path == app.openapi_url
    )

    async def description(request: Request) -> Response:
        answer = await own.endpoint(request)
        return Response(answer.body + b"\n", answer.status_code, media_type=answer.media_type)

    routes[position] = Route(own.path, description, methods=own.methods, include_in_schema=False)
