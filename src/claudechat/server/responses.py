"""JSON answers: the one response class, and a failed turn as an HTTP error."""

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from claudechat.conversation import dumps_json
from claudechat.server.errors import describe, error_body
from claudechat.server.turns import Failed


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        # Stored text may hold lone surrogates (valid JSON, no UTF-8): escape rather than fail.
        return dumps_json(content).encode("utf-8")


def failure(request: Request, outcome: Failed) -> Json:
    status, kind, message, headers = describe(outcome.error)
    extra: dict[str, Any] = {}
    if outcome.session is not None and outcome.session.conversation.messages:
        # The user's message is saved: say where, so the client can retry there.
        extra["conversation_id"] = request.state.conversation_id = outcome.session.conversation.id
    return Json(error_body(kind, message, **extra), status, headers)
