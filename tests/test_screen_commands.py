"""Slash commands on a terminal, read through a terminal emulator (pyte) as test_screen.py
reads it: Ctrl-C cancels a slow one, keys typed meanwhile wait for the prompt, and a message
that starts with "/" can still be sent."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from fakes.anthropic_api import Reply
from screen import Terminal
from test_screen import CTRL_C, start, terminals  # noqa: F401  (a fixture)

pytestmark = pytest.mark.pty
UNKNOWN_MODEL = "claude-newthing-9"  # in no models list: /model asks the Models API


def _asking_the_models_api(terminal: Terminal, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Until the REPL waits on the (slow) Models API."""
    deadline = time.monotonic() + 20
    while not fake_api.model_requests and time.monotonic() < deadline:
        terminal.pump(0.05)
    assert fake_api.model_requests, terminal.dump()


def test_ctrl_c_cancels_a_slow_command_and_keeps_the_conversation(  # type: ignore[no-untyped-def]
    terminals,  # noqa: F811
    fake_api,
    tmp_path,
) -> None:
    """Ctrl-C while /model asked the Models API left the REPL ("claudechat: interrupted",
    exit 130): no "saved; resume with" line, and the files waiting for the next message lost."""
    notes = tmp_path / "notes.txt"
    notes.write_text("the notes\n")
    fake_api.models_silent_seconds = 5
    terminal = start(terminals)
    terminal.send(f"/attach {notes}\r")
    terminal.wait_for("[1 file] ›")
    terminal.send(f"/model {UNKNOWN_MODEL}\r")
    _asking_the_models_api(terminal, fake_api)
    terminal.send(CTRL_C)
    terminal.wait_for("cancelled")
    terminal.wait_for("[1 file] ›")  # the prompt, its files still waiting
    assert "interrupted" not in terminal.dump()
    fake_api.models_silent_seconds = 0
    terminal.send("what do the notes say\r")
    terminal.wait_for("from cache")  # the reply's usage line: the turn is over
    terminal.send("/exit\r")
    terminal.wait_for("--resume")
    sent = json.dumps(fake_api.requests[-1].body)
    assert "the notes" in sent and fake_api.requests[-1].body["model"] != UNKNOWN_MODEL


def test_keys_typed_during_a_slow_command_show_once_at_the_prompt(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The terminal echoed them as typed, in the middle of the command's output, and the
    prompt showed them again."""
    fake_api.models_silent_seconds = 3
    terminal = start(terminals)
    terminal.send(f"/model {UNKNOWN_MODEL}\r")
    _asking_the_models_api(terminal, fake_api)
    fake_api.queue(Reply("the answer"))
    terminal.send("typed ahead\r")
    terminal.wait_for(f"model: {UNKNOWN_MODEL}")
    terminal.wait_for("the answer")
    lines = terminal.lines()
    assert [line for line in lines if "typed ahead" in line] == ["› typed ahead"], terminal.dump()


def test_a_slow_model_lookup_says_what_it_waits_for(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """/model with an id no list holds sat silent for the seconds the Models API took."""
    fake_api.models_silent_seconds = 4
    terminal = start(terminals)
    terminal.send(f"/model {UNKNOWN_MODEL}\r")
    terminal.wait_for("asking the Models API")
    terminal.settled(f"model: {UNKNOWN_MODEL}", 2)
    assert not any("asking the Models API" in line for line in terminal.lines()), terminal.dump()


def test_attaching_a_pipe_is_refused_at_once(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """/attach of a FIFO waited for a writer that never came, the REPL stuck in the read."""
    # A short path, so the refusal fits on one line: under tmp_path (whose length varies with
    # the worker) it wrapped anywhere.
    folder = Path(tempfile.mkdtemp(dir="/tmp", prefix="cc"))
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    try:
        terminal = start(terminals)
        terminal.send(f"/attach {fifo}\r")
        terminal.wait_for(f"{fifo}: not a regular file (a pipe", timeout=10)
    finally:
        shutil.rmtree(folder)
    terminal.wait_for("›", count=2)


@pytest.mark.parametrize(
    "paste",
    [
        "/usr/lib/python3/foo.py:12: error: boom\nwhy does this fail?",
        "/etc/nothing-here is missing, why?",
    ],
)
def test_a_message_starting_with_a_path_is_sent(terminals, fake_api, paste: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Taken as a command: "unknown command /usr/lib/python3/foo.py:12:", the message gone."""
    terminal = start(terminals)
    terminal.send(f"\x1b[200~{paste}\x1b[201~\r")  # pasted (bracketed paste), then Enter
    terminal.wait_for(f"echo: {paste.splitlines()[0]}")
    assert "unknown command" not in terminal.dump()
    assert fake_api.requests[-1].body["messages"][-1]["content"] in (
        paste,
        [{"type": "text", "text": paste}],
    )


def test_an_unknown_command_says_how_to_send_it_as_a_message(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    terminal = start(terminals)
    terminal.send("/hepl\r")
    terminal.wait_for("unknown command /hepl")
    terminal.wait_for("›", count=2)
    assert "with a space" in " ".join(terminal.lines()), terminal.dump()
    terminal.send(" /hepl is a typo\r")
    terminal.wait_for("echo: /hepl is a typo")
    assert fake_api.requests[-1].body["messages"][-1]["content"] in (
        "/hepl is a typo",
        [{"type": "text", "text": "/hepl is a typo"}],
    )
