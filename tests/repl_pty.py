"""The real REPL in a pty for the tests of its history commands (test_repl_history.py,
test_repl_search.py): started with a log of what it wrote, turns typed, and the conversation
as stored and as sent."""

from __future__ import annotations

import io
import json

import pexpect
import pyte

from conftest import content_text
from test_repl import PROMPT, say, spawn


def started(*args: str) -> tuple[pexpect.spawn, io.StringIO]:
    log = io.StringIO()
    child = spawn(*args, logfile=log)
    return child, log


def screen_lines(log: io.StringIO) -> list[str]:
    """What a person sees, scrollback included."""
    screen = pyte.HistoryScreen(100, 30, history=500)
    pyte.Stream(screen).feed(log.getvalue())
    above = ["".join(ch.data for ch in row.values()) for row in screen.history.top]
    return [line.rstrip() for line in above + screen.display]


def turn(child: pexpect.spawn, text: str) -> None:
    say(child, text)
    child.expect_exact(f"echo: {text}")
    child.expect_exact(PROMPT)


def document(cli, conversation_id: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("show", conversation_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def texts(messages: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [content_text(m["content"]) for m in messages]


def sent(fake_api) -> list[str]:  # type: ignore[no-untyped-def]
    return [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]]
