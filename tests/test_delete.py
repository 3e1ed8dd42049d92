"""rename and delete, on both configurations: asked in a terminal, whole or not at all."""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from pathlib import Path

import pexpect
import pytest

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_blob_store, open_store
from claudechat.storage.ids import document_key
from test_faults import blobs_down, database_down  # noqa: F401  (fixtures)


def saved(text: str, user: str = "tester") -> Conversation:
    conversation = Conversation.new(user, "claude-sonnet-4-6")
    conversation.append("user", text)
    conversation.append("assistant", f"about {text}")
    store = open_store(load_settings())
    assert store.save(conversation).pushed
    store.close()
    return conversation


def document_exists(conversation: Conversation) -> bool:
    """Its document is there (a deleted one leaves a tombstone in its place)."""
    from claudechat.storage.documents import is_tombstone

    blobs = open_blob_store(load_settings())
    key = document_key(conversation.user_id, conversation.id)
    return key in blobs.list(f"{conversation.user_id}/") and not is_tombstone(blobs.get(key))


def test_rename(cli) -> None:  # type: ignore[no-untyped-def]
    conversation = saved("naming things")
    result = cli("rename", conversation.id[:8], "Hard problems")
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"renamed {conversation.id[:8]} to “Hard problems”\n"
    assert cli("list").stdout.split("\t")[1] == "Hard problems"
    assert json.loads(cli("show", conversation.id, "--json").stdout)["name"] == "Hard problems"
    quoting = cli("rename", conversation.id[:8], """He said "hi" it's ok""")
    # Shown as it is: repr escaped the quote (it\'s), a backslash the name does not hold.
    assert quoting.stderr == f"""renamed {conversation.id[:8]} to “He said "hi" it's ok”\n"""
    assert cli("rename", conversation.id, "two\nlines").returncode == 2
    assert cli("rename", str(uuid.uuid4()), "x").returncode == 1


def test_delete_removes_document_row_and_search_entries(cli, backend) -> None:  # type: ignore[no-untyped-def]
    doomed = saved("the zanzibar itinerary")
    kept = saved("the zanzibar budget")
    assert len(json.loads(cli("search", "zanzibar", "--json").stdout)) == 4
    result = cli("delete", doomed.id[:8], "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"deleted {doomed.id}: document ")
    assert "metadata row, 2 search entries" in result.stderr
    assert not document_exists(doomed) and document_exists(kept)
    assert cli("show", doomed.id).returncode == 1
    assert [line.split("\t")[0] for line in cli("list").stdout.splitlines()] == [kept.id[:8]]
    # Its text no longer matches any search; the other conversation's still does.
    hits = json.loads(cli("search", "itinerary", "--json").stdout)
    assert hits == []
    assert {h["id"] for h in json.loads(cli("search", "zanzibar", "--json").stdout)} == {kept.id}
    assert cli("list", "--search", "itinerary").stdout == ""


def test_delete_in_a_pipe_needs_yes(cli) -> None:  # type: ignore[no-untyped-def]
    conversation = saved("keep me")
    result = cli("delete", conversation.id)
    assert result.returncode == 2
    assert "refusing to delete without --yes" in result.stderr
    assert document_exists(conversation)


def spawn_delete(*references: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "claudechat", "delete", *references],
        env=dict(os.environ),
        encoding="utf-8",
        timeout=30,
    )


