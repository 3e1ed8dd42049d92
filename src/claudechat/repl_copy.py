"""/copy: the last reply, or one of its code blocks, to the clipboard by OSC 52."""

from __future__ import annotations

import base64
import os
import re
import sys
from typing import TYPE_CHECKING

from claudechat.errors import NotFoundError, UsageError
from claudechat.output import status

if TYPE_CHECKING:
    from claudechat.repl import Repl

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


def copy(repl: Repl, argument: str) -> None:
    reply = next((m for m in reversed(repl.session.branch()) if m.role == "assistant"), None)
    if reply is None:
        raise NotFoundError("there is no reply to copy yet")
    text = reply.text
    if argument:
        blocks = code_blocks(text)
        if not argument.isdigit():  # `/copy x`, `/copy -1` were told how many blocks there are
            raise UsageError("usage: /copy, or /copy N for the reply's Nth code block")
        if not 1 <= int(argument) <= len(blocks):
            raise UsageError(_blocks_to_pick(len(blocks)))
        text = blocks[int(argument) - 1]
    sys.stdout.write(osc52(text))
    sys.stdout.flush()
    what = f"code block {argument}" if argument else "the last reply"
    status(f"copied {what} ({len(text):,} characters) to the clipboard")
    doubt = clipboard_doubt()
    if doubt:
        status(doubt, "yellow")


def _blocks_to_pick(count: int) -> str:
    """What /copy N can pick: it said "the last reply has 0 code block(s); /copy N picks one"."""
    if count == 0:
        return "the last reply has no code block; /copy copies the whole reply"
    if count == 1:
        return "the last reply has 1 code block; /copy 1 copies it"
    return f"the last reply has {count} code blocks; /copy N, N from 1 to {count}, copies one"


def code_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks, in order."""
    blocks: list[str] = []
    fence: str | None = None
    lines: list[str] = []
    for line in markdown.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence, lines = match.group(1), []
        elif fence is not None and match and match.group(1).startswith(fence[0] * len(fence)):
            blocks.append("\n".join(lines))
            fence = None
        elif fence is not None:
            lines.append(line)
    if fence is not None:
        blocks.append("\n".join(lines))  # an unclosed fence runs to the end, as markdown reads it
    return blocks


def osc52(text: str) -> str:
    """The escape sequence that asks the terminal to put text on the clipboard; it travels
    over SSH. Inside tmux it is wrapped so that tmux passes it on to the outer terminal."""
    sequence = f"\x1b]52;c;{base64.b64encode(text.encode('utf-8')).decode('ascii')}\x07"
    if os.environ.get("TMUX"):
        return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence


def clipboard_doubt() -> str | None:
    term = os.environ.get("TERM", "")
    program = os.environ.get("TERM_PROGRAM", "")
    if not sys.stdout.isatty():
        return "stdout is not a terminal: nothing reached a clipboard"
    if term in ("", "dumb", "linux") or program == "Apple_Terminal":
        return f"this terminal ({program or term or 'unknown'}) is unlikely to support OSC 52"
    if os.environ.get("TMUX"):
        return "in tmux this needs `set -g allow-passthrough on` (or set-clipboard on)"
    if term.startswith("screen") or os.environ.get("STY"):
        return "GNU screen does not pass OSC 52 on; the clipboard may be unchanged"
    return None
