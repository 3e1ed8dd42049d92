"""A count on stderr while long work runs (`export --all`, `db reindex`, `usage` over a long
history): tens of seconds with nothing on the screen read as a hang.

In a terminal only, and only once the work has taken a moment: one line, rewritten in place
at most ten times a second and erased at the end, so what the command prints stays as it
was. Nothing in a pipe or a log. A wait (for a reply's first word, for the database to
open) is counted the same way by WaitingLine, here so that opening a store (`list`, `show`)
imports nothing of a reply's; both ask may_redraw whether they may rewrite their line.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

from claudechat.output import is_terminal, terminal_width

SHOWN_AFTER = 0.5  # seconds: quicker work shows no count at all
EVERY = 0.1  # seconds between two rewrites of the line

# Until the first event the live region says it waits, once the wait is long enough to be
# noticed: a reply that starts at once does not flash a line first. The line is short: a
# window narrowed under it wraps it, and only its last row is erased.
WAITING_SHOWN_AFTER = 0.5
# After a retry's notice (said at once, below the region taken off the screen), the next
# attempt is waited for on screen again.
WAITING_AGAIN_AFTER = 0.3

WAITING = "waiting for Claude"
THINKING = "Claude is thinking"
# What a narrow window shows instead: the line cut at its width lost its seconds
# ("Claude is thinking ·" in 20 columns), the one part that tells a busy program from a hung one.
SHORT_LABELS = {WAITING: "waiting", THINKING: "thinking"}


def waiting_line(label: str, seconds: float, width: int, short: str | None = None) -> str:
    """`label · 9 s` in at most `width` columns: the label shortened (to `short`, or its
    entry in SHORT_LABELS), or left out, to keep the seconds."""
    count = f"{seconds:.0f} s"
    for shown in (label, short or SHORT_LABELS.get(label, label)):
        line = f"{shown} · {count}"
        if len(line) <= width:
            return line
    return count[: max(1, width)]


def may_redraw(stream: TextIO, output: TextIO | None = None) -> bool:
    """Whether a line on `stream` may be rewritten in place: a terminal that takes escape
    sequences (not TERM=dumb, Emacs's shell and the like), with the command's own output
    (`output`, stdout) not going to a pipe: under `usage | less` or `claudechat chat q |
    less` the line was written over the pager. Into a file it counts."""
    if not is_terminal(stream) or os.environ.get("TERM") == "dumb":
        return False
    return not _is_pipe(output or sys.stdout)


def _is_pipe(stream: TextIO) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


class Progress:
    def __init__(
        self,
        doing: str,
        total: int,
        stream: TextIO | None = None,
        after: float = SHOWN_AFTER,
        output: TextIO | None = None,  # where the command's own output goes: stdout
    ) -> None:
        self.doing = doing
        self.total = total
        self.stream = stream or sys.stderr
        # Not under TERM=dumb either, where the count's "\r" and "\x1b[K" showed raw.
        self.terminal = may_redraw(self.stream, output)
        self.started = time.monotonic()
        self.after = after
        self.written = 0.0  # when the line was last written; 0: never

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.clear()

    def clear(self) -> None:
        """The line erased: before anything else is said on stderr, and at the end."""
        if self.written:
            self._write("\r\x1b[K")
            self.written = 0.0

    def step_of(self, done: int, total: int) -> None:
        """`done` of `total` finished, where the total is known only once the work began."""
        self.total = total
        self.step(done)

    def step(self, done: int) -> None:
        """`done` of `total` finished."""
        if not self.terminal:
            return
        now = time.monotonic()
        if now - self.started < self.after or now - self.written < EVERY:
            return
        self.written = now
        # Within one row: a count wrapped onto a second one was never erased ("\r" goes back
        # to the start of the last row only).
        columns = terminal_width(self.stream)
        count = f"{self.doing} {done:,} of {self.total:,}"[: max(1, columns - 1)]
        self._write(f"\r{count}\x1b[K")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError:
            self.terminal = False  # a terminal gone: the work goes on without its count


@contextlib.contextmanager
def said_while_waiting(label: str, short: str, after: float) -> Iterator[None]:
    """A wait said once it has lasted `after` seconds: `label · 3 s` counted on stderr in a
    terminal (`short` in a narrow one) and erased when the wait ends; one plain line where
    the line cannot be rewritten (a dumb terminal, a log)."""
    from claudechat.output import status

    line = WaitingLine(sys.stderr, label, short, after=after)
    if line.start():
        try:
            yield
        finally:
            line.stop()
        return
    said = threading.Timer(after, status, (label,))
    said.daemon = True
    said.start()
    try:
        yield
    finally:
        said.cancel()


class WaitingLine:
    """Pipe mode's wait for the first word, counted on stderr where that is a terminal
    (`git diff | claudechat chat "review"` sat silent through seconds of thinking), and
    erased before anything else is written to either stream: for good once the answer
    starts, for a moment for a notice (a retry's), after which the counting goes on. Any
    command's wait to open the database is counted by one too (opening.py)."""

    def __init__(
        self,
        err: TextIO,
        label: str = WAITING,
        short: str | None = None,
        after: float = WAITING_SHOWN_AFTER,
    ) -> None:
        self.err = err
        self.label = label
        self.short = short  # the label in a narrow window; None: as waiting_line says
        self.after = after
        self._asked = time.monotonic()
        self._hidden_until = 0.0
        self._done = threading.Event()
        self._lock = threading.Lock()  # a line drawn is erased before stop() returns
        self._drawn = False
        self._line = ""

    def start(self) -> bool:
        """Whether the wait is counted: not where stderr is no terminal, or a dumb one."""
        self._asked = time.monotonic()
        if may_redraw(self.err):
            threading.Thread(target=self._count, name="waiting-line", daemon=True).start()
            return True
        return False

    def stop(self) -> None:
        if self._done.is_set():
            return  # stopped at the first word: nothing more for each of the others
        with self._lock:
            self._done.set()
            self._erase()

    def next_attempt(self) -> None:
        """Off the screen for a retry's notice; back shortly after, counted afresh."""
        with self.hidden():
            self._asked, self.label = time.monotonic(), WAITING

    @contextlib.contextmanager
    def hidden(self) -> Iterator[None]:
        """Off the screen while a notice is written, and back shortly after: the count waits
        for the notice however long writing it takes (erased, then the write, let a stalled
        writer find the line drawn again, the notice run on after it)."""
        with self._lock:
            self._erase()
            try:
                yield
            finally:
                self._hidden_until = time.monotonic() + WAITING_AGAIN_AFTER

    def _erase(self) -> None:
        if self._drawn:
            self._write("\r\x1b[K")
            self._drawn = False

    def _count(self) -> None:
        pause = self.after
        while not self._done.wait(pause):
            pause = 0.25
            with self._lock:
                now = time.monotonic()
                if self._done.is_set() or now < self._hidden_until:
                    continue
                # A column spare: a line as wide as the window leaves the cursor past it.
                width = terminal_width(self.err) - 1
                line = waiting_line(self.label, now - self._asked, width, self.short)
                if not self._drawn or line != self._line:  # written when it changes
                    self._write(f"\r{line}\x1b[K")
                    self._drawn, self._line = True, line

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed terminal: nothing to show
            self.err.write(text)
            self.err.flush()
