"""/attach in the real REPL, in a pseudo-terminal, read off a pyte screen as a person sees it:
Tab completion of paths (~, quotes, spaces), the `[2 files] ›` prompt, /attachments, /detach,
a dropped path, and what the next message carries to the fake Messages API."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pyte
import pytest

from attachment_files import pdf_bytes, png_bytes, write

pytestmark = pytest.mark.pty
COLUMNS, ROWS = 100, 30
TAB = "\t"


class Terminal:
    """The REPL in a pty, and the screen a person would see."""

    def __init__(self, home: Path, cwd: Path, *args: str) -> None:
        self.home = home
        env = {
            **os.environ,
            "PROMPT_TOOLKIT_NO_CPR": "1",
            "TERM": "xterm-256color",
            "HOME": str(home),
        }
        self.screen = pyte.HistoryScreen(COLUMNS, ROWS, history=500)
        self.stream = pyte.Stream(self.screen)
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "claudechat", "chat", *args],
            env=env,
            cwd=str(cwd),
            encoding="utf-8",
            dimensions=(ROWS, COLUMNS),
            timeout=20,
        )

    def pump(self) -> None:
        while True:
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.05))
            except (pexpect.TIMEOUT, pexpect.EOF):
                return

    def lines(self) -> list[str]:
        self.pump()
        history = [
            "".join(line[x].data for x in range(COLUMNS)).rstrip()
            for line in self.screen.history.top
        ]
        return history + [line.rstrip() for line in self.screen.display]

    def wait_for(self, text: str, timeout: float = 20) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if any(text in line for line in lines):
                return lines
        raise AssertionError(f"{text!r} never appeared; the screen:\n" + "\n".join(self.lines()))

    def input_line(self) -> str:
        """The line the cursor is on: the prompt and what is typed."""
        self.pump()
        return self.screen.display[self.screen.cursor.y].rstrip()

    def wait_input(self, expected: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.input_line() == expected.rstrip():
                return
            time.sleep(0.05)
        raise AssertionError(f"the input line is {self.input_line()!r}, not {expected!r}")

    def type(self, text: str) -> None:
        self.child.send(text)


def files(home: Path) -> Path:
    write(home / "shot.png", png_bytes())
    write(home / "my docs" / "annual report.pdf", pdf_bytes(["Revenue grew", "Costs fell"]))
    write(home / "notes.md", b"# Notes\n")
    return home


@pytest.fixture
def terminal(fake_api, tmp_path) -> Iterator[Terminal]:  # type: ignore[no-untyped-def]
    home = files(tmp_path / "user")
    term = Terminal(home, home)
    term.wait_input("› ")
    yield term
    term.child.close(force=True)


def test_attach_with_tab_completion_and_the_prompt_counter(terminal, fake_api) -> None:  # type: ignore[no-untyped-def]
    terminal.type("/attach ~/sh" + TAB)
    terminal.wait_input("› /attach ~/shot.png")
    terminal.type("\r")
    terminal.wait_for("attached 1: shot.png · image/png · 73 B")
    terminal.wait_input("[1 file] › ")
    terminal.type("/attach ~/shot.png\r")  # the same content again: attached once
    terminal.wait_for("shot.png: the same content as shot.png is attached already")
    terminal.wait_input("[1 file] › ")

    # A folder with a space is offered quoted; inside it, the quote closes after the file.
    terminal.type("/attach ~/my" + TAB)
    terminal.wait_input("[1 file] › /attach '~/my docs/")
    terminal.type("an" + TAB)
    terminal.wait_input("[1 file] › /attach '~/my docs/annual report.pdf'")
    terminal.type("\r")
    terminal.wait_for("attached 2: annual report.pdf · application/pdf")
    terminal.wait_input("[2 files] › ")

    terminal.type("/attachments\r")
    lines = terminal.wait_for("2. annual report.pdf")
    assert any(line.strip().startswith("1. shot.png · image/png") for line in lines)

    terminal.type("/detach 1\r")
    terminal.wait_for("detached “shot.png”; 1 file waits")
    terminal.wait_input("[1 file] › ")

    terminal.type("what do they say?\r")
    lines = terminal.wait_for("echo: what do they say? [document 'annual report.pdf' 2 pages")
    terminal.wait_for("cited passages:")
    terminal.wait_input("› ")  # sent: nothing waits any more
    terminal.type("/detach 1\r")  # nothing to detach: said so, not "N from 1 to 0"
    terminal.wait_for("nothing is attached; /attach PATH adds a file")
    content = fake_api.requests[-1].body["messages"][0]["content"]
    assert [b["type"] for b in content] == ["document", "text"]
    assert content[0]["title"] == "annual report.pdf"


def test_a_dropped_path_is_attached_not_sent(terminal, fake_api) -> None:  # type: ignore[no-untyped-def]
    path = terminal.home / "my docs" / "annual report.pdf"  # in full, as terminals paste it
    terminal.type(f"'{path}'\r")
    terminal.wait_for("attached 1: annual report.pdf")
    terminal.wait_for("a dropped file")
    terminal.wait_input("[1 file] › ")
    assert fake_api.requests == []
    terminal.type(f"'{path}'\r")  # dropped again: attached already, not "attached to"
    terminal.wait_for("the same content as annual report.pdf is attached already")
    terminal.wait_input("[1 file] › ")
    assert sum("a dropped file" in line for line in terminal.lines()) == 1

    terminal.type("/attach nowhere.png\r")
    terminal.wait_for("nowhere.png: no such file")
    terminal.wait_input("[1 file] › ")
    # A ~user of no user here ended the REPL in a traceback (Path.expanduser's RuntimeError).
    terminal.type("/attach ~nosuchuser/notes.txt\r")
    terminal.wait_for("~nosuchuser/notes.txt: no such file (no user 'nosuchuser' here)")
    terminal.wait_input("[1 file] › ")
    terminal.type('/attach ""\r')  # read as ".": ": is a folder, not a file"
    terminal.wait_for("no file named: give the path of the file to attach")
    terminal.wait_input("[1 file] › ")
    terminal.type("summarise\r")
    terminal.wait_for("echo: summarise [document 'annual report.pdf' 2 pages")
    terminal.wait_input("› ")


def test_files_given_with_a_wait_for_the_first_message(fake_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = files(tmp_path / "user")
    term = Terminal(home, home, "-a", "shot.png", "-a", "notes.md")
    try:
        term.wait_input("[2 files] › ")
        term.type("look\r")
        term.wait_for("echo: File: notes.md")
        term.wait_input("› ")
        content = fake_api.requests[-1].body["messages"][0]["content"]
        assert [b["type"] for b in content] == ["image", "text", "text"]
        assert content[1]["text"] == "File: notes.md\n\n# Notes\n"
    finally:
        term.child.close(force=True)


def test_two_files_of_one_name_are_sent_by_two_names(terminal, fake_api) -> None:  # type: ignore[no-untyped-def]
    """`/attach a/notes.md b/notes.md` sent two `File: notes.md`: which was which, Claude
    could not tell."""
    write(terminal.home / "b" / "notes.md", b"# Other notes\n")
    terminal.type("/attach notes.md b/notes.md\r")
    terminal.wait_for("attached 2: notes-2.md · text/plain")
    terminal.wait_input("[2 files] › ")
    terminal.type("compare\r")
    terminal.wait_for("echo: File: notes.md")
    terminal.wait_input("› ")
    texts = [b["text"] for b in fake_api.requests[-1].body["messages"][0]["content"]]
    assert texts == [
        "File: notes.md\n\n# Notes\n",
        "File: notes-2.md\n\n# Other notes\n",
        "compare",
    ]


def test_files_of_a_refused_message_go_with_it_not_with_the_next(terminal, fake_api) -> None:  # type: ignore[no-untyped-def]
    """The message is set aside with its files; they stayed pending too, and went again
    with the next message (which failed as well, when the files made it too long)."""
    from fakes.anthropic_api import ErrorReply

    terminal.type("/attach notes.md\r")
    terminal.wait_input("[1 file] › ")
    fake_api.queue(ErrorReply(400, "invalid_request_error", "prompt is too long"))
    terminal.type("read this\r")
    terminal.wait_for("a new message goes without it")
    terminal.wait_input("› ")
    terminal.type("/retry\r")
    terminal.wait_for("echo: File: notes.md")  # /retry sends the message with its file
    terminal.wait_input("› ")
    terminal.type("thanks\r")
    terminal.wait_for("echo: thanks")
    terminal.wait_input("› ")
    last = fake_api.requests[-1].body["messages"][-1]["content"]
    assert [b.get("text") for b in last if b["type"] == "text"] == ["thanks"]


def test_edit_keeps_the_files_of_the_message_it_edits(terminal, fake_api) -> None:  # type: ignore[no-untyped-def]
    """/edit sent the new text alone: the edited message's files were dropped unsaid."""
    from fakes.anthropic_api import ErrorReply

    terminal.type("/attach notes.md\r")
    terminal.wait_input("[1 file] › ")
    fake_api.queue(ErrorReply(400, "invalid_request_error", "prompt is too long"))
    terminal.type("summarize this plz\r")
    terminal.wait_for("a new message goes without it")
    terminal.wait_input("› ")
    terminal.type("/edit\r")
    terminal.wait_for("edit› ")
    terminal.type("\x15summarize this please\r")
    terminal.wait_for("echo: File: notes.md")
    terminal.wait_input("› ")
    last = fake_api.requests[-1].body["messages"][-1]["content"]
    texts = [b["text"] for b in last if b["type"] == "text"]
    assert texts == ["File: notes.md\n\n# Notes\n", "summarize this please"]


def test_a_file_larger_than_the_models_window_is_told_to_go(terminal, fake_api) -> None:  # type: ignore[no-untyped-def]
    """It said "raise --max-context-tokens", which no budget can do past the model's window
    (1,000,000 tokens here); the file waits still, and /detach takes it off."""
    write(terminal.home / "huge.txt", b"word " * 1_200_000)  # 6 MB of text
    terminal.type("/attach ~/huge.txt\r")
    terminal.wait_for("attached 1: huge.txt")
    terminal.type("what is in it?\r")
    lines = terminal.wait_for("/detach N takes a file off it")
    said = " ".join(" ".join(lines).split())
    assert "whole context window of 1,000,000 tokens; send less" in said
    assert "raise max_context_tokens" not in said and "--max-context-tokens" not in said
    terminal.wait_input("[1 file] › ")
    assert not fake_api.requests
