"""The storage contract for attachments, on both configurations: content-addressed blobs under
the user's prefix (stored once however often they are used), pushed before the documents
that reference them, and the reference table that finds attachments nobody uses any more."""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect

from attachment_files import pdf_bytes, png_bytes
from claudechat.attachments import Attachment, from_bytes
from claudechat.blocks import text_block
from claudechat.conversation import Conversation, Message
from claudechat.settings import load_settings
from claudechat.storage import migrate, open_store
from claudechat.storage.attachments import attachment_key
from claudechat.storage.repair import doctor
from claudechat.storage.store import ConversationStore

PDF = from_bytes(pdf_bytes(["one", "two"]), "report.pdf")
PNG = from_bytes(png_bytes(), "shot.png")


@pytest.fixture
def store(backend) -> Iterator[ConversationStore]:  # type: ignore[no-untyped-def]
    opened = open_store(load_settings())
    yield opened
    opened.close()


def with_attachments(
    store: ConversationStore, *attachments: Attachment, text: str = "about these"
) -> Conversation:
    """A conversation whose first message carries the attachments, saved as a session does."""
    assert store.attachments is not None
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    blocks = [a.block() for a in attachments] + [text_block(text)]
    conversation.add(Message(role="user", content=blocks))
    for attachment in attachments:
        store.attachments.keep("tester", attachment)
    result = store.save(conversation)
    assert result.pushed, result.error
    return conversation


def test_an_attachment_is_stored_once_by_digest_under_the_users_prefix(store) -> None:  # type: ignore[no-untyped-def]
    first = with_attachments(store, PDF, PNG)
    second = with_attachments(store, PDF)
    store.save(second)  # saving again changes nothing
    keys = store.blobs.list("tester/attachments/")
    assert sorted(keys) == sorted(
        f"tester/attachments/{hashlib.sha256(a.data).hexdigest()}" for a in (PDF, PNG)
    )
    assert store.blobs.get(attachment_key("tester", PDF.sha256)) == PDF.data
    # Another process (nothing cached, nothing waiting locally) reads it from the store.
    fresh = open_store(load_settings())
    assert fresh.attachments is not None
    assert fresh.attachments.get("tester", PDF.sha256) == PDF.data
    fresh.close()
    # Nothing waits locally once pushed, and doctor does not take attachments for documents.
    assert store.attachments is not None
    assert store.attachments.local.list("tester/") == []
    report = doctor(store, "tester")
    assert (report.corrupt, report.missing) == ([], [])
    assert {first.id, second.id} == {c.conversation_id for c in store.list("tester").rows}


def test_the_reference_table_finds_attachments_nobody_uses(store) -> None:  # type: ignore[no-untyped-def]
    first = with_attachments(store, PDF, PNG)
    second = with_attachments(store, PDF)
    assert store.attachments is not None
    removed: list[str] = []
    forget = functools.partial(store.attachments.forget_conversation, remove=removed.append)
    # The PNG was only in the first conversation; the PDF is still in the second.
    assert forget(store.metadata, "tester", first.id) == [PNG.sha256]
    assert forget(store.metadata, "tester", second.id) == [PDF.sha256]
    assert forget(store.metadata, "tester", second.id) == []
    assert removed == [PNG.sha256, PDF.sha256]


