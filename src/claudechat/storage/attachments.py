"""Attachment bytes in the blob store, content-addressed, and their reference rows.

Each attachment is stored once per user at `{user}/attachments/{sha256}` (its media type as
the object's content type on S3); the conversation document keeps only a reference block.
An attachment is first written to a local folder (`attachments/` in the data directory) and
pushed to the store just before the first document that references it, so a document in the
store never points at a missing blob, and an attachment sent while the store is down waits
on disk with its conversation's journal entry until the store is back.

The `attachment_refs` table records which conversation uses which attachment, so whatever
deletes conversations finds the attachments nobody references without reading documents.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from claudechat.attachments import Attachment, attachment_blocks
from claudechat.blocks import Block
from claudechat.errors import CorruptDocumentError, NotFoundError, StorageError, UsageError
from claudechat.storage import ids
from claudechat.storage.blobs import (
    BlobConflictError,
    BlobNotFoundError,
    BlobStore,
    LocalBlobStore,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from claudechat.conversation import Conversation, Message
    from claudechat.storage.metadata import MetadataStore


def attachment_key(user: str, sha256: str) -> str:
    """The one way an attachment's storage key is built: {user_id}/attachments/{sha256}."""
    if not ids.is_digest(sha256):
        raise UsageError(f"not an attachment digest: {ids.printable(sha256)}")
    return f"{ids.user_id(user)}/attachments/{sha256}"


def is_attachment_key(key: str) -> bool:
    return "/attachments/" in key


