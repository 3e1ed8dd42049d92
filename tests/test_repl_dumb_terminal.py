"""The REPL on a dumb terminal (TERM=dumb: Emacs's shell and the like), read as written: it
shows an escape sequence as the characters it is made of, so none may be written."""

from __future__ import annotations

import io
import os
import sys

import pexpect
import pytest

from fakes.anthropic_api import Reply
from test_repl import CTRL_D, PROMPT

pytestmark = pytest.mark.pty


def test_a_dumb_terminal_gets_no_escape_sequence_from_start_to_end(fake_api) -> None:  # type: ignore[no-untyped-def]
    """prompt-toolkit's output, set up for the terminal, wrote "ESC[?12l ESC[?25h" (cursor
    blink off, cursor shown) before the first prompt, and before /search's question: garbage
    on a dumb terminal."""
    fake_api.queue(Reply("the plain answer"))
    written = io.StringIO()
    child = pexpect.spawn(
        sys.executable,
        ["-m", "claudechat", "chat"],
        env={**os.environ, "TERM": "dumb"},
        encoding="utf-8",
        dimensions=(30, 100),
        timeout=20,
    )
    child.logfile_read = written
    child.expect_exact(PROMPT)
    child.send("hello there\r")
    child.expect_exact("the plain answer")
    child.expect_exact(PROMPT)
    child.send("/search hello\r")  # a question at a prompt of its own
    child.expect_exact("resume which")
    child.send("\r")
    child.expect_exact(PROMPT)
    child.send(CTRL_D)
    child.expect(r"conversation [0-9a-f-]{36} saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    shown = written.getvalue()
    assert "hello there" in shown and "the plain answer" in shown and "**hello**" in shown
    assert "\x1b" not in shown, repr(shown)
