"""The REPL once its conversation was deleted from another shell: nothing more is sent."""

from __future__ import annotations

import json

import pexpect
import pytest

from repl_pty import document, started, texts, turn
from test_repl import PROMPT, UP, say

pytestmark = pytest.mark.pty
REFUSED = "was deleted elsewhere, so nothing more is sent in it"


def test_nothing_more_is_sent_once_a_save_found_the_conversation_deleted(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """Every message and /retry after the delete went to Claude with the whole context, was
    streamed to its end and billed, and only then was refused its save."""
    child, log = started()
    turn(child, "one")
    [row] = json.loads(cli("list", "--json").stdout)
    assert cli("delete", row["id"], "--yes").returncode == 0
    say(child, "two")  # its save beside the request is what finds the delete
    child.expect_exact("was deleted (by another session or client)")
    child.expect_exact(PROMPT)
    asked = len(fake_api.requests)
    say(child, "three")
    child.expect_exact(REFUSED)
    child.expect_exact("Up brings your message back")
    child.expect_exact(PROMPT)
    for command in ("/retry", "/edit"):
        say(child, command)
        child.expect_exact(REFUSED)
        child.expect_exact(PROMPT)
    assert len(fake_api.requests) == asked
    assert "echo: three" not in log.getvalue()
    child.send(UP + UP + UP)  # past /edit and /retry: the message refused is still there
    child.expect_exact("three")
    child.send("\x15")  # Ctrl-U: the line cleared
    say(child, "/fork")
    child.expect(r"forked ([0-9a-f]{8}) from")
    fork_id = child.match.group(1)
    child.expect_exact(PROMPT)
    turn(child, "four")
    assert texts(document(cli, fork_id)["messages"]) == [
        "one",
        "echo: one",
        "two",
        "echo: two",
        "four",
        "echo: four",
    ]
    child.sendeof()
    child.expect(pexpect.EOF)


def test_a_fork_of_a_deleted_conversation_keeps_its_attachments(fake_api, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The delete took the attachments no other conversation used, and the fork's document
    still pointed at them: the fork's file could not be sent again or got back."""
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\nkept\n")
    child, log = started()
    say(child, f"/attach {notes}")
    child.expect_exact("[1 file]")
    say(child, "one")
    child.expect_exact("echo:")
    child.expect_exact(PROMPT)
    [row] = json.loads(cli("list", "--json").stdout)
    assert cli("delete", row["id"], "--yes").returncode == 0
    say(child, "two")
    child.expect_exact("was deleted (by another session or client)")
    child.expect_exact(PROMPT)
    say(child, "/fork")
    child.expect(r"forked ([0-9a-f]{8}) from")
    fork_id = child.match.group(1)
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    assert "went with the deleted conversation" not in log.getvalue()
    got = cli("attachment", "get", f"{fork_id}/1", "-o", str(tmp_path / "back.md"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "back.md").read_bytes() == notes.read_bytes()


def test_a_fork_before_the_delete_was_met_names_the_files_gone(fake_api, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Nothing sent since the delete, so no save had met it: /fork said the deleted parent was
    "unchanged" and made a fork whose files were gone, naming none of them."""
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n")
    assert cli("chat", "-a", str(notes), "one").returncode == 0
    [row] = json.loads(cli("list", "--json").stdout)
    child, log = started("--resume", row["id"])  # at its prompt
    assert cli("delete", row["id"], "--yes").returncode == 0
    say(child, "/fork")
    child.expect(r"forked ([0-9a-f]{8}) from")
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    said = " ".join(log.getvalue().split())
    assert "was deleted elsewhere" in said
    assert "1 attached file went with the deleted conversation" in said and "notes.md" in said
