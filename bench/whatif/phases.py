"""The what-if that takes nothing out: `phases` times where each /chat's time goes, in serve's
processes, for bench_serve.py to set beside each request's added latency (serve_phases.py).

Each worker appends one JSON line per /chat to CLAUDECHAT_BENCH_PHASES/<pid>.jsonl: the
request's text (the key the fake and the clients time it by) and the monotonic clock (shared
by every process of the machine) at each phase's start and end. Wrapping costs a few
microseconds per phase; read the figures beside a baseline of the same commit.
"""

from __future__ import annotations

import contextvars
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

Phases = dict[str, Any]

# A request's phases: on the event loop, by task; on the turn's thread, by thread.
_ON_LOOP: contextvars.ContextVar[Phases | None] = contextvars.ContextVar("phases", default=None)
_ON_THREAD = threading.local()


def mark(name: str, phases: Phases | None = None) -> None:
    """The time `name` was reached, once per request (the first time)."""
    phases = phases if phases is not None else _current()
    if phases is not None and name not in phases:
        phases[name] = time.perf_counter()


def _current() -> Phases | None:
    on_thread = getattr(_ON_THREAD, "phases", None)
    return on_thread if on_thread is not None else _ON_LOOP.get()


def _between(cls: Any, method: str, before: str, after: str) -> None:
    original = getattr(cls, method)

    def timed(*args: Any, **kwargs: Any) -> Any:
        mark(before)
        try:
            return original(*args, **kwargs)
        finally:
            mark(after)

    setattr(cls, method, timed)


def _middleware(module: ModuleType) -> None:
    """The request's arrival, its answer's last byte handed to uvicorn, and the line written."""
    folder = Path(os.environ["CLAUDECHAT_BENCH_PHASES"])
    out = (folder / f"{os.getpid()}.jsonl").open("a", buffering=1)
    logged = module.AccessLog.__call__

    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        phases: Phases = {}
        mark("in", phases)
        _ON_LOOP.set(phases)

        async def sending(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                mark("sent", phases)

        await logged(self, scope, receive, sending)
        if "text" in phases:  # a /chat
            out.write(json.dumps(phases) + "\n")

    module.AccessLog.__call__ = call


def _turns(module: ModuleType) -> None:
    """The turn made, its thread started, its outcome queued and taken by the handler."""
    Turn = module.Turn
    init, run, put, outcome = Turn.__init__, Turn._run, Turn._put, Turn.outcome

    def __init__(self: Any, service: Any, user: str, request: Any, stream: bool = True) -> None:
        init(self, service, user, request, stream)
        self.phases = _ON_LOOP.get()
        if self.phases is not None:
            self.phases["text"] = request.user_input
            mark("turn", self.phases)

    def _run(self: Any) -> None:
        _ON_THREAD.phases = self.phases
        mark("thread")
        try:
            run(self)
        finally:
            _ON_THREAD.phases = None

    def _put(self: Any, item: Any) -> None:
        if isinstance(item, module.Finished | module.Failed):
            mark("put", self.phases)
        put(self, item)

    async def outcome_(self: Any) -> Any:
        got = await outcome(self)
        mark("outcome", self.phases)
        return got

    Turn.__init__, Turn._run, Turn._put, Turn.outcome = __init__, _run, _put, outcome_


PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "claudechat.server.middleware": _middleware,
    "claudechat.server.turns": _turns,
    "claudechat.server.service": lambda m: (
        _between(m.Service, "open_session", "open", "opened"),
        _between(m.Service, "_current_of", "look_up", "looked_up"),
    ),
    "claudechat.claude": lambda m: _between(m.Claude, "_events", "post", "posted"),
    "claudechat.chat": lambda m: _between(m.ChatSession, "_stream", "stream", "streamed"),
}
