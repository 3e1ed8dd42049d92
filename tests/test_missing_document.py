"""A row whose document the store lacks while it answers, on both configurations: no outage,
so the copy kept on this machine does not stand in for it; `doctor` puts that copy back."""

from __future__ import annotations

import json
from pathlib import Path

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_blob_store
from claudechat.storage.ids import document_key
from conftest import content_text, leave_copy_behind, save_conversation


def saved(text: str) -> Conversation:
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", text)
    conversation.append("assistant", f"about {text}")
    save_conversation(conversation)
    return conversation


def lose_document(conversation: Conversation) -> None:
    """Its document gone from the store, its row and this machine's copy left."""
    open_blob_store(load_settings()).delete(document_key(conversation.user_id, conversation.id))


def test_show_and_export_refuse_what_the_store_lacks_and_name_the_copy_here(  # type: ignore[no-untyped-def]
    cli, backend, isolated_home, tmp_path: Path
) -> None:
    """The store answered that the document was gone, and `show` and `export` printed this
    machine's copy with "which may be stale", exit 0; `export --all` wrote it as the
    conversation, while `usage` left it out and `doctor` called it missing."""
    lost, kept = saved("the lost one"), saved("the kept one")
    lose_document(lost)
    assert (isolated_home / "cache" / "tester" / f"{lost.id}.json").exists()
    for command in (["show", lost.id], ["export", lost.id[:8]], ["show", lost.id, "--json"]):
        refused = cli(*command)
        assert refused.returncode == 1 and refused.stdout == "", (command, refused.stdout)
        (line,) = refused.stderr.splitlines()
        assert line.startswith("claudechat: no document at "), line
        assert "this machine keeps a copy, which may be older" in line
        assert "`claudechat doctor` puts it back" in line
    folder = tmp_path / "all"
    folder.mkdir()
    every = cli("export", "--all", "-f", "json", "-o", str(folder))
    assert every.returncode == 1 and "1 could not be read" in every.stderr, every.stderr
    assert "skipped: no document at " in every.stderr and "may be stale" not in every.stderr
    assert [p.name for p in folder.iterdir()] == [f"{kept.id}.json"]
    used = cli("usage", "--json")
    assert used.returncode == 0 and "not counted: no document at " in used.stderr
    assert "this machine keeps a copy, which may be older" in used.stderr, used.stderr
    assert "`claudechat doctor` puts it back" in used.stderr


def test_doctor_puts_back_the_copy_kept_on_this_machine(cli, backend, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """`doctor` reported the row whose document is missing, exit 1, and said nothing of the
    copy on this machine: the only data left. It may be older than the document lost (this
    one is: another machine saved a turn since), and the row then says what it holds."""
    lost = saved("the lost one")
    leave_copy_behind(isolated_home, lost)
    lose_document(lost)
    repaired = cli("doctor")
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout == (
        f"{lost.id}\trow whose document was missing: restored from the copy kept on this "
        "machine, which may be older than the one lost\n"
    )
    assert "repaired" in repaired.stderr
    shown = json.loads(cli("show", lost.id, "--json").stdout)
    texts = [content_text(m["content"]) for m in shown["messages"]]
    assert texts == ["the lost one", "about the lost one"]
    assert cli("doctor").stderr.strip() == "documents and rows agree"
    assert cli("search", "another", "machine").stdout == ""  # its lost turn is not found
    (row,) = json.loads(cli("list", "--json").stdout)
    assert row["id"] == lost.id and row["messages"] == 2


def test_a_missing_document_without_a_copy_here_is_still_reported(  # type: ignore[no-untyped-def]
    cli, backend, isolated_home
) -> None:
    lost = saved("gone everywhere")
    lose_document(lost)
    (isolated_home / "cache" / "tester" / f"{lost.id}.json").unlink()
    shown = cli("show", lost.id)
    assert shown.returncode == 1 and "lists the conversations without one" in shown.stderr
    used = cli("usage")
    assert used.returncode == 0 and "not counted: no document at " in used.stderr
    assert "lists the conversations without one" in used.stderr
    assert "keeps a copy" not in used.stderr
    doctor = cli("doctor")
    assert doctor.returncode == 1
    assert doctor.stdout == f"{lost.id}\trow whose document is missing\n"
