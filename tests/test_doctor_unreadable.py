"""`doctor` and a stored document that cannot be read, on both configurations: it reported
it, exit 1, though this machine kept a good copy, which it puts back for a document that is
gone. Now what cannot be read is kept beside its key and the copy put back."""

from __future__ import annotations

import json

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_blob_store
from claudechat.storage.ids import document_key
from conftest import content_text, leave_copy_behind
from test_missing_document import saved


def spoil(conversation: Conversation) -> None:
    """Its stored document replaced by one that is no JSON (this machine's copy stays)."""
    blobs = open_blob_store(load_settings())
    blobs.put(document_key(conversation.user_id, conversation.id), b"garbage")


def test_doctor_sets_an_unreadable_document_aside_and_puts_back_the_copy(  # type: ignore[no-untyped-def]
    cli, backend, isolated_home
) -> None:
    """The copy here is older (another machine saved a turn since): the row, which never goes
    back in time, and the search entries then say what the copy holds."""
    spoiled, kept = saved("the spoiled one"), saved("the kept one")
    leave_copy_behind(isolated_home, spoiled)
    spoil(spoiled)
    shown = cli("show", spoiled.id)
    assert shown.returncode == 1 and "conversation document is corrupt" in shown.stderr
    assert "this machine keeps a copy" in shown.stderr, shown.stderr
    assert "`claudechat doctor` sets this document aside" in shown.stderr

    repaired = cli("doctor")
    assert repaired.returncode == 0, repaired.stderr
    aside_line, replaced_line = repaired.stdout.splitlines()
    assert aside_line.startswith(
        f"{spoiled.id}\tdocument that cannot be read, set aside (invalid JSON "
    ), aside_line
    blobs = open_blob_store(load_settings())
    (aside,) = [k for k in blobs.list("tester/") if ".unreadable-" in k]
    assert aside.startswith(f"tester/{spoiled.id}.json.unreadable-")
    assert f"kept as {blobs.location(aside)})" in aside_line
    assert blobs.get(aside) == b"garbage"  # never destroyed
    assert replaced_line == (
        f"{spoiled.id}\tdocument that could not be read: replaced by the copy kept on this "
        "machine, which may be older than the one set aside"
    )
    assert repaired.stderr.strip().endswith("repaired")

    shown = json.loads(cli("show", spoiled.id, "--json").stdout)
    texts = [content_text(m["content"]) for m in shown["messages"]]
    assert texts == ["the spoiled one", "about the spoiled one"]
    rows = {row["id"]: row for row in json.loads(cli("list", "--json").stdout)}
    assert rows.keys() == {spoiled.id, kept.id} and rows[spoiled.id]["messages"] == 2
    assert spoiled.id[:8] in cli("search", "spoiled").stdout
    assert cli("search", "another", "machine").stdout == ""  # its lost turn is not found
    again = cli("doctor")
    assert again.returncode == 0 and again.stdout == "", again.stdout
    assert again.stderr.strip() == "documents and rows agree"
    # Deleted, the conversation takes what was set aside of it along (it stayed for good).
    deleted = cli("delete", "--yes", spoiled.id)
    assert deleted.returncode == 0, deleted.stderr
    assert "1 unreadable copy doctor set aside" in deleted.stderr, deleted.stderr
    assert [k for k in blobs.list("tester/") if ".unreadable-" in k] == []
    assert kept.id in cli("list", "--json").stdout  # the other one's keys untouched


def test_an_unreadable_document_without_a_copy_is_reported_and_left_as_it_is(  # type: ignore[no-untyped-def]
    cli, backend, isolated_home
) -> None:
    spoiled = saved("spoiled everywhere")
    spoil(spoiled)
    (isolated_home / "cache" / "tester" / f"{spoiled.id}.json").unlink()
    shown = cli("show", spoiled.id)
    assert shown.returncode == 1 and "keeps a copy" not in shown.stderr
    doctor = cli("doctor")
    assert doctor.returncode == 1
    assert doctor.stdout.startswith(f"{spoiled.id}\tdocument that cannot be read (invalid JSON ")
    assert doctor.stderr.strip().endswith(
        "0 rows without a document, 1 unreadable document, 0 unreadable journal entries"
    ), doctor.stderr
    blobs = open_blob_store(load_settings())
    assert blobs.list("tester/") == [document_key("tester", spoiled.id)]
    assert blobs.get(document_key("tester", spoiled.id)) == b"garbage"
