"""A delete that takes the last reference to a file while another conversation's save of the
same file is under way (found by a fault hunt): that save found the file stored already (the
deleted conversation's), dropped its local copy, and only then committed its reference. The
delete, seeing no reference but its own, removed the file: the other conversation pointed at
bytes gone for good, and could not be continued. Both configurations (test_attachment_storage's
`store` fixture: the embedded store and PostgreSQL + S3)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from claudechat.conversation import Conversation, Message
from claudechat.errors import ConversationDeletedError
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.removal import delete_conversation
from claudechat.storage.store import ConversationStore
from test_attachment_storage import PDF, store, with_attachments  # noqa: F401  (the fixture)


@pytest.fixture
def elsewhere(backend: Any) -> Iterator[ConversationStore]:
    """The same store opened again: another process's view of it."""
    opened = open_store(load_settings())
    yield opened
    opened.close()


def sending_the_same_file(store: ConversationStore) -> Conversation:  # noqa: F811
    """A conversation whose first message attaches PDF, kept locally as a session keeps it."""
    assert store.attachments is not None
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.add(Message(role="user", content=[PDF.block()]))
    store.attachments.keep("tester", PDF)
    return conversation


def file_of(store: ConversationStore, conversation: Conversation) -> bytes:  # noqa: F811
    assert store.attachments is not None
    store.attachments._cache.clear()  # read from the store, not this process's memory
    fresh = open_store(load_settings())
    try:
        assert fresh.attachments is not None
        (block,) = [b for b in conversation.messages[0].content if b.get("sha256")]
        return fresh.attachments.get("tester", block["sha256"])
    finally:
        fresh.close()


@contextlib.contextmanager
def deleted_before_its_references(
    monkeypatch: pytest.MonkeyPatch,
    elsewhere: ConversationStore,
    deleted: Conversation,
    saving: Conversation,
) -> Iterator[None]:
    """`deleted` deleted, whole, by another process, once `saving`'s save has pushed its
    document and before it commits its row and references."""
    record = ConversationStore.record

    def delete_then_record(self: ConversationStore, document: Conversation) -> bool:
        if document.id == saving.id:
            delete_conversation(elsewhere, "tester", deleted.id)
        return record(self, document)

    monkeypatch.setattr(ConversationStore, "record", delete_then_record)
    try:
        yield
    finally:  # not monkeypatch.undo(), which would undo the test's home too
        monkeypatch.setattr(ConversationStore, "record", record)


def test_a_delete_between_a_saves_push_and_its_references_leaves_the_file(  # type: ignore[no-untyped-def]
    store,  # noqa: F811
    elsewhere,
    monkeypatch,
) -> None:
    """The delete runs, whole, after the save pushed its document and before its row: the
    save pushes the file again from the copy it kept."""
    first = with_attachments(store, PDF)
    second = sending_the_same_file(store)
    with deleted_before_its_references(monkeypatch, elsewhere, first, second):
        assert store.save(second).pushed
    assert file_of(store, second) == PDF.data
    assert store.attachments is not None and store.attachments.local.list("tester/") == []


def test_a_save_waits_for_a_delete_removing_the_file_it_refers_to(  # type: ignore[no-untyped-def]
    store,  # noqa: F811
    elsewhere,
    monkeypatch,
) -> None:
    """The references a save commits go in before the delete's check or after its removal of
    the file, never between: the delete holds the file while it checks and removes."""
    first = with_attachments(store, PDF)
    second = sending_the_same_file(store)
    removing, go_on = threading.Event(), threading.Event()
    assert elsewhere.attachments is not None
    forget = elsewhere.attachments.forget_conversation

    def slow_forget(*args: Any) -> list[str]:
        metadata, user, conversation_id, remove = args

        def held_removal(sha256: str) -> None:
            removing.set()
            assert go_on.wait(20)
            remove(sha256)

        return forget(metadata, user, conversation_id, held_removal)

    monkeypatch.setattr(elsewhere.attachments, "forget_conversation", slow_forget)
    deleting = threading.Thread(target=delete_conversation, args=(elsewhere, "tester", first.id))
    deleting.start()
    try:
        assert removing.wait(20), "the delete never came to the file"
        saving = threading.Thread(target=store.save, args=(second,))
        saving.start()
        saving.join(0.5)
        assert saving.is_alive(), "the save's references went in while the delete held the file"
    finally:
        go_on.set()
        deleting.join(20)
    saving.join(20)
    assert not saving.is_alive()
    assert file_of(store, second) == PDF.data


def test_a_file_whose_shared_local_copy_another_save_dropped_is_put_back(  # type: ignore[no-untyped-def]
    store,  # noqa: F811
    elsewhere,
    monkeypatch,
) -> None:
    """The local copy is one per file, shared by every conversation waiting for it: another
    conversation's save, done first, dropped it. This save then pushed nothing (the file was
    stored), lost the race with the delete, and had no copy to put back: the bytes it holds
    in memory are put back."""
    sender = open_store(load_settings())  # a third process, sending the same file
    try:
        second = sending_the_same_file(sender)  # waiting here, with its bytes in memory
        first = with_attachments(store, PDF)  # ... and its save drops the shared local copy
        assert store.attachments is not None and store.attachments.local.list("tester/") == []
        with deleted_before_its_references(monkeypatch, elsewhere, first, second):
            assert sender.save(second).pushed
    finally:
        sender.close()
    assert file_of(store, second) == PDF.data


def test_a_save_that_finds_its_conversation_deleted_leaves_no_local_copy(  # type: ignore[no-untyped-def]
    store,  # noqa: F811
    elsewhere,
) -> None:
    """Kept until the references were in, the copy of a save that lost to a delete stayed on
    disk for ever: nothing would save it."""
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "before the delete")
    assert store.save(conversation).pushed
    delete_conversation(elsewhere, "tester", conversation.id)
    conversation.add(Message(role="user", content=[PDF.block()]))
    assert store.attachments is not None
    store.attachments.keep("tester", PDF)
    with pytest.raises(ConversationDeletedError):
        store.save(conversation)
    assert store.attachments.local.list("tester/") == []
