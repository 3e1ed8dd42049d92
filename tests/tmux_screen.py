"""The real REPL in a real tmux, read with capture-pane: what tmux keeps, scrollback included.

pyte shows what a terminal following the escape codes shows; tmux also has habits of its own
that a person sees, e.g. `scroll-on-clear` (its default): erasing the screen from its top-left
corner pushes the screen into the scrollback.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid


class Tmux:
    """`claudechat chat ARGS` in a tmux window of rows x cols, on a tmux server of its own."""

    def __init__(self, *args: str, rows: int = 30, cols: int = 100) -> None:
        self.socket = f"claudechat-test-{uuid.uuid4().hex[:12]}"
        env = {**os.environ, "TERM": "xterm-256color"}
        env.pop("TMUX", None)
        settings = [f"{k}={v}" for k, v in env.items() if k.isidentifier()]
        command = shlex.join(["env", *settings, sys.executable, "-m", "claudechat", "chat", *args])
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-x", str(cols), "-y", str(rows), command
        )
        self._tmux("set-option", "-g", "scroll-on-clear", "on")
        self._tmux("set-option", "-g", "history-limit", "10000")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def lines(self) -> list[str]:
        """Scrollback then screen, trailing blank lines dropped."""
        lines = [line.rstrip() for line in self._tmux("capture-pane", "-p", "-S", "-").split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed:\n" + "\n".join(self.lines()))
            time.sleep(0.05)

    def send(self, text: str) -> None:
        self._tmux("send-keys", "-l", text)
        self._tmux("send-keys", "Enter")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)
