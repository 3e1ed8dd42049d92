"""The local journal: every save lands here first, and stays until the store has it.

One file per conversation holds its newest document and the version it was based on, so
draining the journal after an outage or a crash pushes each conversation once, with the same
optimistic-concurrency check as a live save: nothing is lost and nothing is duplicated.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claudechat.conversation import Conversation, dumps_json
from claudechat.errors import ClaudechatError, CorruptDocumentError
from claudechat.storage import ids
from claudechat.storage.blobs import BlobConflictError, BlobNotFoundError, LocalBlobStore

JOURNAL_FORMAT = 1


@dataclass(frozen=True)
class Base:
    """The stored state a change was made on. The blob and the row are tracked apart because
    an outage can land the blob and not the row."""

    version: int | None = None  # the row's version; None: no row yet
    etag: str | None = None  # the blob's etag; None: no blob yet


@dataclass
class JournalEntry:
    conversation: Conversation
    base: Base | None
    etag: str  # of the entry file: removal succeeds only if nobody rewrote it since


@dataclass
class JournalScan:
    entries: list[JournalEntry]
    damaged: list[str]  # keys of entries that cannot be read (reported, never dropped)


class Journal:
    def __init__(self, root: Path) -> None:
        self.files = LocalBlobStore(root)

    def write(self, conversation: Conversation, base: Base | None) -> str:
        entry = {
            "format": JOURNAL_FORMAT,
            "base": {"version": base.version, "etag": base.etag} if base else None,
            "document": conversation.to_document(),
        }
        key = ids.document_key(conversation.user_id, conversation.id)
        return self.files.put(key, dumps_json(entry).encode("utf-8"))

    def remove(self, entry_owner: str, conversation_id: str, etag: str) -> None:
        """Drop an entry once the store has it, unless it was rewritten meanwhile."""
        with contextlib.suppress(BlobConflictError):
            self.files.delete(ids.document_key(entry_owner, conversation_id), expect=etag)

    def discard(self, user_id: str, conversation_id: str) -> None:
        self.files.delete(ids.document_key(user_id, conversation_id))

    def get(self, user_id: str, conversation_id: str) -> JournalEntry | None:
        key = ids.document_key(user_id, conversation_id)
        try:
            data, etag = self.files.get_with_etag(key)
        except BlobNotFoundError:
            return None
        return _parse(data, etag, self.files.location(key))

    def pending(self, user_id: str) -> bool:
        return bool(self.files.list(f"{ids.user_id(user_id)}/"))

    def scan(self, user_id: str) -> JournalScan:
        scan = JournalScan([], [])
        for key in self.files.list(f"{ids.user_id(user_id)}/"):
            try:
                data, etag = self.files.get_with_etag(key)
                scan.entries.append(_parse(data, etag, self.files.location(key)))
            except ClaudechatError:
                scan.damaged.append(key)
        return scan

    def entries(self, user_id: str) -> list[JournalEntry]:
        return self.scan(user_id).entries


def _parse(data: bytes, etag: str, location: str) -> JournalEntry:
    try:
        entry = json.loads(data)
        if entry["format"] != JOURNAL_FORMAT:
            raise CorruptDocumentError(f"journal format {entry['format']!r} unknown", location)
        base = entry["base"]
        return JournalEntry(
            Conversation.from_document(entry["document"]),
            Base(_optional(base["version"], int), _optional(base["etag"], str)) if base else None,
            etag,
        )
    except CorruptDocumentError:
        raise
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CorruptDocumentError(f"damaged journal entry ({exc})", location) from exc


def _optional(value: object, kind: type) -> Any:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"journal base field is not {kind.__name__}")
    return value
