"""JSON answers: the one response class, a turn's reply or failure, and a turn cut short by
shutdown."""

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from claudechat.conversation import dumps_json
from claudechat.errors import Stopped
from claudechat.server.errors import describe, error_body, log
from claudechat.server.service import reply_json
from claudechat.server.turns import Failed, Finished, Outcome, Turn

# How long a turn stopped at shutdown may take to save what arrived before the answer goes.
SAVING_AT_SHUTDOWN_SECONDS = 5.0


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        # Stored text may hold lone surrogates (valid JSON, no UTF-8): escape rather than fail.
        # Ended by a newline, as the seed's Flask answers were: after curl, the shell's prompt
        # was glued to the closing brace.
        return dumps_json(content).encode("utf-8") + b"\n"


def reply_body(request: Request, turn: Turn, outcome: Finished) -> dict[str, Any]:
    """The saved reply, as the JSON answer and the stream's last event carry it."""
    request.state.conversation_id = outcome.session.conversation.id
    if outcome.session.saved_in == "memory":
        log.error("a turn is not saved: %s", outcome.session.unsaved_because)
        turn.notices.lines.append(
            "this turn is not saved: the conversation store is unavailable and the server's "
            "local journal cannot be written"
        )
    notices = {"notices": turn.notices.lines} if turn.notices.lines else {}
    return {**reply_json(outcome.session, outcome.message), **notices}


def failure(request: Request, outcome: Failed) -> Json:
    name_conversation(request, outcome.error)
    status, kind, message, headers = describe(outcome.error)
    extra: dict[str, Any] = {}
    if outcome.session is not None and outcome.kept:
        # The user's message is saved: say where, so the client can retry there. One refused
        # before it was added (too large) named the conversation only when it held others.
        extra["conversation_id"] = request.state.conversation_id = outcome.session.conversation.id
    return Json(error_body(kind, message, **extra), status, headers)


def name_conversation(request: Request, error: BaseException) -> None:
    """For the access log: a conversation that could not be read (corrupt, or its document
    missing) is still the one named, by the full id its load resolved."""
    conversation_id = getattr(error, "conversation_id", None)
    if conversation_id is not None:
        request.state.conversation_id = conversation_id


async def shutting_down(request: Request, turn: Turn) -> Json:
    """The answer to a turn whose handler shutdown cancelled (the grace period ran out): the
    turn is stopped, and answered as it ended, which may be whole (it had just finished) or
    with what arrived saved, marked interrupted, as a client that left would have it."""
    resume_after_cancel()
    turn.stop()
    try:
        outcome: Outcome | None = await asyncio.wait_for(turn.outcome(), SAVING_AT_SHUTDOWN_SECONDS)
    except TimeoutError:
        outcome = None
    if isinstance(outcome, Finished):
        return Json(reply_body(request, turn, outcome))
    if isinstance(outcome, Failed) and not isinstance(outcome.error, Stopped):
        return failure(request, outcome)
    return Json(shutdown_error(request, turn), 503, {"Retry-After": "5"})


def shutdown_error(request: Request, turn: Turn) -> dict[str, Any]:
    extra: dict[str, Any] = {"status": 503}
    session = turn.session
    if session is not None and session.conversation.messages:
        extra["conversation_id"] = request.state.conversation_id = session.conversation.id
    if session is not None and session.unanswered is not None:
        # Stopped before any text (a retry's wait, a long think): no reply was saved.
        kept = "your message is saved, with no reply yet"
    else:
        kept = "what arrived of the reply is saved, marked interrupted"
    return error_body("shutting_down", f"the server is shutting down; {kept}", **extra)


def resume_after_cancel() -> None:
    """Called where a cancelled task goes on on purpose (to answer): it says so, so that a
    timeout awaited from there on is told apart from that cancellation."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
