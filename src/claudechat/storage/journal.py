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
from claudechat.errors import ClaudechatError
from claudechat.storage import ids
from claudechat.storage.blobs import BlobNotFoundError, LocalBlobStore

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


class Journal:
    def __init__(self, root: Path) -> None:
        self.files = LocalBlobStore(root)

    def write(self, conversation: Conversation, base: Base | None) -> None:
        entry = {
            "format": JOURNAL_FORMAT,
            "base": {"version": base.version, "etag": base.etag} if base else None,
            "document": conversation.to_document(),
        }
        self.files.put(
            _key(conversation.user_id, conversation.id), dumps_json(entry).encode("utf-8")
        )

    def remove(self, user_id: str, conversation_id: str) -> None:
        self.files.delete(_key(user_id, conversation_id))

    def get(self, user_id: str, conversation_id: str) -> JournalEntry | None:
        try:
            return _parse(self.files.get(_key(user_id, conversation_id)))
        except BlobNotFoundError:
            return None

    def entries(self, user_id: str) -> list[JournalEntry]:
        found = []
        for key in self.files.list(f"{ids.user_id(user_id)}/"):
            # A damaged entry must not block the others; `doctor` reports it.
            with contextlib.suppress(ClaudechatError, ValueError, KeyError, TypeError):
                found.append(_parse(self.files.get(key)))
        return found


def _key(user_id: str, conversation_id: str) -> str:
    return f"{ids.user_id(user_id)}/{ids.conversation_id(conversation_id)}.json"


def _parse(data: bytes) -> JournalEntry:
    entry = json.loads(data)
    base = entry["base"]
    return JournalEntry(
        Conversation.from_document(entry["document"]),
        Base(_optional(base["version"], int), _optional(base["etag"], str)) if base else None,
    )


def _optional(value: object, kind: type) -> Any:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"journal base field is not {kind.__name__}")
    return value
