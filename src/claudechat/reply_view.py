"""Showing a reply's stream events: the answer to its renderer, thinking apart from it.

In a terminal, thinking streams dimmed in a live region above the answer and collapses to one
dim line (`thought for 12 s · 830 tokens`) once the answer starts. In a pipe, stdout holds only
the answer; thinking goes to stderr when asked for (--show-thinking).
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from claudechat.events import Event, Retrying, TextDelta, ThinkingDelta
from claudechat.output import safe_text
from claudechat.progress import (
    THINKING,
    WAITING,
    WAITING_AGAIN_AFTER,
    WAITING_SHOWN_AFTER,
    WaitingLine,
    waiting_line,
)

if TYPE_CHECKING:
    from rich.console import Console

    from claudechat.region import RefreshedRegion

# Lines of thinking kept in view while it streams; the whole of it is one /thinking away
# (after a Ctrl-C too: the REPL keeps what arrived).
THINKING_LINES = 6


class TextRenderer(Protocol):
    def feed(self, chunk: str) -> None: ...
    def paused(self) -> contextlib.AbstractContextManager[object]: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc_info: object) -> None: ...


def thought_tokens(thinking: str) -> int:
    """Summarized thinking's size: an estimate of what is shown, not the bill."""
    return math.ceil(len(thinking) / 4)


def thought_line(seconds: float, thinking: str) -> str:
    return f"thought for {seconds:.0f} s · {thought_tokens(thinking):,} tokens"


class TerminalReplyView:
    """Thinking in a transient live region, the answer through the text renderer. Before
    either arrives the region says how long the reply has been waited for: a model that
    thinks without showing it, or a slow upstream, left the screen still for seconds with
    nothing to tell a hung program from a busy one."""

    def __init__(self, console: Console, answer: TextRenderer) -> None:
        self.console = console
        self.answer = answer
        self.thinking: list[str] = []
        self.started: float | None = None
        self.asked = time.monotonic()
        self.live: RefreshedRegion | None = None
        self.answering = False
        self._ended = False
        # The thinking region changes hands under it: a stop (Ctrl-Z) takes it off the screen
        # from another thread.
        self._live_lock = threading.Lock()

    @property
    def draws_regions(self) -> bool:
        """Whether the live regions show: rich draws none on a dumb terminal (TERM=dumb)."""
        return self.console.is_terminal and not self.console.is_dumb_terminal

    def __enter__(self) -> TerminalReplyView:
        self.answer.__enter__()
        self.asked = time.monotonic()
        if self.draws_regions:
            with self._live_lock:
                self._start_live()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._live_lock:
            self._ended = True  # no waiting line comes back now
        self._collapse()
        self.answer.__exit__(*exc_info)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The live regions off the screen while the job is stopped (Ctrl-Z), back after."""
        with self.answer.paused(), self._live_lock:
            live = self.live
            if live is not None:
                live.stop()  # erased
            try:
                yield
            finally:
                if live is not None:
                    # A new one: the rows the old one counted are the shell's now.
                    self._start_live()

    def on_event(self, event: Event) -> None:
        if isinstance(event, ThinkingDelta):
            self._think(event.text)
        elif isinstance(event, TextDelta):
            if not self.answering:
                self.answering = True  # first: a waiting line coming back now stays away
                self._collapse()
            self.answer.feed(event.text)
        elif isinstance(event, Retrying):
            self._discard_thinking()

    def _discard_thinking(self) -> None:
        """A failed attempt's thinking off the screen and out of the count: the notice that
        follows starts a line of its own, and the next attempt thinks afresh."""
        with self._live_lock:
            live, self.live = self.live, None
            if live is not None:
                live.stop()  # erased
        self.thinking, self.started = [], None
        self.asked = time.monotonic()
        if self.draws_regions:
            again = threading.Timer(WAITING_AGAIN_AFTER, self._wait_again)
            again.daemon = True
            again.start()

    def _wait_again(self) -> None:
        """The waiting line back after a retry's notice: the screen stood still after it, for
        as long as the next attempt took."""
        with self._live_lock:
            if self.live is None and not (self.answering or self.thinking or self._ended):
                self._start_live()

    def _think(self, text: str) -> None:
        if self.started is None:
            self.started = time.monotonic()
        self.thinking.append(text)
        if self.live is None and not self.answering and self.draws_regions:
            with self._live_lock:
                if self.live is None:  # a retry's waiting line may have come back meanwhile
                    self._start_live()

    def _start_live(self) -> None:
        from claudechat.region import RefreshedRegion

        self.live = RefreshedRegion(self.console, self._tail, per_second=8)
        self.live.start()

    def _tail(self) -> Any:
        """The last rows of the thinking as the screen shows them: counted in its own lines,
        one long paragraph wrapped taller than the window, and what scrolled out of the live
        region stayed on the screen after it collapsed."""
        from rich.text import Text

        if not self.thinking:
            return self._waiting()
        width = max(1, self.console.width)
        # Enough of the end for the rows shown, not the whole thinking wrapped each refresh.
        text = safe_text("".join(self.thinking))[-2 * THINKING_LINES * (width + 1) :]
        rows = Text(text, style="dim").wrap(self.console, width)
        return Text("\n", style="dim").join(rows[-THINKING_LINES:])

    def _waiting(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        seconds = time.monotonic() - self.asked
        if seconds < WAITING_SHOWN_AFTER:
            return Group()  # no line at all
        # A column spare, as in pipe mode: a line as wide as the window leaves the cursor at
        # its edge, where a terminal may wrap what is written next.
        line = waiting_line(WAITING, seconds, self.console.width - 1)
        return Text(line, style="dim", no_wrap=True, overflow="crop")

    def _collapse(self) -> None:
        """Replace the streamed thinking by its one summary line (once)."""
        with self._live_lock:
            live, self.live = self.live, None
            if live is not None:
                live.stop()
        if self.started is not None:
            seconds = time.monotonic() - self.started
            self.console.print(thought_line(seconds, "".join(self.thinking)), style="dim")
            self.started = None


class PipeListener:
    """The answer to stdout's renderer; thinking to stderr only when asked for; until either
    starts, the wait on stderr (WaitingLine)."""

    def __init__(
        self, feed: Callable[[str], None], show_thinking: bool, err: TextIO | None = None
    ) -> None:
        self.feed = feed
        self.show_thinking = show_thinking
        self.err = err or sys.stderr
        self.thought = False
        self.waiting = WaitingLine(self.err)

    def on_event(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.waiting.stop()
            self.end_thinking()
            self.feed(event.text)
        elif isinstance(event, Retrying):
            self.end_thinking()
            self.waiting.next_attempt()
        elif isinstance(event, ThinkingDelta) and not self.show_thinking:
            self.waiting.label = THINKING
        elif isinstance(event, ThinkingDelta):
            self.waiting.stop()
            # Shown, not obeyed, in a file too, as the answer is: read later on a terminal.
            self.err.write(safe_text(event.text))
            self.err.flush()
            self.thought = True

    def end_thinking(self) -> None:
        """End the thinking's last line, so what comes next (the answer, or a notice on
        stderr) starts a line of its own."""
        if self.thought:
            self.err.write("\n")
            self.err.flush()
            self.thought = False
