"""/chat as server-sent events: `delta` events with the text, then one `message` (the saved
reply, as the JSON answer has it) or one `error`.

The status line waits for the first event, so a turn that fails before any text (a bad id,
Claude refusing) still answers with a real HTTP status. A client that disconnects cancels the
stream; the turn then stops at its next delta and the session keeps the partial reply.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from claudechat.server.errors import describe, error_body
from claudechat.server.responses import failure
from claudechat.server.service import reply_json
from claudechat.server.turns import Failed, Finished, Item, Turn


def event(name: str, data: dict[str, Any]) -> str:
    # ensure_ascii: lone surrogates from a reply become escapes instead of breaking UTF-8.
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def stream_turn(request: Request, turn: Turn) -> Response:
    first = await turn.queue.get()
    if isinstance(first, Failed):
        return failure(request, first)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _events(request, turn, first), media_type="text/event-stream", headers=headers
    )


async def _events(request: Request, turn: Turn, item: Item) -> AsyncIterator[str]:
    try:
        while True:
            if isinstance(item, str):
                yield event("delta", {"text": item})
            elif isinstance(item, Finished):
                request.state.conversation_id = item.session.conversation.id
                notices = {"notices": turn.notices.lines} if turn.notices.lines else {}
                yield event("message", {**reply_json(item.session, item.message), **notices})
                return
            else:
                yield _error_event(request, item)
                return
            item = await turn.queue.get()
    finally:
        if not turn.done.is_set():
            turn.stop()  # the client left, or the server is shutting down


def _error_event(request: Request, failed: Failed) -> str:
    status, kind, message, _headers = describe(failed.error)
    extra: dict[str, Any] = {"status": status}
    if failed.session is not None:
        extra["conversation_id"] = request.state.conversation_id = failed.session.conversation.id
    return event("error", error_body(kind, message, **extra))