class AttachmentStore:
    def __init__(self, blobs: BlobStore, local_root: Path) -> None:
        self.blobs = blobs
        self.local = LocalBlobStore(local_root)  # attachments not yet pushed
        self._cache: dict[str, bytes] = {}  # this process's bytes, by sha256

    def keep(self, user: str, attachment: Attachment) -> None:
        """Hold the bytes locally until a save pushes them (never lost to an outage)."""
        key = attachment_key(user, attachment.sha256)
        self._cache[attachment.sha256] = attachment.data
        with contextlib.suppress(BlobConflictError):  # already waiting: the same bytes
            self.local.put(key, attachment.data, expect=None)

    def push_pending(self, conversation: Conversation) -> None:
        """Push every attachment the document references that waits locally; StorageError
        when the store refuses, so the document is not pushed ahead of its attachments. The
        local copy stays until the references are in (settle)."""
        for key, block in self._keys(conversation).items():
            data = self.waiting(key)
            if data is None:
                continue  # pushed before, by this process or an earlier one
            # Content-addressed: whatever is there already holds the same bytes.
            with contextlib.suppress(BlobConflictError):
                self.blobs.put(key, data, expect=None, content_type=block["media_type"])

    def settle(self, conversation: Conversation, referenced: set[str]) -> None:
        """Once the save's references are committed (`referenced`: the digests this save
        referred to first). A delete of another conversation that used the same file could
        take it after this save's push, before those references were in (it saw none of this
        one's), and the file was gone for good: each such file is put back if it is gone,
        from the local copy or this process's bytes (another save may have dropped the shared
        local copy). A delete after the references keeps it (forget_conversation). The local
        copies then go."""
        for key, block in self._keys(conversation).items():
            if block["sha256"] in referenced and key not in self.blobs.list(key):
                data = self._cache.get(block["sha256"]) or self.waiting(key)
                if data is not None:
                    with contextlib.suppress(BlobConflictError):
                        self.blobs.put(key, data, expect=None, content_type=block["media_type"])
        self.drop_local(conversation)

    def drop_local(self, conversation: Conversation) -> None:
        """The local copies of the document's attachments, which the store holds now (or
        which nothing will save: its conversation was deleted). Looked at, not read: a
        delete takes the folder's lock."""
        for key in self._keys(conversation):
            if self.local.exists(key):
                self.local.delete(key)

    def waiting(self, key: str) -> bytes | None:
        """The bytes of a file waiting on this machine to be pushed; None if none waits."""
        try:
            return self.local.get(key)
        except BlobNotFoundError:
            return None

    def _keys(self, conversation: Conversation) -> dict[str, Block]:
        """The document's attachments by key, once each."""
        user = conversation.user_id
        return {attachment_key(user, b["sha256"]): b for b in _blocks_of(conversation)}

    def get(self, user: str, sha256: str) -> bytes:
        """The bytes: from this process, the local folder, or the store."""
        cached = self._cache.get(sha256)
        if cached is not None:
            return cached
        key = attachment_key(user, sha256)
        try:
            data = self.local.get(key)
        except BlobNotFoundError:
            try:
                data = self.blobs.get(key)
            except BlobNotFoundError as exc:
                raise NotFoundError(f"attachment {sha256[:12]} is missing from the store") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            # Never send or hand out bytes other than the ones the conversation refers to.
            raise CorruptDocumentError(f"attachment {sha256[:12]} does not match its digest", key)
        self._cache[sha256] = data
        return data

    def any_gone(self, metadata: MetadataStore, user: str, messages: Iterable[Message]) -> bool:
        """Whether an attachment of these messages is neither waiting here nor referred to by
        any conversation: a delete elsewhere took it with the last conversation using it."""
        digests = {b["sha256"] for m in messages for b in attachment_blocks(m.content)}
        digests -= {d for d in digests if self.local.exists(attachment_key(user, d))}
        return bool(digests - metadata.referenced_attachments(user, digests)) if digests else False

    def keep_again(self, user: str, messages: Iterable[Message]) -> list[str]:
        """For a fork of a conversation deleted elsewhere: its attachments that nothing else
        used went with it, so the fork's document would point at missing blobs. Those this
        process can still read are kept again, for the fork's save to push; returns the names
        of those it cannot (another process saw them last)."""
        lost: list[str] = []
        for message in messages:
            for block in attachment_blocks(message.content):
                try:
                    data = self.get(user, block["sha256"])
                except NotFoundError:
                    lost.append(block["name"])
                    continue
                self.keep(user, Attachment(block["name"], block["media_type"], data))
        return lost

    # -- references -------------------------------------------------------------------------

    def record_refs(self, connection: Connection, conversation: Conversation) -> set[str]:
        """Within a transaction: rows for the document's attachments that have none yet; their
        digests. Two sessions of one conversation may insert the same row at once: the loser's
        IntegrityError makes the caller run the transaction again."""
        blocks = {b["sha256"]: b for b in _blocks_of(conversation)}
        if not blocks:
            return set()
        from sqlalchemy import select

        from claudechat.storage.schema import attachment_refs

        table = attachment_refs.c
        known = set(
            connection.execute(
                select(table.sha256)
                .where(table.user_id == conversation.user_id)
                .where(table.conversation_id == conversation.id)
            ).scalars()
        )
        rows = [_ref_row(conversation, b) for sha, b in blocks.items() if sha not in known]
        if rows:
            _hold_files(connection, [str(row["sha256"]) for row in rows])
            connection.execute(attachment_refs.insert(), rows)
        return {str(row["sha256"]) for row in rows}

    def forget_conversation(
        self,
        metadata: MetadataStore,
        user: str,
        conversation_id: str,
        remove: Callable[[str], None],
    ) -> list[str]:
        """Drop a conversation's references, and `remove` each file (by digest) no
        conversation references now; returns their digests. Removed within the transaction,
        which holds the files: a save's references go in before it or after the file is gone
        (and the save pushes it again: settle), never between the check and the removal. A
        file that cannot be removed is left behind, its error raised once the rest is done."""
        from sqlalchemy import delete, select

        from claudechat.storage.schema import attachment_refs

        table = attachment_refs.c
        mine = (table.user_id == user) & (table.conversation_id == conversation_id)
        failed: list[StorageError] = []
        with metadata.writing() as connection:
            shas = sorted(connection.execute(select(table.sha256).where(mine)).scalars())
            if not shas:
                return []
            _hold_files(connection, shas)
            connection.execute(delete(attachment_refs).where(mine))
            still = set(
                connection.execute(
                    select(table.sha256).where(table.user_id == user).where(table.sha256.in_(shas))
                ).scalars()
            )
            unused = [sha for sha in shas if sha not in still]
            for sha in unused:
                try:
                    remove(sha)
                except StorageError as exc:
                    failed.append(exc)
        if failed:
            raise failed[0]
        return unused


def _hold_files(connection: Connection, shas: list[str]) -> None:
    """Within a transaction, before it reads or writes references to these files: until it
    ends, no other transaction does (PostgreSQL's advisory locks, in one order; SQLite has
    one writer at a time anyway)."""
    if connection.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    for sha in sorted(set(shas)):
        # The digest's first 63 bits: two files that share them only wait for each other.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(sha[:16], 16) >> 1}
        )


def _blocks_of(conversation: Conversation) -> Iterable[Block]:
    for message in conversation.messages:
        yield from attachment_blocks(message.content)


def _ref_row(conversation: Conversation, block: Block) -> dict[str, object]:
    return {
        "user_id": conversation.user_id,
        "sha256": block["sha256"],
        "conversation_id": conversation.id,
        "media_type": block["media_type"],
        "name": block["name"],
        "size": int(block.get("size") or 0),
        "created_at": datetime.now(UTC),
    }
