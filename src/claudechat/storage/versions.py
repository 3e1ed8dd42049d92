"""The stored versions this process has read or written, so a save need not read first.

A conditional write is safe when what it writes includes the version it replaces. Knowing that
version (its etag and its content), a save merges into it and writes with IfMatch on its etag:
what a read would have given, without the read. If another writer got there first the write
is refused, and the save reads, merges and tries again.

Only the etag is not enough: in `serve`, two requests on one conversation share a process.
The second to save would write over the first's version, with its etag, without its turn.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from claudechat.conversation import Conversation
from claudechat.merging import merge

# Conversations remembered per process, and their encoded size at most; one forgotten costs a
# read at its next save.
REMEMBERED = 256
REMEMBERED_BYTES = 32 * 2**20


@dataclass(frozen=True)
class StoredVersion:
    etag: str
    document: Conversation  # a private copy: sessions change theirs as they go
    size: int  # encoded

    def merged_into(self, document: Conversation) -> Conversation:
        """`document` with this version's messages and settings; `document` itself (no new
        encoding needed) when it has them all already, the usual case for a session saving on
        top of its own last save."""
        if merge(document, self.document) == document:
            return document
        return merge(document, self.document.copy())  # none of the private copy handed out


class StoredVersions:
    """The version last seen per conversation, for the last REMEMBERED conversations."""

    def __init__(self, limit: int = REMEMBERED, limit_bytes: int = REMEMBERED_BYTES) -> None:
        self._limit, self._limit_bytes = limit, limit_bytes
        self._bytes = 0
        # By owner and id: a version is never merged into another user's document.
        self._versions: OrderedDict[tuple[str, str], StoredVersion] = OrderedDict()
        self._lock = threading.Lock()  # serve's sessions save from many threads

    def get(self, user_id: str, conversation_id: str) -> StoredVersion | None:
        with self._lock:
            return self._versions.get((user_id, conversation_id))

    def seen(self, document: Conversation, etag: str, size: int) -> None:
        """`document` is stored as `etag`, `size` bytes encoded. A copy is kept: merges hand
        the same message objects on to sessions, which change their messages as a reply goes
        on."""
        version = StoredVersion(etag, document.copy(), size)
        key = (document.user_id, document.id)
        with self._lock:
            self._drop(key)
            self._versions[key] = version
            self._bytes += size
            while len(self._versions) > self._limit or self._bytes > self._limit_bytes:
                self._drop(next(iter(self._versions)))

    def forget(self, user_id: str, conversation_id: str) -> None:
        """A deleted conversation: no later save merges its old turns back in."""
        with self._lock:
            self._drop((user_id, conversation_id))

    def _drop(self, key: tuple[str, str]) -> None:
        dropped = self._versions.pop(key, None)
        if dropped is not None:
            self._bytes -= dropped.size
