"""Files sent alone from the REPL, as pipe mode sends them: Enter on an empty line."""

from __future__ import annotations

import pytest

from test_repl_attach import Terminal, files

pytestmark = pytest.mark.pty


def test_enter_on_an_empty_line_sends_the_files_waiting(fake_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Enter did nothing, and said nothing, with files waiting: the prompt came back as
    `[1 file] ›`, where `chat -a FILE </dev/null` sends the file alone."""
    home = files(tmp_path / "user")
    term = Terminal(home, home)
    try:
        term.wait_input("› ")
        term.type("\r")  # nothing waits: nothing is sent
        term.wait_input("› ")
        term.type("/attach notes.md\r")
        term.wait_input("[1 file] › ")
        term.type("   \r")  # spaces are no text
        term.wait_for("echo: File: notes.md")
        term.wait_input("› ")
        [request] = fake_api.requests
        [message] = request.body["messages"]
        assert [b["text"] for b in message["content"]] == ["File: notes.md\n\n# Notes\n"]
    finally:
        term.child.close(force=True)
