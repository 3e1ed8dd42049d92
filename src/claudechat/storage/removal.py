"""Deleting a conversation: its document, its row, its search entries and its journal entries.

All or nothing as far as the stores allow: both stores are checked first (an outage refuses
the delete before anything is touched), and the row and search entries are deleted in one
database transaction that is committed only after the document is gone, so a failure of the
blob store leaves everything as it was.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from claudechat.errors import NotFoundError, StorageError
from claudechat.storage.blobs import BlobNotFoundError
from claudechat.storage.metadata import ConversationRow
from claudechat.storage.store import ConversationStore


@dataclass
class Removed:
    conversation_id: str
    document: str | None = None  # its location, when there was one
    row: bool = False
    search_entries: int = 0
    journal_entries: int = 0
    attachments: list[str] = field(default_factory=list)  # digests no conversation uses now
    set_aside: int = 0  # unreadable documents `doctor` kept beside it

    def describe(self, locations: bool = True) -> str:
        """`locations`: name where the document was (the CLI's user may look there); an HTTP
        client is told only that it was."""
        from claudechat.output import counted

        document = f"document {self.document}" if locations else "document"
        parts = [
            document if self.document else "no document",
            "metadata row" if self.row else "no row",
            counted(self.search_entries, "search entry", "search entries"),
        ]
        if self.journal_entries:
            parts.append(
                counted(self.journal_entries, "unpushed journal entry", "unpushed journal entries")
            )
        if self.set_aside:
            parts.append(
                counted(
                    self.set_aside,
                    "unreadable copy doctor set aside",
                    "unreadable copies doctor set aside",
                )
            )
        if self.attachments:
            parts.append(
                counted(len(self.attachments), "attachment") + " no other conversation uses"
            )
        return f"deleted {self.conversation_id}: " + ", ".join(parts)


def resolve_all(store: ConversationStore, user_id: str, references: list[str]) -> list[str]:
    """Every id checked before anything is deleted: one unknown id deletes nothing."""
    resolved = [store.resolve(user_id, reference) for reference in references]
    return list(dict.fromkeys(resolved))


def delete_conversation(store: ConversationStore, user_id: str, conversation_id: str) -> Removed:
    from claudechat.storage.deletions import hold, mark_deleted
    from claudechat.storage.schema import conversations, current_conversations
    from claudechat.storage.search import remove_conversation

    removed = Removed(conversation_id)
    # Both stores must answer (within the store deadline) before anything is touched.
    row, removed.document = store.guard.call(lambda: _check(store, user_id, conversation_id))
    metadata = store.metadata
    local = store.journal.for_conversation(user_id, conversation_id)
    if row is None and removed.document is None and not local:
        raise NotFoundError(f"no conversation {conversation_id}")
    table = conversations.c
    with metadata.writing() as connection:
        # First: a save's row transaction under way now ends before this one reads anything,
        # and one that comes later finds the id marked deleted (deletions.py).
        hold(connection, conversation_id)
        removed.search_entries = remove_conversation(connection, user_id, conversation_id)
        statement = (
            conversations.delete()
            .where(table.user_id == user_id)
            .where(table.conversation_id == conversation_id)
        )
        removed.row = connection.execute(statement).rowcount == 1
        # A save whose document went in just before the tombstone writes no row after this.
        mark_deleted(connection, user_id, conversation_id)
        # No longer serve's current conversation: a bare /chat starts another, and one naming
        # it is a 404, not a turn answered and then thrown away (as it was after the CLI's).
        current = current_conversations.c
        connection.execute(
            current_conversations.delete().where(
                current.user_id == user_id, current.conversation_id == conversation_id
            )
        )
        # Raises before the commit: the rows stay. A tombstone, not nothing: a save still
        # running elsewhere (a turn in another terminal, a serve request) would write the
        # conversation back as a new one.
        _bury(store, user_id, conversation_id)
    # What doctor set aside of it may hold its latest turns: gone with it, as the document is.
    removed.set_aside = _remove_set_aside(store, user_id, conversation_id)
    removed.attachments = _forget_attachments(store, user_id, conversation_id)
    for entry in local:
        store.journal.discard(entry)
    removed.journal_entries = len(local)
    store.forget(user_id, conversation_id)
    return removed


def _remove_set_aside(store: ConversationStore, user_id: str, conversation_id: str) -> int:
    from claudechat.storage.repair import set_aside_prefix

    keys = store.guard.call(
        lambda: store.blobs.list(set_aside_prefix(store.blob_key(user_id, conversation_id)))
    )
    for key in keys:
        store.guard.call(functools.partial(store.blobs.delete, key))
    return len(keys)


def _forget_attachments(store: ConversationStore, user_id: str, conversation_id: str) -> list[str]:
    """Drop the conversation's attachment references, then the files nobody references now.
    Run after the conversation is gone: a failure here leaves a file behind, never a
    conversation without its file."""
    if store.attachments is None:
        return []
    from claudechat.storage.attachments import attachment_key

    def remove(sha256: str) -> None:
        key = attachment_key(user_id, sha256)
        try:
            store.guard.call(lambda: store.blobs.delete(key))
        except OSError as exc:  # the local folder: a permission, a disk gone read-only
            raise StorageError(
                f"cannot delete {store.blobs.location(key)}: {exc.strerror}"
            ) from exc

    return store.attachments.forget_conversation(store.metadata, user_id, conversation_id, remove)


def _check(
    store: ConversationStore, user_id: str, conversation_id: str
) -> tuple[ConversationRow | None, str | None]:
    """The row, and where the document is (None: there is none)."""
    from claudechat.storage.documents import is_tombstone

    row = store.metadata.get(user_id, conversation_id)
    key = store.blob_key(user_id, conversation_id)
    try:
        data = store.blobs.get(key)
    except BlobNotFoundError:
        return row, None
    return row, None if is_tombstone(data) else store.blobs.location(key)


def _bury(store: ConversationStore, user_id: str, conversation_id: str) -> None:
    from claudechat.storage.documents import tombstone

    key = store.blob_key(user_id, conversation_id)
    try:
        store.guard.call(lambda: store.blobs.put(key, tombstone(user_id, conversation_id)))
    except OSError as exc:  # the local folder: permissions, a disk gone read-only
        raise StorageError(f"cannot delete {store.blobs.location(key)}: {exc.strerror}") from exc
