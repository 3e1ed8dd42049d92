"""ConversationStore: documents in a blob store, their metadata rows in a database.

The blob is written first, then the row: a crash in between leaves a document without a row
(found and repaired by `claudechat doctor`), never a row pointing at nothing new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from claudechat.conversation import Conversation
from claudechat.errors import CorruptDocumentError, NotFoundError, UsageError
from claudechat.storage import ids
from claudechat.storage.blobs import BlobStore
from claudechat.storage.metadata import ConversationRow, MetadataStore

PREVIEW_CHARS = 200


@dataclass
class Loaded:
    conversation: Conversation
    version: int


class ConversationStore:
    def __init__(self, blobs: BlobStore, metadata: MetadataStore) -> None:
        self.blobs = blobs
        self.metadata = metadata
        # Version of each conversation as this process last read or wrote it.
        self._versions: dict[str, int] = {}

    @staticmethod
    def blob_key(user_id: str, conversation_id: str) -> str:
        return f"{ids.user_id(user_id)}/{ids.conversation_id(conversation_id)}.json"

    def save(self, conversation: Conversation) -> None:
        key = self.blob_key(conversation.user_id, conversation.id)
        self.blobs.put(key, encode_document(conversation))
        row = _row_for(conversation, self.blobs.location(key))
        expected = self._versions.get(conversation.id)
        if expected is None:
            self.metadata.insert(row)
        else:
            row.version = expected + 1
            self.metadata.update(row, expected)
        self._versions[conversation.id] = row.version

    def load(self, user_id: str, reference: str) -> Conversation:
        row = self.resolve(user_id, reference)
        return self.load_row(row)

    def load_row(self, row: ConversationRow) -> Conversation:
        key = self.blob_key(row.user_id, row.conversation_id)
        conversation = decode_document(self.blobs.get(key), self.blobs.location(key))
        if conversation.id != row.conversation_id or conversation.user_id != row.user_id:
            raise CorruptDocumentError("its id or owner does not match", self.blobs.location(key))
        self._versions[conversation.id] = row.version
        return conversation

    def resolve(self, user_id: str, reference: str) -> ConversationRow:
        """A full id or unique prefix, within this user's conversations only."""
        prefix = ids.id_prefix(reference)
        if len(prefix) == 36:
            row = self.metadata.get(user_id, ids.conversation_id(prefix))
            matches = [row] if row else []
        else:
            matches = self.metadata.find_by_prefix(user_id, prefix)
        if not matches:
            raise NotFoundError(f"no conversation {ids.printable(reference)}")
        if len(matches) > 1:
            raise NotFoundError(
                f"{ids.printable(reference)} matches more than one conversation "
                f"({', '.join(m.conversation_id[:8] for m in matches)}, ...); give more of the id"
            )
        return matches[0]

    def latest(self, user_id: str) -> ConversationRow:
        rows = self.metadata.list_for_user(user_id, limit=1)
        if not rows:
            raise NotFoundError("there is no conversation to continue yet")
        return rows[0]

    def list(self, user_id: str, limit: int | None = None) -> list[ConversationRow]:
        if limit is not None and limit < 1:
            raise UsageError("--limit must be at least 1")
        return self.metadata.list_for_user(user_id, limit)

    def close(self) -> None:
        self.metadata.close()


def encode_document(conversation: Conversation) -> bytes:
    return json.dumps(conversation.to_document(), ensure_ascii=False).encode("utf-8")


def decode_document(data: bytes, location: str | None = None) -> Conversation:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CorruptDocumentError("it is not UTF-8 text", location) from exc
    except json.JSONDecodeError as exc:
        raise CorruptDocumentError(f"invalid JSON ({exc.msg} at char {exc.pos})", location) from exc
    except RecursionError as exc:
        raise CorruptDocumentError("it is nested too deeply", location) from exc
    try:
        return Conversation.from_document(parsed)
    except CorruptDocumentError as exc:
        if location and exc.reason != "newer format":
            raise CorruptDocumentError(exc.reason, location) from exc
        raise


def _row_for(conversation: Conversation, location: str) -> ConversationRow:
    first_user = next((m.content for m in conversation.messages if m.role == "user"), None)
    return ConversationRow(
        conversation_id=conversation.id,
        user_id=conversation.user_id,
        conversation_name=conversation.name,
        s3_file_location=location,
        model=conversation.model,
        message_count=len(conversation.messages),
        preview=first_user[:PREVIEW_CHARS] if first_user else None,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        parent_id=conversation.parent_id,
    )
