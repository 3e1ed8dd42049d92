"""A journal scanned while its writers save: entries that change under the scan are no damage.

`serve` pushes its journal every few seconds while its turns write and remove their entries,
so a scan lists an entry that its writer removes (the store took the save) and writes again
(the next save) before the scan reads it. The moment is made here by removing and rewriting
the entry as the scan reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from claudechat.storage.journal import Journal


def _saved_twice(journal: Journal) -> tuple[Conversation, str]:
    convo = Conversation.new("tester", "m")
    convo.append("user", "first turn")
    first = journal.write(convo)
    convo.append("assistant", "first reply")
    return convo, first


def _around_first_read(
    journal: Journal, before: Callable[[], None], after: Callable[[], None]
) -> None:
    """Run `before` and `after` around the scan's first read of an entry."""
    read = journal.files.get_with_etag
    reads: list[str] = []

    def racing(key: str) -> tuple[bytes, str]:
        if reads:
            return read(key)
        reads.append(key)
        before()
        try:
            return read(key)
        finally:
            after()

    journal.files.get_with_etag = racing  # type: ignore[method-assign]


def _texts(journal: Journal, convo: Conversation) -> list[str]:
    (entry,) = journal.for_conversation("tester", convo.id)
    return [m.text for m in entry.conversation.messages]


def test_an_entry_removed_after_it_was_listed_is_skipped_not_damaged(tmp_path: Path) -> None:
    """Taken for damage, the entry was moved aside: whatever its writer had put there by
    then, a good entry that was then never pushed."""
    journal = Journal(tmp_path / "journal")
    convo, first = _saved_twice(journal)
    _around_first_read(
        journal,
        before=lambda: journal.remove(convo, first),  # the store took the save
        after=lambda: journal.write(convo),  # the next save, under the same name
    )
    scan = journal.scan("tester")
    assert scan.damaged == [] and journal.damaged() == []
    assert _texts(journal, convo) == ["first turn", "first reply"]
    journal.release()


def test_a_damaged_entry_rewritten_before_the_move_is_left_in_place(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    convo, _first = _saved_twice(journal)
    (key,) = journal.files.list("tester/")
    (journal.root / key).write_bytes(b'{"format": 2, "document": {not json')
    _around_first_read(journal, before=lambda: None, after=lambda: journal.write(convo))
    assert journal.scan("tester").damaged == []
    assert _texts(journal, convo) == ["first turn", "first reply"]

    (journal.root / key).write_bytes(b"{still not json")
    (moved,) = journal.scan("tester").damaged  # damage that stays is still moved aside
    assert Path(moved).read_bytes() == b"{still not json"
    journal.release()


@pytest.mark.parametrize("newer", ["document", "journal"])
def test_a_newer_claudechats_entry_waits_for_it_and_is_said_at_every_start(  # type: ignore[no-untyped-def]
    cli, fake_api, isolated_home, newer: str
) -> None:
    """After a downgrade, an entry the newer claudechat left (a turn saved in an outage) was
    moved aside as damaged with no reason, said once, and never pushed again after an
    upgrade back."""
    convo = Conversation.new("tester", "m")
    convo.append("user", "saved by claudechat of the future")
    document = {**convo.to_document(), "format": 99} if newer == "document" else {}
    entry = {"format": 99 if newer == "journal" else 2, "writer": "gone", "document": document}
    folder = isolated_home / "journal" / "tester"
    folder.mkdir(parents=True)
    kept = folder / f"{convo.id}.gone.json"
    kept.write_text(json.dumps(entry))

    for _start in range(2):
        listed = cli("list")
        assert listed.returncode == 0, listed.stderr
        assert "1 journal entry written by a newer claudechat" in listed.stderr
        assert "moved" not in listed.stderr
    assert kept.exists() and not (isolated_home / "journal" / "damaged").exists()
    doctor = cli("doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert "journal entry of a newer claudechat (kept; upgrade to push it)" in doctor.stdout


def _reads_recorded(journal: Journal) -> list[str]:
    """The keys of the entries the journal reads from here on, in order."""
    read = journal.files.get_with_etag
    reads: list[str] = []

    def recorded(key: str) -> tuple[bytes, str]:
        reads.append(key)
        return read(key)

    journal.files.get_with_etag = recorded  # type: ignore[method-assign]
    return reads


def test_a_scan_to_push_does_not_read_the_entries_it_is_told_to_leave(tmp_path: Path) -> None:
    """serve's drain leaves the conversations whose pushes wait in the worker (many, once
    turns are pushed as their conversations rest): their entries are not even read."""
    journal = Journal(tmp_path / "journal")
    waiting, _ = _saved_twice(journal)
    other, _ = _saved_twice(journal)
    reads = _reads_recorded(journal)
    scan = journal.scan("tester", pushable_only=True, leave={waiting.id})
    assert [e.conversation.id for e in scan.entries] == [other.id]
    assert [key.split("/")[1].split(".")[0] for key in reads] == [other.id]
    assert {e.conversation.id for e in journal.scan("tester").entries} == {waiting.id, other.id}
    journal.release()


def test_a_load_reads_only_the_entries_its_reference_can_name(tmp_path: Path) -> None:
    """A load by id or prefix reads the entries whose file names start with it (any writer's,
    an exited one's included), in any case; a reference that is no id reads them all."""
    from claudechat.storage.reading import _journal_prefix

    root = tmp_path / "journal"
    gone = Journal(root, writer="0" * 32)
    theirs, _ = _saved_twice(gone)
    gone.release()  # exited: its entry is pushable, and must be found
    journal = Journal(root)
    mine, _ = _saved_twice(journal)
    reads = _reads_recorded(journal)
    for conversation in (mine, theirs):
        reads.clear()
        prefix = _journal_prefix(conversation.id[:8].upper())
        assert [e.conversation.id for e in journal.entries("tester", prefix)] == [conversation.id]
        assert len(reads) == 1 and reads[0].split("/")[1].startswith(conversation.id)
    assert _journal_prefix("not an id") == ""
    assert {e.conversation.id for e in journal.entries("tester", "")} == {mine.id, theirs.id}
    journal.release()