def test_a_row_doctor_recreates_is_searched_and_keeps_its_attachments(store, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """doctor made the row alone: the conversation was in no search until `db reindex`, and
    deleting another conversation that used its attachment removed the attachment."""
    from sqlalchemy import delete

    from claudechat.storage.schema import attachment_refs, conversations, search_messages

    orphan = with_attachments(store, PDF, text="the xylophone budget")
    other = with_attachments(store, PDF)
    with store.metadata.writing() as connection:  # as if the row was lost with a crash
        for table in (conversations, search_messages, attachment_refs):
            connection.execute(delete(table).where(table.c.conversation_id == orphan.id))
    assert doctor(store, "tester").adopted == [orphan.id]
    found = json.loads(cli("search", "xylophone", "--json").stdout)
    assert [hit["id"] for hit in found] == [orphan.id]
    deleted = cli("delete", other.id, "--yes")
    assert deleted.returncode == 0 and "attachment" not in deleted.stderr, deleted.stderr
    got = cli("attachment", "get", f"{orphan.id}/1", "-o", str(tmp_path / "got.pdf"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "got.pdf").read_bytes() == PDF.data


def test_keys_are_built_only_from_a_digest_and_a_valid_user() -> None:
    from claudechat.errors import UsageError

    assert attachment_key("tester", "ab" * 32) == f"tester/attachments/{'ab' * 32}"
    for digest in ("../../etc", "AB" * 32, "ab" * 31):
        with pytest.raises(UsageError):
            attachment_key("tester", digest)
    with pytest.raises(UsageError):
        attachment_key("../other", "ab" * 32)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migration_0005_adds_and_removes_the_reference_table(request, tmp_path, dialect) -> None:  # type: ignore[no-untyped-def]
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'refs.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"refs_{uuid.uuid4().hex[:10]}")
    engine = create_engine(url)
    migrate.upgrade(engine, "0002")
    assert not inspect(engine).has_table("attachment_refs")
    migrate.upgrade(engine, "0005")
    assert inspect(engine).has_table("attachment_refs")
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("attachment_refs")}
    assert "ix_attachment_refs_conversation" in indexes
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), "0002")
    assert not inspect(engine).has_table("attachment_refs")
    engine.dispose()


def test_doctor_finds_an_attached_file_the_store_lost_and_puts_back_a_copy_it_has(  # type: ignore[no-untyped-def]
    store, cli
) -> None:
    """Lost (a delete's race, fixed since; a hand in the bucket), the conversation could not be
    continued, and doctor said its documents and rows agreed."""
    assert store.attachments is not None
    lost = with_attachments(store, PDF, text="lost")
    kept = with_attachments(store, PNG, text="kept here")
    for attachment in (PDF, PNG):
        store.blobs.delete(attachment_key("tester", attachment.sha256))
    store.attachments.local.put(attachment_key("tester", PNG.sha256), PNG.data)  # waiting here
    checked = cli("doctor")
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.splitlines() == [
        f"{kept.id}\tattached file missing from the store: put back from this machine ({PNG.name})",
        f"{lost.id}\tattached file missing from the store ({PDF.name})",
    ]
    assert "1 conversation missing attached files" in checked.stderr
    assert store.blobs.get(attachment_key("tester", PNG.sha256)) == PNG.data


def test_doctor_leaves_the_row_of_a_save_under_way_elsewhere_to_it(store, cli) -> None:  # type: ignore[no-untyped-def]
    """A document in, its row still to come from a running process (its journal entry says
    so): doctor said "document without a row: row re-created" and "repaired"."""
    from sqlalchemy import delete

    from claudechat.storage.journal import Journal
    from claudechat.storage.schema import conversations

    saving = with_attachments(store, PNG, text="saving")
    with store.metadata.writing() as connection:  # the row not written yet
        connection.execute(
            delete(conversations).where(conversations.c.conversation_id == saving.id)
        )
    elsewhere = Journal(load_settings().data_dir / "journal", writer="a-running-session")
    elsewhere.write(saving)  # holds its writer's lock while this test runs
    try:
        checked = cli("doctor")
        assert (checked.returncode, checked.stdout) == (0, ""), checked.stderr
        assert checked.stderr.strip().endswith("documents and rows agree")
    finally:
        for entry in elsewhere.for_conversation("tester", saving.id):
            elsewhere.discard(entry)  # as if lost with its machine
        elsewhere.release()
    adopted = cli("doctor")  # that process gone, its row never came: a crash's, re-created
    assert adopted.stdout == f"{saving.id}\tdocument without a row: row re-created\n"