def test_delete_asks_in_a_terminal() -> None:  # type: ignore[no-untyped-def]
    first, second = saved("first to go"), saved("second to go")
    child = spawn_delete(first.id[:8], second.id[:8])
    child.expect_exact("first to go")
    child.expect_exact("Delete 2 conversations for good? [y/N]")
    child.send("n\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert document_exists(first) and document_exists(second)

    child = spawn_delete(first.id[:8], second.id[:8])
    child.expect_exact("[y/N]")
    child.sendeof()  # Ctrl-D: a no, not a traceback
    child.expect_exact("nothing deleted")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and "Traceback" not in (child.before or "")
    assert document_exists(first) and document_exists(second)

    child = spawn_delete(first.id[:8], second.id[:8])
    child.expect_exact("[y/N]")
    child.send("y\r")
    child.expect_exact(f"deleted {first.id}")
    child.expect_exact(f"deleted {second.id}")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not document_exists(first) and not document_exists(second)


def test_delete_asks_again_after_an_answer_neither_yes_nor_no() -> None:  # type: ignore[no-untyped-def]
    """ "maybe" was taken for a no without a word."""
    kept, gone = saved("to keep"), saved("to go")
    child = spawn_delete(kept.id[:8])
    for typo in ("maybe", "yse", "nope"):
        child.expect_exact("[y/N]")
        child.send(f"{typo}\r")
        child.expect_exact(f"answer y or n, not “{typo}”")
    child.expect_exact("nothing deleted")  # asked three times: a no
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and document_exists(kept)

    child = spawn_delete(gone.id[:8])
    child.expect_exact("[y/N]")
    child.send("maybe\r")
    child.expect_exact("answer y or n")
    child.expect_exact("[y/N]")
    child.send("y\r")
    child.expect_exact(f"deleted {gone.id}")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and not document_exists(gone)


def test_ctrl_c_at_the_delete_question_says_interrupted_on_a_line_of_its_own() -> None:  # type: ignore[no-untyped-def]
    """It came after the question on its line: "[y/N] ^Cclaudechat: interrupted"."""
    conversation = saved("to keep")
    child = spawn_delete(conversation.id[:8])
    child.expect_exact("[y/N] ")
    child.send("\x03")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    after_question = re.sub(r"\x1b\[[0-9;]*m", "", child.before)  # the line's red left out
    assert after_question.splitlines()[-1] == "claudechat: interrupted", after_question
    assert document_exists(conversation)


def test_another_users_id_answers_as_a_missing_one(cli, backend) -> None:  # type: ignore[no-untyped-def]
    theirs = saved("alice's diary", user="alice")
    missing = str(uuid.uuid4())
    for reference in (theirs.id, theirs.id[:8]):
        result = cli("delete", reference, "--yes")
        unknown = cli("delete", missing if len(reference) == 36 else missing[:8], "--yes")
        assert result.returncode == unknown.returncode == 1
        assert result.stderr.replace(reference, "X") == unknown.stderr.replace(
            missing[: len(reference)], "X"
        )
    assert document_exists(theirs)


def test_one_unknown_id_deletes_nothing(cli) -> None:  # type: ignore[no-untyped-def]
    conversation = saved("survivor")
    result = cli("delete", conversation.id, str(uuid.uuid4()), "--yes")
    assert result.returncode == 1
    assert document_exists(conversation)


@pytest.mark.parametrize("down", ["database_down", "blobs_down"])
def test_delete_during_an_outage_is_refused_whole(cli, backend, request, down) -> None:  # type: ignore[no-untyped-def]
    conversation = saved("outage proof")
    with request.getfixturevalue(down)():
        result = cli("delete", conversation.id, "--yes")
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    assert document_exists(conversation)
    assert cli("show", conversation.id).returncode == 0
    hits = json.loads(cli("search", "outage", "--json").stdout)
    assert {h["id"] for h in hits} == {conversation.id}


def test_a_deleted_conversation_is_not_offered_from_the_local_copy(cli, backend, request) -> None:  # type: ignore[no-untyped-def]
    doomed, kept = saved("to be forgotten"), saved("to be kept")
    for conversation in (doomed, kept):
        assert cli("show", conversation.id).returncode == 0  # both are read on this machine
    assert cli("delete", doomed.id, "--yes").returncode == 0
    with request.getfixturevalue("database_down")():
        listed = cli("list")
        shown = cli("show", doomed.id)
    assert doomed.id[:8] not in listed.stdout
    assert shown.returncode != 0 and "to be forgotten" not in shown.stdout


def test_a_turn_running_when_its_conversation_is_deleted_does_not_bring_it_back(  # type: ignore[no-untyped-def]
    cli, backend, fake_api, tmp_path
) -> None:
    """A session still running (another terminal, a serve request) saved its next turn over
    the deletion, and the conversation was back, whole. Its export can still bring it back."""
    from claudechat.chat import ChatSession
    from claudechat.claude import Claude
    from claudechat.errors import ConversationDeletedError

    settings = load_settings()
    session = ChatSession.start(settings, open_store(settings), Claude(settings))
    session.send("first", lambda _text: None)
    exported = tmp_path / "kept.json"
    assert cli("export", session.conversation.id, "-o", str(exported)).returncode == 0
    assert cli("delete", "-y", session.conversation.id).returncode == 0
    with pytest.raises(ConversationDeletedError, match="was deleted"):
        session.send("second", lambda _text: None)
    assert cli("list", "--json").stdout.strip() == "[]"
    assert cli("show", session.conversation.id).returncode == 1
    assert not document_exists(session.conversation)
    assert session.store.journal.entries("tester") == []  # nothing left to push back
    doctor = cli("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert cli("import", str(exported)).returncode == 0  # its export brings it back
    shown = json.loads(cli("show", "--json", session.conversation.id).stdout)
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"]


@pytest.mark.parametrize("backend", ["team"], indirect=True)  # machines share a store
def test_a_conversation_deleted_on_another_machine_leaves_this_ones_copy_too(  # type: ignore[no-untyped-def]
    cli, backend, request, tmp_path
) -> None:
    """Only the deleting machine's copy went: in this machine's next outage the deleted
    conversation was listed, shown and searched again, in that outage and every later one."""
    doomed, kept = saved("to be forgotten elsewhere"), saved("to be kept")
    for conversation in (doomed, kept):
        assert cli("show", conversation.id).returncode == 0  # copies on this machine
    elsewhere = {"CLAUDECHAT_HOME": str(tmp_path / "other-machine")}
    assert cli("delete", doomed.id, "--yes", env=elsewhere).returncode == 0
    assert doomed.id[:8] not in cli("list").stdout  # the store answers: its rows, read whole
    with request.getfixturevalue("database_down")():
        listed = cli("list")
        shown = cli("show", doomed.id)
        found = cli("search", "forgotten", "--json")
    assert listed.returncode == 5 and kept.id[:8] in listed.stdout
    assert doomed.id[:8] not in listed.stdout
    assert shown.returncode != 0 and "to be forgotten" not in shown.stdout
    assert json.loads(found.stdout) == []


def test_usage_counts_the_copies_here_while_the_blob_store_is_down(  # type: ignore[no-untyped-def]
    cli, backend, fake_api, request
) -> None:
    """The first document the store could not give ended the command with nothing printed."""
    assert cli("chat", input="a question worth paying for").returncode == 0
    assert cli("list").returncode == 0
    with request.getfixturevalue("blobs_down")():
        used = cli("usage", "--json", env={"CLAUDECHAT_STORE_TIMEOUT": "2"})
    assert used.returncode == 5, used.stderr
    [row] = json.loads(used.stdout)
    assert row["cost"] > 0 and "Traceback" not in used.stderr


def test_a_row_that_outlived_its_deleted_document_is_not_called_corrupt(cli, backend) -> None:  # type: ignore[no-untyped-def]
    """A delete whose commit failed leaves the row beside the tombstone: `usage` warned of a
    corrupt document ("no format version") and `show` said the same."""
    from claudechat.storage.documents import tombstone

    doomed = saved("half deleted")
    blobs = open_blob_store(load_settings())
    blobs.put(document_key(doomed.user_id, doomed.id), tombstone(doomed.user_id, doomed.id))
    used = cli("usage")
    assert used.returncode == 0 and "corrupt" not in used.stderr, used.stderr
    shown = cli("show", doomed.id)
    assert shown.returncode == 1 and "was deleted" in shown.stderr, shown.stderr


def test_a_row_whose_document_is_missing_is_not_called_a_store_failure(  # type: ignore[no-untyped-def]
    cli, backend, isolated_home
) -> None:
    """The store answered that it has no such document: `show` exited 5, as for an outage,
    and said nothing of what to do; `doctor` reports the same state with exit 1."""
    lost = saved("its document went")
    open_blob_store(load_settings()).delete(document_key(lost.user_id, lost.id))
    (isolated_home / "cache" / "tester" / f"{lost.id}.json").unlink()
    shown = cli("show", lost.id)
    assert shown.returncode == 1, shown.stderr
    (line,) = shown.stderr.splitlines()
    assert line.startswith("claudechat: no document at ") and "`claudechat doctor`" in line


def test_only_a_conversation_pushed_here_can_be_found_deleted(cli, backend, fake_api) -> None:  # type: ignore[no-untyped-def]
    """A conversation resumed from another session's journal entry has no row yet: leaving
    said it was "deleted elsewhere". One this session pushed, then deleted, is."""
    from claudechat.chat import ChatSession
    from claudechat.claude import Claude

    settings = load_settings()
    store = open_store(settings)
    unpushed = Conversation.new("tester", "claude-sonnet-4-6")
    unpushed.append("user", "only in another session's journal")
    session = ChatSession(settings, store, Claude(settings), unpushed)
    assert not session.deleted_since_saved()
    session.send("now pushed", lambda _text: None)
    assert not session.deleted_since_saved()
    assert cli("delete", unpushed.id, "--yes").returncode == 0
    assert session.deleted_since_saved()
    store.close()


def files_holding(folder: Path, text: str) -> list[str]:
    return sorted(
        p.name for p in folder.rglob("*") if p.is_file() and text in p.read_text("latin-1")
    )


def test_a_deleted_conversation_leaves_no_copy_here_however_often_it_was_read(  # type: ignore[no-untyped-def]
    cli, isolated_home
) -> None:
    """Each read linked the stored file in again under a temp name that a rename over a link
    to the same file never removed: one more name per read, which trimming and `delete`
    left, so the whole conversation stayed on disk after its delete."""
    doomed = saved("secret-token-xyz")
    for _ in range(3):
        assert cli("show", doomed.id).returncode == 0
    assert [p.name for p in (isolated_home / "cache" / "tester").iterdir()] == [f"{doomed.id}.json"]
    assert cli("delete", doomed.id, "--yes").returncode == 0
    assert files_holding(isolated_home, "secret-token-xyz") == []


def test_links_left_under_a_temp_name_by_an_earlier_version_are_removed(cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """A home an earlier version used heals: a delete removes its conversation's, and the
    next new copy trims the rest."""
    doomed, read = saved("secret-token-xyz"), saved("read often")
    copies = isolated_home / "cache" / "tester"
    for conversation, pid in ((doomed, 21500), (read, 21501)):
        stored = isolated_home / "conversations" / "tester" / f"{conversation.id}.json"
        os.link(stored, copies / f".{conversation.id}.json.{pid}.140584190736064.link")
    assert cli("delete", doomed.id, "--yes").returncode == 0
    assert files_holding(isolated_home, "secret-token-xyz") == []
    assert len(list(copies.glob(".*.link"))) == 1
    saved("a new conversation")
    assert list(copies.glob(".*.link")) == []
