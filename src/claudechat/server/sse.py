"""/chat as server-sent events: `delta` events with the text, then one `message` (the saved
reply, as the JSON answer has it) or one `error`; a `: thinking` comment when Claude starts
thinking, said again (or `: waiting`) while the stream stays silent.

The status line waits until Claude's reply has begun, so a turn refused before then (a bad id,
Claude rate-limiting or refusing the request) still answers with a real HTTP status. It used to
wait for the first text, and a long think left the client with no status line at all, past a
proxy's read timeout. A client that disconnects stops the turn, which keeps the partial reply.
A server whose grace period runs out at shutdown stops it too, and still ends the stream with
an `error` event saying so: the response is sent here rather than by Starlette's
StreamingResponse, which streams in a task group that shutdown cancels whole, cutting the
stream with no last event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request, Response
from starlette.types import Receive, Scope, Send

from claudechat.errors import Stopped
from claudechat.server.errors import describe, error_body
from claudechat.server.responses import (
    SAVING_AT_SHUTDOWN_SECONDS,
    failure,
    reply_body,
    resume_after_cancel,
    shutdown_error,
    shutting_down,
)
from claudechat.server.turns import Failed, Finished, Item, Outcome, Progress, Turn

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
THINKING = ": thinking\n\n"  # a comment: clients skip it; a proxy sees the stream is alive
WAITING = ": waiting\n\n"  # the same, when nothing is known to be happening (no thinking)
# A stream silent this long says again that it is alive. It said `: thinking` once, at the
# think's start: a think longer than a proxy's idle timeout (often 30 or 60 s) was still cut.
ALIVE_EVERY_SECONDS = 10.0


def event(name: str, data: dict[str, Any]) -> str:
    # ensure_ascii: lone surrogates from a reply become escapes instead of breaking UTF-8.
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def stream_turn(request: Request, turn: Turn) -> Response:
    # Watched from the start: a client that leaves while Claude is still silent (thinking,
    # or slow to begin) stops the turn as one leaving mid-stream does.
    watcher = asyncio.ensure_future(turn.stop_when_gone(request.receive))
    try:
        first = await turn.queue.get()
    except asyncio.CancelledError:  # shutdown, before Claude's reply began (a retry's wait)
        watcher.cancel()
        return await shutting_down(request, turn)
    if isinstance(first, Failed):
        watcher.cancel()
        return failure(request, first)
    return EventStream(_events(request, turn, first), turn, watcher)


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(
        self, events: AsyncIterator[str], turn: Turn, watcher: asyncio.Future[None]
    ) -> None:
        # As StreamingResponse does: no body, so no Content-Length among the headers.
        self.status_code, self.background = 200, None
        self.init_headers(HEADERS)
        self.events, self.turn, self.watcher = events, turn, watcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for text in self.events:
                await send({"type": "http.response.body", "body": text.encode(), "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except asyncio.CancelledError:
            # Shutdown while a slow client held up a write: the turn saves what arrived; this
            # client, not reading, gets no last event.
            resume_after_cancel()
        finally:
            self.watcher.cancel()
            if self.turn.client_left:
                # Logged as a JSON answer's client leaving is (499): the 200 went out when
                # Claude's reply began, and the log said 200 of a reply nobody read whole.
                scope.setdefault("state", {})["client_left"] = True
            if not self.turn.done.is_set():
                self.turn.stop()
            self.turn.answered.set()


async def _events(request: Request, turn: Turn, item: Item) -> AsyncIterator[str]:
    thinking = False  # since the last text: what a silence is said to be
    while not isinstance(item, Finished | Failed):
        if line := _before_the_end(item):
            yield line
        thinking = _still_thinking(thinking, item)
        try:
            while (following := await _next_item(turn)) is None:
                yield THINKING if thinking else WAITING
            item = following
        except asyncio.CancelledError:  # shutdown's grace period ran out
            resume_after_cancel()
            turn.stop()
            # The rest of the text, all of it saved: the client gets it too, then how it ended.
            ending: Outcome | None = None
            async for rest in _until_stopped(turn):
                if isinstance(rest, Finished | Failed):
                    ending = rest
                elif line := _before_the_end(rest):
                    yield line
            yield _last_event(request, turn, ending)
            return
    yield _last_event(request, turn, item)


async def _next_item(turn: Turn) -> Item | None:
    """The turn's next item; None after ALIVE_EVERY_SECONDS without one. Timed here on the
    loop, not by the turn's thread at each thinking delta, which would wake the loop per delta;
    text already queued is taken without a timer."""
    if not turn.queue.empty():
        return turn.queue.get_nowait()
    try:
        async with asyncio.timeout(ALIVE_EVERY_SECONDS):
            return await turn.queue.get()
    except TimeoutError:
        return None


def _still_thinking(thinking: bool, item: str | Progress) -> bool:
    """Whether a silence after `item` is Claude thinking. A retry's wait is not: the attempt
    that thought broke off, and the stream said `: thinking` while nothing was asked."""
    if item is Progress.THINKING:
        return True
    return thinking and item is Progress.OPENED


def _before_the_end(item: str | Progress) -> str:
    """What the client reads of a text delta or of progress; the reply having begun shows as
    the status line and headers alone."""
    if isinstance(item, str):
        return event("delta", {"text": item})
    return THINKING if item is Progress.THINKING else ""


def _last_event(request: Request, turn: Turn, outcome: Outcome | None) -> str:
    if isinstance(outcome, Finished):
        return event("message", reply_body(request, turn, outcome))
    if isinstance(outcome, Failed) and not isinstance(outcome.error, Stopped):
        return _error_event(request, outcome)
    # Stopped: by shutdown, said so here; or because the client left, and nobody reads it.
    return event("error", shutdown_error(request, turn))


async def _until_stopped(turn: Turn) -> AsyncIterator[Item]:
    """What the stopped turn still queues: text, then its outcome (unless it takes too long)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SAVING_AT_SHUTDOWN_SECONDS
    while True:
        try:
            item = await asyncio.wait_for(turn.queue.get(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            return
        yield item
        if isinstance(item, Finished | Failed):
            return


def _error_event(request: Request, failed: Failed) -> str:
    status, kind, message, headers = describe(failed.error)
    extra: dict[str, Any] = {"status": status}
    if "Retry-After" in headers:
        # The JSON answer's header, which a stream's status line went out too early to carry:
        # a 429 here told a client nothing of how long to wait.
        extra["retry_after"] = _seconds(headers["Retry-After"])
    if failed.session is not None:
        extra["conversation_id"] = request.state.conversation_id = failed.session.conversation.id
    return event("error", error_body(kind, message, **extra))


def _seconds(retry_after: str) -> int | str:
    """Retry-After as a number where it is one (as Claude sends it); an HTTP date as it came."""
    return int(retry_after) if retry_after.isdigit() else retry_after
