"""The terminal while a reply streams: one Ctrl-C, no echo, and a reply's text shown, never
obeyed; and what a dumb terminal's prompt left on screen of the line sent."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from claudechat.output import renders_live, safe_text


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
def quiet_terminal() -> Iterator[JobStop | None]:
    """No echo while a reply streams: the terminal's own "^C" (or any key typed meanwhile)
    would move the cursor under the live region, which then redraws in the wrong place.
    Ctrl-C still interrupts (ISIG stays on); keys typed ahead reach the next prompt as typed.
    Line editing is off too: in it the terminal itself takes Ctrl-D as end-of-file and hands
    the prompt a NUL instead, so a Ctrl-D typed during a reply did not leave. (One typed in
    the instant between the reply's end and the prompt's start still meets line editing.)
    Ctrl-Z stops the job as JobStop says (None: stdin is no terminal)."""
    import termios

    try:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        yield None  # not a terminal
        return
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ECHOCTL | termios.ICANON)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    job = JobStop(fd, saved, quiet)
    try:
        with job.handling_ctrl_z():
            yield job
    finally:
        _set_terminal(fd, saved)


class JobStop:
    """Ctrl-Z during a reply, taken as less and vim take it: the job stops with the terminal
    as it was before the reply (not every shell resets it: in dash the commands typed next
    were not echoed) and with the live region erased (the shell writes below it, and a copy
    of it stayed above the rest of the reply); `fg` quiets the terminal again and the region
    is drawn anew.

    The stop is made by a thread of its own, inside `screen_paused` (the renderer holds its
    lock there): the signal handler runs in the main thread, maybe in the middle of a draw.
    That thread is started with the reply, not by the handler: starting a thread takes a lock
    of the threading module, which the interrupted main thread may hold."""

    def __init__(self, fd: int, saved: list[Any], quiet: list[Any]) -> None:
        self.fd, self.saved, self.quiet = fd, saved, quiet
        self.screen_paused: Callable[[], contextlib.AbstractContextManager[object]] = (
            contextlib.nullcontext
        )
        self._wanted = threading.Event()  # Ctrl-Z was pressed (or the reply ended)
        self._active = False

    @contextlib.contextmanager
    def handling_ctrl_z(self) -> Iterator[None]:
        worker = threading.Thread(target=self._work, name="job-stop", daemon=True)
        self._active = True
        worker.start()
        previous = (
            signal.signal(signal.SIGTSTP, self._requested),
            signal.signal(signal.SIGCONT, self._resumed),
        )
        try:
            yield
        finally:
            self._active = False
            # Put back first: a Ctrl-Z handled inside set() would set() again, and wait for
            # the lock it holds.
            signal.signal(signal.SIGTSTP, previous[0])
            signal.signal(signal.SIGCONT, previous[1])
            self._wanted.set()
            worker.join()  # a stop under way ends (after `fg`) before the prompt takes over

    def _requested(self, _signum: int, _frame: object) -> None:
        # Stopped by the default action, so the shell says "Stopped" as for any job; SIGCONT
        # puts this handler back (a handler is set from the main thread only).
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        self._wanted.set()

    def _work(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if not self._active:
                return
            self._stop()

    def _stop(self) -> None:
        with self.screen_paused():
            if self._in_foreground():  # a background job setting it would be stopped
                _set_terminal(self.fd, self.saved)
            # To this thread: sent to the process, the signal may be taken by another thread,
            # and this one would run on (quieting the terminal again) for a moment before the
            # whole process stops.
            signal.pthread_kill(threading.get_ident(), signal.SIGTSTP)  # until fg or bg
            self._quiet_again()

    def _resumed(self, _signum: int, _frame: object) -> None:
        if self._active:
            signal.signal(signal.SIGTSTP, self._requested)
            self._quiet_again()

    def _quiet_again(self) -> None:
        # After `bg`, SIGCONT comes again with a later `fg`; after the reply, the prompt
        # owns the terminal.
        if self._active and self._in_foreground():
            _set_terminal(self.fd, self.quiet)

    def _in_foreground(self) -> bool:
        try:
            return os.tcgetpgrp(self.fd) == os.getpgrp()
        except OSError:
            return False


def _set_terminal(fd: int, attributes: list[Any]) -> None:
    import termios

    # The terminal may be gone (closed window: SIGHUP); nothing is left to set then.
    with contextlib.suppress(OSError, termios.error):
        termios.tcsetattr(fd, termios.TCSANOW, attributes)


def reply_view(out: Any, code_theme: str) -> Any:
    """Thinking apart from the answer, the answer as markdown (plain without a terminal)."""
    from claudechat.render import MarkdownStreamRenderer, PlainStreamRenderer
    from claudechat.reply_view import TerminalReplyView

    if renders_live(sys.stdout):
        renderer = MarkdownStreamRenderer(out, code_theme=code_theme)
        return TerminalReplyView(out, TerminalSafe(renderer))
    return TerminalReplyView(out, TerminalSafe(PlainStreamRenderer(sys.stdout)))


class TerminalSafe:
    """Shows escape sequences and control characters in a reply instead of obeying them."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer

    def feed(self, chunk: str) -> None:
        self.renderer.feed(safe_text(chunk))

    def paused(self) -> contextlib.AbstractContextManager[object]:
        paused: contextlib.AbstractContextManager[object] = self.renderer.paused()
        return paused

    def __enter__(self) -> TerminalSafe:
        self.renderer.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.renderer.__exit__(*exc_info)


class TypedOnScreen:
    """What prompt-toolkit's prompt for a dumb terminal (TERM=dumb) leaves on screen of the
    line: at each change of the text, the one character before the cursor. So a line typed
    straight through is on screen as sent, but a starting text (/edit) shows nothing, a line
    from history (Up) or a completion (Tab) only its last character, and a correction
    (Backspace, Left) garbles it."""

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self.shown = ""

    def __enter__(self) -> TypedOnScreen:
        self.buffer.on_text_changed += self._changed
        return self

    def __exit__(self, *_: object) -> None:
        self.buffer.on_text_changed -= self._changed

    def _changed(self, _: object) -> None:
        self.shown += self.buffer.document.text_before_cursor[-1:]
