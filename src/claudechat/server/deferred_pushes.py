"""The pushes of turns answered first (serve's JSON turns on the embedded store), run once the
conversation rests.

Such a turn is answered once its save is in the journal, on disk, where every reader on this
machine finds it. Pushed at once, each push (the document encoded and written, its row and
search entries) ran beside the next requests' turns in the same worker and held the GIL they
waited for: the slowest answers were slow for it. Put off until the conversation has had no
turn in this worker for `quiet` seconds, a conversation's turns in quick succession are pushed
once, and the push runs when its conversation is idle. A conversation that never rests is
still pushed every `longest` seconds, so the store is never far behind the journal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from claudechat.conversation import Conversation
from claudechat.merging import covers
from claudechat.storage.results import PendingSave

log = logging.getLogger("claudechat.serve")

# A conversation with a turn at least every `quiet` seconds is pushed this many quiet spells
# after its first turn waiting, at the latest.
LONGEST_IN_QUIET_SPELLS = 5
# Pushes due at once (conversations begun together) go this far apart, not back to back: a
# run of them held the GIL from the turns of the worker for tens of milliseconds.
PACE_SECONDS = 0.02


@dataclass
class _Waiting:
    first: float  # when the oldest turn not pushed yet was answered (monotonic)
    last: float  # when the newest was
    # The saves to push, none holding all another does: usually one, the newest.
    saves: list[PendingSave] = field(default_factory=list)

    def take(self, save: PendingSave) -> None:
        """Two turns of one conversation at once can reach their answers in either order: a
        save is kept unless another holds all it does, and drops those it holds all of (the
        one written later, when two hold the same: its entry is the one to remove)."""
        if save.conversation is None or any(k.conversation is None for k in self.saves):
            self.saves = [save]  # saves that do not say what they hold: the later
            return
        held = save.conversation
        kept = [k for k in self.saves if not covers(held, _held(k))]
        self.saves = kept if any(covers(_held(k), held) for k in kept) else [*kept, save]


def _held(save: PendingSave) -> Conversation:
    assert save.conversation is not None
    return save.conversation


class DeferredPushes:
    """One thread per worker runs the pushes when they are due, one at a time, the one due
    first first."""

    def __init__(self, push: Callable[[PendingSave], None], quiet: float) -> None:
        self._push = push
        self.quiet = quiet
        self.longest = quiet * LONGEST_IN_QUIET_SPELLS
        self._waiting: dict[str, _Waiting] = {}
        self._pushing: set[str] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._flushing = False
        self._stopped = False  # shut down: nothing more is taken (the journal keeps it)
        self._next_push_at = 0.0  # (monotonic) paced: see PACE_SECONDS

    def add(self, conversation_id: str, save: PendingSave) -> None:
        now = time.monotonic()
        with self._changed:
            waiting = self._waiting.setdefault(conversation_id, _Waiting(now, now))
            waiting.last = now
            waiting.take(save)
            if self._thread is None:
                # A daemon: a push cut off at the end is pushed from the journal at a next
                # start; shutdown runs them all first (flush).
                self._thread = threading.Thread(
                    target=self._run, name="deferred-pushes", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def drop(self, conversation_id: str) -> None:
        """The conversation deleted: nothing of it to push (a push would find it deleted)."""
        with self._changed:
            self._waiting.pop(conversation_id, None)

    def conversations(self) -> set[str]:
        """The conversations whose pushes wait or run here: the journal's drain leaves them."""
        with self._changed:
            return set(self._waiting) | self._pushing

    def flush(self, timeout: float) -> int:
        """Run every waiting push now (at shutdown), for up to `timeout`; then take no more.
        Returns how many conversations were left: in the journal, pushed at the next start."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._flushing = True
            self._changed.notify_all()
            while self._waiting or self._pushing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            self._stopped = True
            left = len(set(self._waiting) | self._pushing)
        if left:
            log.warning("%d conversation(s) left in the journal, pushed at the next start", left)
        return left

    def _run(self) -> None:
        while True:
            conversation_id, waiting = self._next_due()
            try:
                for save in waiting.saves:
                    try:
                        self._push(save)
                    except Exception:  # the thread goes on; the journal keeps this save
                        log.exception("a turn's push after its answer failed")
            finally:
                with self._changed:
                    self._pushing.discard(conversation_id)
                    self._next_push_at = time.monotonic() + PACE_SECONDS
                    self._changed.notify_all()

    def _next_due(self) -> tuple[str, _Waiting]:
        with self._changed:
            while True:
                if not self._waiting or self._stopped:
                    self._changed.wait()
                    continue
                conversation_id, waiting = min(self._waiting.items(), key=self._due)
                due = max(self._due((conversation_id, waiting)), self._next_push_at)
                wait = due - time.monotonic()
                if wait <= 0 or self._flushing:
                    del self._waiting[conversation_id]
                    self._pushing.add(conversation_id)
                    return conversation_id, waiting
                self._changed.wait(min(wait, threading.TIMEOUT_MAX))

    def _due(self, item: tuple[str, _Waiting]) -> float:
        waiting = item[1]
        return min(waiting.last + self.quiet, waiting.first + self.longest)
