"""The what-if `whole-replies`: a JSON turn of serve's asks Claude for the whole message
(`"stream": false`), not a stream, so its thread wakes once for the reply, not once per event.

Never a way to run claudechat: the SDK refuses such a request for the max_tokens claudechat
sends (more than 10 minutes' worth of output must stream), a cut-off or stopped reply keeps
nothing of what Claude wrote, and a silent upstream is noticed after 10 minutes, not after
stream_idle_timeout. It measures what the stream's events cost serve's JSON turns. Streams,
retries and thinking's signatures are not its concern: bench_serve.py's replies are text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

_TURN = threading.local()  # .whole: the turn this thread runs answers with JSON
WHOLE_REPLY_TIMEOUT = 600.0  # the SDK's own for a request that does not stream


def patch_turns(module: ModuleType) -> None:
    run = module.Turn._run

    def run_marked(self: Any) -> None:
        _TURN.whole = not self.stream
        try:
            run(self)
        finally:
            _TURN.whole = False

    module.Turn._run = run_marked


def patch_claude(module: ModuleType) -> None:
    stream = module.Claude.stream

    def stream_or_whole(
        self: Any, context: Any, model: str, system: Any, reply: Any, params: Any = None
    ) -> Iterator[Any]:
        if not getattr(_TURN, "whole", False):
            yield from stream(self, context, model, system, reply, params)
            return
        # The request as stream() makes it, caught on its way to the SDK.
        caught: dict[str, Any] = {}

        def catch(request: dict[str, Any]) -> Any:
            caught.update(request)
            raise _Caught

        self._events = catch
        try:
            yield from stream(self, context, model, system, reply, params)
        except _Caught:
            pass
        finally:
            del self._events
        message = _whole(self, caught, reply)
        for event in _as_events(message):
            yield from module.absorb(event, reply)

    module.Claude.stream = stream_or_whole


class _Caught(BaseException):
    """Not an Exception: the adapter's error translation lets it through."""


def _whole(claude: Any, request: dict[str, Any], reply: Any) -> dict[str, Any]:
    from claudechat.claude import _json
    from claudechat.claude_errors import translate_errors

    body = _json({**request, "stream": False})
    guard = translate_errors(claude.settings, request["model"], reply)
    with guard, _posted(claude, body) as answer, claude.stops.streaming(answer.response) as end:
        message: dict[str, Any] = json.loads(answer.response.read())
        end.finished()
    return message


def _posted(claude: Any, body: bytes) -> Any:
    from anthropic import Stream

    return claude.client.post(
        "/v1/messages",
        content=body,
        cast_to=object,
        stream=True,  # not read by the SDK: the response is there to be shut on a stop
        stream_cls=Stream[object],
        options={"timeout": WHOLE_REPLY_TIMEOUT},
    )


def _as_events(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A whole message as the stream's events would have carried it (text blocks only)."""
    usage = message.get("usage")
    yield {"type": "message_start", "message": {"usage": usage}}
    for index, block in enumerate(message.get("content") or []):
        if block.get("type") != "text":
            continue
        yield {"type": "content_block_start", "index": index, "content_block": dict(block)}
        yield {"type": "content_block_stop", "index": index}
    stop_reason = message.get("stop_reason")
    yield {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": usage}
    yield {"type": "message_stop"}
