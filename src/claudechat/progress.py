"""A count on stderr while long work runs (`export --all`, `db reindex`, `usage` over a long
history): tens of seconds with nothing on the screen read as a hang.

In a terminal only, and only once the work has taken a moment: one line, rewritten in place
at most ten times a second and erased at the end, so what the command prints stays as it
was. Nothing in a pipe or a log.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

from claudechat.output import is_terminal, terminal_width

SHOWN_AFTER = 0.5  # seconds: quicker work shows no count at all
EVERY = 0.1  # seconds between two rewrites of the line


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
        # stdout a terminal too: under `usage | less` the count was written over the pager.
        self.terminal = self.stream.isatty() and is_terminal(output or sys.stdout)
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
    from claudechat.reply_view import WaitingLine

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
