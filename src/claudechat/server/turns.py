"""One /chat turn run in its own thread, its text handed to the event loop as it streams.

The session's code is blocking (the SDK, the store), so it runs off the loop; the handler reads
a queue of text deltas ending with one outcome; a stream also learns when Claude's reply has
begun (its status can be sent then) and when Claude starts thinking. Stopping a turn (the
client left, the server is shutting down) looks to the session exactly like Ctrl-C in the
REPL: the part of the reply that arrived is saved and marked interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from claudechat.chat import ChatSession
from claudechat.conversation import Message
from claudechat.errors import Stopped
from claudechat.events import Event, Opened, Retrying, ThinkingDelta
from claudechat.reused_threads import run_soon
from claudechat.server.service import ChatRequest, Notices, Service


class ClientGone(Stopped):
    """Raised inside the session's stream: to it, the same as Ctrl-C."""


@dataclass
class Finished:
    session: ChatSession
    message: Message


@dataclass
class Failed:
    error: BaseException
    session: ChatSession | None = None
    # Whether the user's message got into the conversation (saved with it, or in the journal).
    kept: bool = False


class Progress(enum.Enum):
    """What a stream is told before any text."""

    OPENED = "opened"  # Claude's reply has begun: any failure from here on is mid-stream
    THINKING = "thinking"  # once per attempt, at its first thinking delta
    RETRYING = "retrying"  # the attempt broke off: the session waits, then asks again


Outcome = Finished | Failed
Item = str | Progress | Outcome


class Turn:
    def __init__(
        self, service: Service, user: str, request: ChatRequest, stream: bool = True
    ) -> None:
        self.service = service
        # A JSON answer needs no deltas: each would wake the event loop (and wait for the GIL).
        self.stream = stream
        self.user = user
        self.request = request
        self.notices = Notices()
        self.session: ChatSession | None = None
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self.client_left = False  # the client hung up before the turn was done
        self._thinking = False  # this attempt's thinking was announced
        self._began = False  # Claude's reply began once: the stream has its status line
        self.done = threading.Event()
        # Set once the client has its answer (or is gone): shutdown waits for it, or the last
        # answers would be cut when the event loop closes.
        self.answered = asyncio.Event()
        # Set once the turn's thread is done (a push put off for the answer handed over to the
        # worker's DeferredPushes): the store is closed only after.
        self.settled = threading.Event()

    def start(self) -> Turn:
        # On a kept thread, not a daemon: an exiting process waits for the turn to save what
        # it has.
        run_soon(self._run)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.service.claude.stops.stop(self._stop)  # a read waiting for Claude ends now

    def _run(self) -> None:
        outcome: Outcome
        before = 0
        try:
            self.session = self.service.open_session(self.user, self.request, self.notices)
            # A JSON caller waits for the whole answer; a stream's had the text all along, and
            # its last event still says whether the reply was saved.
            self.session.answer_first = not self.stream and self.service.may_answer_first()
            before = len(self.session.conversation.messages)
            with self.service.claude.stops.owned_by(self._stop):
                message = self.session.send(
                    self.request.user_input, self._on_text, on_event=self._on_event
                )
            outcome = Finished(self.session, message)
        except BaseException as exc:  # handed to the handler, which maps it to a status
            kept = self.session is not None and len(self.session.conversation.messages) > before
            outcome = Failed(exc, self.session, kept)
        finally:
            self.done.set()
        self._put(outcome)
        try:
            self.service.after_answer(self.session)
        finally:
            self.settled.set()  # whatever befell it: shutdown and the drain wait on it

    def _on_text(self, text: str) -> None:
        # Queued even when stopping: the reply kept holds this text, and a stream still open
        # (shutdown's last events) shows all of what is kept.
        if self.stream:
            self._put(text)
        if self._stop.is_set():
            raise ClientGone()

    def _on_event(self, event: Event) -> None:
        if not self.stream:
            return
        if isinstance(event, Opened):
            self._began = True
            self._put(Progress.OPENED)
        elif isinstance(event, ThinkingDelta) and not self._thinking:
            self._thinking = True
            self._put(Progress.THINKING)
        elif isinstance(event, Retrying):  # asked again: its thinking starts over
            self._thinking = False
            if self._began:  # before that, the stream is only waiting for its first item
                self._put(Progress.RETRYING)

    def _put(self, item: Item) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            self._loop.call_soon_threadsafe(self.queue.put_nowait, item)

    async def stop_when_gone(self, receive: Callable[[], Awaitable[Mapping[str, Any]]]) -> None:
        """Run beside the answer: a client that hangs up stops the turn at once (its request
        to Claude is shut; the partial reply is kept)."""
        while (await receive())["type"] != "http.disconnect":
            pass
        self.client_left = not self.done.is_set()
        self.stop()

    async def outcome(self) -> Outcome:
        """Skip the text and wait for the end (for a JSON answer)."""
        while True:
            item = await self.queue.get()
            if isinstance(item, Finished | Failed):
                return item


class Turns:
    """The turns in flight in this process, so shutdown can finish or save them."""

    def __init__(self) -> None:
        self._active: set[Turn] = set()
        self._lock = threading.Lock()

    def busy(self) -> set[str]:
        """The conversations of the turns not settled yet: each will push its own save. (Asked
        from the journal drain's thread too.)"""
        with self._lock:
            turns = list(self._active)
        return {t.session.conversation.id for t in turns if t.session and not _over(t)}

    def add(self, turn: Turn) -> None:
        with self._lock:
            self._active = {t for t in self._active if not _over(t)}
            self._active.add(turn)

    async def stop_all(self, timeout: float) -> None:
        """Stop every turn still running and wait (up to `timeout`) until each is answered:
        what arrived is saved, marked interrupted, and its client told so; then until their
        threads are done (their pushes handed over to DeferredPushes, flushed after)."""
        with self._lock:
            turns = [t for t in self._active if not _over(t)]
        active = [t for t in turns if not t.answered.is_set()]
        for turn in active:
            turn.stop()
        deadline = time.monotonic() + timeout
        if active:
            waits = [asyncio.ensure_future(turn.answered.wait()) for turn in active]
            await asyncio.wait(waits, timeout=timeout)
            for wait in waits:
                wait.cancel()  # the ones past the timeout: not left pending as the loop closes
        # Then their threads' ends (a push put off is handed over, not run, there).
        while not all(t.settled.is_set() for t in turns) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)


def _over(turn: Turn) -> bool:
    return turn.answered.is_set() and turn.settled.is_set()
