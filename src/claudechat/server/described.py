"""What the OpenAPI description says of the answers besides a route's own 200: the one error
shape every failure has, each status with what it means, and /chat's event stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.security import HTTPBearer
from pydantic import BaseModel


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


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": MEANINGS[status]} for status in statuses}


def chat_answers() -> dict[int | str, dict[str, Any]]:
    events = {
        "description": 'With `stream`: `delta` events ({"text"}), then one `message` (the '
        "saved reply, as the JSON answer has it) or one `error` (an error body with its "
        "status, and a 429's `retry_after` in seconds); a `: thinking` comment line when Claude "
        "starts thinking, again every 10 s while it thinks (`: waiting` for another silence)",
        "schema": {"type": "string"},
    }
    return {
        200: {
            "description": "The saved reply, or its events",
            "content": {"text/event-stream": events},
        },
        **errors(*BODY_CHECKS, 401, 404, 429, 500, 502, 503, 504),
    }


def bearer_scheme(no_auth: bool) -> Callable[..., Any]:
    """The dependency that declares the Bearer scheme on every route that needs a caller (the
    token itself is checked by middleware.Authenticate). Under --no-auth it declares nothing:
    the description said every route needed a token, and /docs showed an Authorize button
    that meant nothing."""
    if no_auth:
        return _no_credentials
    return HTTPBearer(auto_error=False, description="A token from `claudechat token create`")


async def _no_credentials() -> None:
    return None
