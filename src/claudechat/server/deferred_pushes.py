"""The pushes of turns answered first (serve's JSON turns on the embedded store), run once the
conversation rests.

Such a turn is answered once its save is in the journal, on disk, where every reader on this
machine finds it. Pushed at once, each push (the document encoded and written, its row and
search entries) ran beside the next requests' turns in the same worker and held the GIL they
waited for: the slowest answers were slow for it. Put off until the conversation has had no
turn for `quiet` seconds, a conversation's turns in quick succession are pushed once, and the
push runs when its conversation is idle. A conversation that never rests is still pushed every
`longest` seconds, so the store is never far behind the journal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from claudechat.storage.results import PendingSave

log = logging.getLogger("claudechat.serve")

# A conversation with a turn at least every `quiet` seconds is pushed this many quiet spells
# after its first turn waiting, at the latest.
LONGEST_IN_QUIET_SPELLS = 5


@dataclass
class _Waiting:
    push: PendingSave  # the newest save's: it holds everything the saves before it did
    first: float  # when the oldest turn not pushed yet was answered (monotonic)
    last: float  # when the newest was


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

    def add(self, conversation_id: str, push: PendingSave) -> None:
        """`push` replaces the one waiting for the conversation, if any: this worker's journal
        entry holds both turns, and the later push removes it."""
        now = time.monotonic()
        with self._changed:
            waiting = self._waiting.get(conversation_id)
            self._waiting[conversation_id] = _Waiting(push, waiting.first if waiting else now, now)
            if self._thread is None:
                # A daemon: a push cut off at the end is pushed from the journal at a next
                # start; shutdown runs them all first (flush).
                self._thread = threading.Thread(
                    target=self._run, name="deferred-pushes", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def conversations(self) -> set[str]:
        """The conversations whose pushes wait or run here: the journal's drain leaves them."""
        with self._changed:
            return set(self._waiting) | self._pushing

    def flush(self, timeout: float) -> bool:
        """Run every waiting push now (at shutdown); whether all were done within `timeout`.
        Any left are in the journal still, pushed at the next start."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._flushing = True
            self._changed.notify_all()
            while self._waiting or self._pushing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            conversation_id, waiting = self._next_due()
            try:
                self._push(waiting.push)
            except Exception:  # the thread stays for the next ones; the journal keeps this one
                log.exception("a turn's push after its answer failed")
            finally:
                with self._changed:
                    self._pushing.discard(conversation_id)
                    self._changed.notify_all()

    def _next_due(self) -> tuple[str, _Waiting]:
        with self._changed:
            while True:
                if not self._waiting:
                    self._changed.wait()
                    continue
                conversation_id, waiting = min(self._waiting.items(), key=self._due)
                wait = self._due((conversation_id, waiting)) - time.monotonic()
                if wait <= 0 or self._flushing:
                    del self._waiting[conversation_id]
                    self._pushing.add(conversation_id)
                    return conversation_id, waiting
                self._changed.wait(wait)

    def _due(self, item: tuple[str, _Waiting]) -> float:
        waiting = item[1]
        return min(waiting.last + self.quiet, waiting.first + self.longest)
