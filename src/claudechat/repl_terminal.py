"""The terminal while a reply streams: one Ctrl-C, no echo, and a reply's text shown, never
obeyed."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Any

from claudechat.output import is_rich, safe_text


@contextlib.contextmanager
def one_interrupt() -> Iterator[None]:
    """The first Ctrl-C stops the reply; more presses while it is being stopped, shown and
    saved change nothing (a second one used to escape the renderer's last write)."""
    pressed = False

    def on_interrupt(_signum: int, _frame: object) -> None:
        nonlocal pressed
        if not pressed:
            pressed = True
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def quiet_terminal() -> Iterator[None]:
    """No echo while a reply streams: the terminal's own "^C" (or any key typed meanwhile)
    would move the cursor under the live region, which then redraws in the wrong place.
    Ctrl-C still interrupts (ISIG stays on); keys typed ahead reach the next prompt as typed.
    Line editing is off too: in it the terminal itself takes Ctrl-D as end-of-file and hands
    the prompt a NUL instead, so a Ctrl-D typed during a reply did not leave. (One typed in
    the instant between the reply's end and the prompt's start still meets line editing.)"""
    import termios

    try:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        yield  # not a terminal
        return
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ECHOCTL | termios.ICANON)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        # The terminal may be gone (closed window: SIGHUP); nothing is left to restore then.
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)


def reply_view(out: Any, code_theme: str) -> Any:
    """Thinking apart from the answer, the answer as markdown (plain without a terminal)."""
    from claudechat.render import MarkdownStreamRenderer, PlainStreamRenderer
    from claudechat.reply_view import TerminalReplyView

    if is_rich(sys.stdout):
        renderer = MarkdownStreamRenderer(out, code_theme=code_theme)
        return TerminalReplyView(out, TerminalSafe(renderer))
    return TerminalReplyView(out, TerminalSafe(PlainStreamRenderer(sys.stdout)))


class TerminalSafe:
    """Shows escape sequences and control characters in a reply instead of obeying them."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer

    def feed(self, chunk: str) -> None:
        self.renderer.feed(safe_text(chunk))

    def __enter__(self) -> TerminalSafe:
        self.renderer.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.renderer.__exit__(*exc_info)
