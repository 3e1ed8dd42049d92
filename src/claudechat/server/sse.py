"""/chat as server-sent events: `delta` events with the text, then one `message` (the saved
reply, as the JSON answer has it) or one `error`.

The status line waits for the first event, so a turn that fails before any text (a bad id,
Claude refusing) still answers with a real HTTP status. A client that disconnects stops the
turn, which keeps the partial reply. A server whose grace period runs out at shutdown stops it
too, and still ends the stream with an `error` event saying so: the response is sent here
rather than by Starlette's StreamingResponse, which streams in a task group that shutdown
cancels whole, cutting the stream with no last event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request, Response
from starlette.types import Receive, Scope, Send

from claudechat.server.errors import describe, error_body
from claudechat.server.responses import (
    SAVING_AT_SHUTDOWN_SECONDS,
    carry_on,
    failure,
    shutdown_error,
)
from claudechat.server.service import reply_json
from claudechat.server.turns import Failed, Finished, Item, Turn

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(name: str, data: dict[str, Any]) -> str:
    # ensure_ascii: lone surrogates from a reply become escapes instead of breaking UTF-8.
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def stream_turn(request: Request, turn: Turn) -> Response:
    first = await turn.queue.get()
    if isinstance(first, Failed):
        return failure(request, first)
    return EventStream(_events(request, turn, first), turn)


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(self, events: AsyncIterator[str], turn: Turn) -> None:
        # As StreamingResponse does: no body, so no Content-Length among the headers.
        self.status_code, self.background = 200, None
        self.init_headers(HEADERS)
        self.events, self.turn = events, turn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.ensure_future(self._stop_when_gone(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for text in self.events:
                await send({"type": "http.response.body", "body": text.encode(), "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            if not self.turn.done.is_set():
                self.turn.stop()

    async def _stop_when_gone(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.turn.stop()  # the turn ends at its next delta, and so do the events


async def _events(request: Request, turn: Turn, item: Item) -> AsyncIterator[str]:
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
        try:
            item = await turn.queue.get()
        except asyncio.CancelledError:  # shutdown's grace period ran out
            carry_on()
            turn.stop()
            # The text that arrived until the turn stopped, all of it saved: the client gets
            # it too, then the error saying the reply ends there.
            async for text in _rest_of_text(turn):
                yield event("delta", {"text": text})
            yield event("error", shutdown_error(request, turn))
            return


async def _rest_of_text(turn: Turn) -> AsyncIterator[str]:
    """The text deltas still queued or arriving until the stopped turn ends (within a bound)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SAVING_AT_SHUTDOWN_SECONDS
    while True:
        try:
            item = await asyncio.wait_for(turn.queue.get(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            return
        if not isinstance(item, str):
            return
        yield item


def _error_event(request: Request, failed: Failed) -> str:
    status, kind, message, _headers = describe(failed.error)
    extra: dict[str, Any] = {"status": status}
    if failed.session is not None:
        extra["conversation_id"] = request.state.conversation_id = failed.session.conversation.id
    return event("error", error_body(kind, message, **extra))
