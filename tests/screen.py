"""The real REPL in a pseudo-terminal, seen through a terminal emulator (pyte): the lines a
person sees, scrollback included, not the bytes the program wrote."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time

import pexpect
import pyte

HISTORY = 5000


class Terminal:
    """`claudechat chat ARGS` in a pty of rows x cols (typed into `shell` when given);
    everything it prints goes through pyte.

    With cpr=True, PROMPT_TOOLKIT_NO_CPR is not set: prompt-toolkit asks for the cursor
    position (ESC [6n) as with a real terminal, and pyte answers through the pty.
    """

    def __init__(
        self,
        *args: str,
        rows: int = 24,
        cols: int = 80,
        cpr: bool = False,
        env: dict[str, str] | None = None,
        shell: str | None = None,
    ) -> None:
        env = {**os.environ, "TERM": "xterm-256color", "PS1": "$ ", **(env or {})}
        env.pop("PROMPT_TOOLKIT_NO_CPR", None)
        if not cpr:
            env["PROMPT_TOOLKIT_NO_CPR"] = "1"
        self.rows, self.cols = rows, cols
        command = [sys.executable, "-m", "claudechat", "chat", *args]
        if shell is not None:
            # Typed into an interactive shell, as a person runs it: the shell's job control
            # makes Ctrl-Z stop the job (a program spawned straight on the pty leads an
            # orphaned process group, which the terminal's Ctrl-Z leaves running).
            path = shutil.which(shell)
            assert path is not None, f"{shell} is not installed"
            command = [path, "-i"]
        self.child = pexpect.spawn(
            command[0], command[1:], env=env, dimensions=(rows, cols), timeout=20
        )
        self._new_screen(rows, cols)
        if shell is not None:
            self.send(shlex.join([sys.executable, "-m", "claudechat", "chat", *args]) + "\r")

    def _new_screen(self, rows: int, cols: int) -> None:
        self.screen = pyte.HistoryScreen(cols, rows, history=HISTORY)
        self.screen.write_process_input = self.child.send  # type: ignore[method-assign]
        self.stream = pyte.ByteStream(self.screen)

    # -- reading -----------------------------------------------------------------------------

    def pump(self, seconds: float = 0.05) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.02)
            except pexpect.TIMEOUT:
                data = b""
            except pexpect.EOF:
                return
            if data:
                self.stream.feed(data)
            elif time.monotonic() >= deadline:
                return

    def wait_for(self, text: str, timeout: float = 20, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.lines()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed; the screen:\n" + self.dump())
            self.pump(0.02)

    def settled(self, text: str, prompts: int) -> list[str]:
        """The lines once `text` showed and the `prompts`th prompt came back, and a moment
        more: anything written late (a redraw of a line meant gone) shows by then."""
        self.wait_for(text)
        self.wait_for("›", count=prompts)
        self.pump(0.3)
        return self.lines()

    def lines(self) -> list[str]:
        """Scrollback then screen, right blanks dropped, trailing blank lines dropped."""
        history = [self._text(line) for line in self.screen.history.top]
        lines = history + [line.rstrip() for line in self.screen.display]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def _text(self, line: dict[int, pyte.screens.Char]) -> str:
        return "".join(line[x].data for x in range(self.screen.columns)).rstrip()

    def dump(self) -> str:
        return "\n".join(f"{n:4} |{line}" for n, line in enumerate(self.lines()))

    # -- acting ------------------------------------------------------------------------------

    def send(self, data: str) -> None:
        self.child.send(data)

    def resize(self, rows: int, cols: int) -> None:
        """Resize as a terminal that reflows (tmux, kitty, iTerm2, VTE): every line is
        re-wrapped at the new width, scrollback too, and the program gets SIGWINCH."""
        self.pump(0)
        lines = self.lines()
        cursor_row = len(self.screen.history.top) + self.screen.cursor.y
        cursor_col = self.screen.cursor.x
        wrapped: list[str] = []
        new_cursor = (0, 0)
        for index, line in enumerate(lines + [""] * (cursor_row + 1 - len(lines))):
            if index == cursor_row:
                new_cursor = (len(wrapped) + cursor_col // cols, cursor_col % cols)
            wrapped.extend([line[i : i + cols] for i in range(0, len(line), cols)] or [""])
        self._new_screen(rows, cols)
        self.stream.feed("\r\n".join(wrapped[: new_cursor[0] + 1]).encode())
        top = len(self.screen.history.top)
        self.stream.feed(f"\x1b[{new_cursor[0] - top + 1};{new_cursor[1] + 1}H".encode())
        self.rows, self.cols = rows, cols
        self.child.setwinsize(rows, cols)

    def close(self) -> None:
        self.child.close(force=True)
