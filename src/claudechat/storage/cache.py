"""A bounded local copy of the documents this machine read or wrote.

It lets `--continue`, `--resume` and `show` work while the store is down (marked as possibly
stale). It is never the source of truth: a save always merges into the store's document, and
the journal, not the cache, holds what the store has not got yet. Failing to write it is
ignored.

A document stored in a folder on this machine's own disk is linked, not copied: every stored
file is replaced whole (renamed into place), never changed in place, so the link keeps the
version it was made of, as a copy would, for one system call instead of a second write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from pathlib import Path

from claudechat.conversation import Conversation
from claudechat.errors import ClaudechatError
from claudechat.storage import ids
from claudechat.storage.blobs import LocalBlobStore, make_private_dirs

MAX_DOCUMENTS = 200
MAX_BYTES = 64 * 2**20
TEMP_SUFFIX = ".link"  # a link's name until it is renamed into place


class DocumentCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = LocalBlobStore(root)
        self._can_link = True  # until a link fails: the store is on another disk

    def put(
        self,
        conversation: Conversation,
        data: bytes,
        missing_only: bool = False,
        stored_file: Path | None = None,
    ) -> None:
        """`missing_only`: the version is one this process put already (a turn loads what the
        last one saved); it is written again only if the copy is gone (trimmed, removed).
        `stored_file`: the store's own file of this version, when it is a local one."""
        key = ids.document_key(conversation.user_id, conversation.id)
        if missing_only and self.files.exists(key):
            with contextlib.suppress(OSError):  # used now: trimming keeps it over older ones
                os.utime(self.root / key)
            return
        try:
            new = not self.files.exists(key)
            if stored_file is None or not self._link(stored_file, key):
                # Not fsynced: a copy lost with the machine is read again from the store.
                self.files.put(key, data, durable=False)
            if new:  # only a new document can take the folder over its bounds
                self._trim(ids.user_id(conversation.user_id))
        except (ClaudechatError, OSError):
            pass  # a cache that cannot be written is only a cache

    def _link(self, stored_file: Path, key: str) -> bool:
        """The stored file linked in as the copy (see the module's docstring); False when it
        cannot be (another disk, a file system without links, the file replaced meanwhile by
        a deletion), and a copy is written instead."""
        if not self._can_link:
            return False
        target = self.root / key
        # Renamed into place, as every copy is: a reader never finds the name missing.
        temp = target.with_name(
            f".{target.name}.{os.getpid()}.{threading.get_ident()}{TEMP_SUFFIX}"
        )
        try:
            make_private_dirs(target.parent)
            if not _same_file(stored_file, target):
                os.link(stored_file, temp)
                os.replace(temp, target)
            # Used now, as a new copy is: trimming keeps the newest (its mtime was the stored
            # file's, maybe months old, and a document just read went first). The stored
            # file's mtime is shared, and nothing reads it.
            os.utime(target)
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                self._can_link = False  # this store's files never will be: no more attempts
            return False
        finally:
            # Renaming a link over another link to the same file does nothing and succeeds
            # (POSIX), leaving the temp name: one more name of the whole conversation per
            # read, which neither trimming nor a delete removed.
            with contextlib.suppress(OSError):
                os.unlink(temp)
        return True

    def get(self, user_id: str, conversation_id: str) -> Conversation | None:
        from claudechat.storage.store import decode_document

        try:
            key = ids.document_key(user_id, conversation_id)
            conversation = decode_document(self.files.get(key), self.files.location(key))
        except ClaudechatError:
            return None
        if conversation.id != conversation_id or conversation.user_id != user_id:
            return None
        return conversation

    def all(self, user_id: str) -> list[Conversation]:
        found = []
        for path in self._files(ids.user_id(user_id)):
            conversation = self.get(user_id, path.name.removesuffix(".json"))
            if conversation is not None:
                found.append(conversation)
        return found

    def conversation_ids(self, user_id: str) -> set[str]:
        """The ids of this user's copies, by their names alone (none is read)."""
        return {path.name.removesuffix(".json") for path in self._files(ids.user_id(user_id))}

    def forget(self, user_id: str, conversation_id: str) -> None:
        """The copy of a conversation deleted (from this machine or another) removed."""
        key = ids.document_key(user_id, conversation_id)
        with contextlib.suppress(ClaudechatError, OSError):
            self.files.delete(key)
        self._remove_temps(ids.user_id(user_id), f".{Path(key).name}.*{TEMP_SUFFIX}")

    def _files(self, user: str) -> list[Path]:
        try:
            return [p for p in (self.root / user).glob("*.json") if p.is_file()]
        except OSError:
            return []

    def _remove_temps(self, user: str, pattern: str) -> None:
        """Links left under their temp name, by versions that did not remove them (each a
        whole conversation, kept after its delete). One a running process is about to
        rename makes it write a copy instead."""
        with contextlib.suppress(OSError):
            for path in (self.root / user).glob(pattern):
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def _trim(self, user: str) -> None:
        """Keep the most recently used documents within MAX_DOCUMENTS and MAX_BYTES."""
        self._remove_temps(user, f".*.json.*{TEMP_SUFFIX}")
        sized = []
        for path in self._files(user):
            with contextlib.suppress(OSError):
                stat = path.stat()
                sized.append((stat.st_mtime, stat.st_size, path))
        sized.sort(reverse=True)
        total = 0
        for count, (_mtime, size, path) in enumerate(sized):
            total += size
            if count >= MAX_DOCUMENTS or total > MAX_BYTES:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def _same_file(stored_file: Path, target: Path) -> bool:
    """The copy is already a link to this version of the stored file."""
    try:
        return os.path.samefile(stored_file, target)
    except OSError:  # no copy yet
        return False
