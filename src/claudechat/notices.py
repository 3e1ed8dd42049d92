"""Notices (a save falling back to the journal, a retry) said where they cannot land inside a
reply being drawn: the REPL's live regions and pipe mode's stdout sharing a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from claudechat.events import Retrying, TextDelta, ThinkingDelta

if TYPE_CHECKING:
    from claudechat.chat import ChatSession
    from claudechat.events import Event, Listener


class HeldNotices:
    """Once a reply shows, a notice (a save falling back to the journal) would land in the
    middle of its last line where stdout and stderr share a terminal; so from then on notices
    wait for the reply's end. Before it (a retry) they are said at once."""

    def __init__(self, tell: Callable[[str], None]) -> None:
        self.tell = tell
        self.hold = False
        self._held: list[str] = []

    def __call__(self, notice: str) -> None:
        if self.hold:
            self._held.append(notice)
        else:
            self.tell(notice)

    def release(self) -> Callable[[str], None]:
        """Say what was held; returns the notifier to put back."""
        for notice in self._held:
            self.tell(notice)
        self._held.clear()
        return self.tell


@contextmanager
def held_while_drawn(
    session: ChatSession, listener: Listener, regions: bool = True
) -> Iterator[Listener]:
    """The listener for a turn drawn in live regions (thinking, the answer), with the
    session's notices held while either is on screen: a line written under a live region
    was cut by its next redraw, or drawn over (the "store is back" notice vanished). A retry
    takes the thinking off the screen first, so the notices held so far and its own are said
    at once. What is held is said when the turn ends. Held from the start: until the first
    event the live region says how long the reply has been waited for.

    Without `regions` (a dumb terminal, where none is drawn) they are held only once the
    answer shows, as in pipe mode: held from the start, a notice about the request (a model
    that takes no effort level) came after the answer it was about."""
    notices = HeldNotices(session.notify)
    notices.hold = regions

    def listen(event: Event) -> None:
        listener(event)
        if isinstance(event, TextDelta) or (regions and isinstance(event, ThinkingDelta)):
            notices.hold = True
        elif isinstance(event, Retrying):
            notices.release()
            notices.hold = False

    session.notify = notices
    try:
        yield listen
    finally:
        session.notify = notices.release()
