"""The local journal: every save lands here first, and stays until the store has it.

Each live process writes its own entries, one per conversation it saves
(`{user}/{conversation}.{writer}.json`), and holds a lock (`.writers/{writer}.lock`) for as
long as it runs; it removes the file when it closes its store, and the file of a writer that
could not (a crash, a kill) is removed by whoever finds it unlocked. Draining the journal (at
start, `claudechat sync`) pushes only entries whose writer is gone, so one session never
pushes another live session's work behind its back; and since a save is a merge, pushing an
entry twice is harmless. Entries that cannot be used are
moved aside to `damaged/` and reported, never dropped and never in the way.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from claudechat.conversation import Conversation, dumps_json
from claudechat.errors import (
    ClaudechatError,
    CorruptDocumentError,
    NewerFormatError,
    StorageError,
)
from claudechat.merging import covers, merge
from claudechat.storage import ids
from claudechat.storage.blobs import (
    BlobConflictError,
    BlobNotFoundError,
    LocalBlobStore,
    make_private_dirs,
)

JOURNAL_FORMAT = 2
DAMAGED = "damaged"
WRITERS = ".writers"
SKIP = {DAMAGED, WRITERS}
KEY_LOCKS = 64  # entries written at once by one process's threads, each under its key's


@dataclass
class JournalEntry:
    conversation: Conversation
    writer: str  # "" for entries of claudechat 0.1, which had no writers
    key: str
    etag: str  # of the entry file: removal succeeds only if nobody rewrote it since


@dataclass
class JournalWrite:
    etag: str
    conversation: Conversation  # as written: merged with the entry's, where it held more
    document: bytes  # its encoding, as written


@dataclass
class JournalScan:
    entries: list[JournalEntry]
    damaged: list[str]  # entries moved aside by this scan (their new paths)
    newer: list[str] = field(default_factory=list)  # a newer claudechat's: left for it
    live_writers: set[str] = field(default_factory=set)  # of the entries pushable_only left


class Journal:
    def __init__(self, root: Path, writer: str | None = None) -> None:
        self.root = root
        self.files = LocalBlobStore(root)
        self.writer = writer or uuid.uuid4().hex
        self._lock: int | None = None
        # `serve` saves from many threads: the first two must not both take the lock, the
        # second flock would wait on the first for ever.
        self._claiming = threading.Lock()
        # What this process's entry for each conversation holds, while it is there (see
        # write_merged); its writes and removals one at a time, by the entry's key.
        self._written: dict[str, Conversation] = {}
        self._locks = [threading.Lock() for _ in range(KEY_LOCKS)]

    # -- this process's entries -------------------------------------------------------------

    def write(self, conversation: Conversation, document: bytes | None = None) -> str:
        """Record the conversation as this process has it; returns the entry's etag."""
        return self.write_merged(conversation, document).etag

    def write_merged(
        self, conversation: Conversation, document: bytes | None = None
    ) -> JournalWrite:
        """Record the conversation as this process has it (`document`: it, encoded already),
        merged with what this process's entry for it holds: the entry is one per process and
        conversation, and serve's turns on one conversation at once each save their own copy.
        Written over, a turn whose push then failed (or never came: a kill) lost its messages,
        as did every reader meanwhile. Returns what was written, to be pushed as it is.

        The entry is left to the page cache, which outlives this process (a crash, a kill,
        a closed terminal), and made durable only if the store does not take the save (see
        make_durable): an fsync on every save would cost more than the store's own write,
        which is durable by itself."""
        self._claim()
        key = self._key(conversation)
        with self._locks[hash(key) % len(self._locks)]:
            last = self._written.get(key)
            if last is not None and not self.files.exists(key):
                last = None  # removed by another process (a delete, `doctor`): not resumed
            if last is not None and not covers(conversation, last):
                conversation, document = merge(last, conversation), None
            if document is None:
                document = dumps_json(conversation.to_document()).encode("utf-8")
            # The entry is built around the encoded document, which is not encoded again.
            head = dumps_json({"format": JOURNAL_FORMAT, "writer": self.writer})[:-1]
            entry = head.encode("utf-8") + b', "document": ' + document + b"}"
            etag = self.files.put(key, entry, durable=False)
            self._written[key] = conversation
        return JournalWrite(etag, conversation, document)

    def make_durable(self, conversation: Conversation) -> None:
        """The entry on disk: the store did not take it, so it may have to wait for a reboot.
        An entry gone already was pushed by a later save of this process, merged into it (or
        its conversation deleted): nothing is left to keep."""
        key = self._key(conversation)
        if self.files.exists(key):
            self.files.make_durable(key)

    def remove(self, conversation: Conversation, etag: str) -> None:
        """Drop this process's entry once the store has it, unless it was rewritten since."""
        self._delete(self._key(conversation), etag)

    def _delete(self, key: str, etag: str) -> None:
        """The entry at `key`, unless rewritten since `etag`; what write_merged remembers of
        it with it, under the same lock (a write in between would be merged with nothing)."""
        with self._locks[hash(key) % len(self._locks)]:
            try:
                self.files.delete(key, expect=etag)
            except BlobConflictError:
                if self.files.exists(key):
                    return  # rewritten since: what it holds now is still to be pushed
            self._written.pop(key, None)

    def _key(self, conversation: Conversation) -> str:
        user = ids.user_id(conversation.user_id)
        return f"{user}/{ids.conversation_id(conversation.id)}.{self.writer}.json"

    def _claim(self) -> None:
        """Hold this writer's lock for the life of the process: others see it is alive."""
        with self._claiming:
            if self._lock is None:
                self._lock = self._take_lock()

    def _take_lock(self) -> int:
        folder = self.root / WRITERS
        path = folder / f"{self.writer}.lock"
        while True:
            try:
                make_private_dirs(folder)
                descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            except OSError as exc:
                raise StorageError(
                    f"cannot write the journal in {self.root}: {exc.strerror}"
                ) from exc
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            if _names(path, descriptor):
                return descriptor
            # Taken for a gone writer's and removed between its creation and the lock (it
            # was not locked yet): a lock on a file nobody can find would protect nothing.
            os.close(descriptor)

    def release(self) -> None:
        """This process is done with the journal (the store is closed): its lock file goes,
        and what it left in the journal is anyone's to push. Each process left its file for
        good, one more in `.writers/` per command that saved."""
        with self._claiming:
            if self._lock is not None:
                _remove_if_named(self.root / WRITERS / f"{self.writer}.lock", self._lock)
                os.close(self._lock)  # after the removal: the file is never there unlocked
                self._lock = None

    def clear_gone_writers(self) -> None:
        """The lock files of writers gone without releasing them (a crash, a kill, earlier
        versions, which never did) removed; a live writer's stays, as it holds its lock."""
        try:
            with os.scandir(self.root / WRITERS) as found:
                writers = [f.name.removesuffix(".lock") for f in found if f.name.endswith(".lock")]
        except OSError:
            return
        for writer in writers:
            if writer != self.writer:
                self._alive(writer)

    # -- every writer's entries -------------------------------------------------------------

    def scan(
        self,
        user_id: str,
        pushable_only: bool = False,
        leave: Collection[str] = (),
        prefix: str = "",
    ) -> JournalScan:
        """This user's entries (of the conversations whose ids start with `prefix`: the
        others are not read); with pushable_only, only this process's (but for those of the
        conversations in `leave`, not even read) and those of writers that are gone. Entries
        that cannot be used are moved aside."""
        scan = JournalScan([], [])
        user = ids.user_id(user_id)
        try:
            keys = self.files.list(f"{user}/")
        except OSError:
            return scan
        alive: dict[str, bool] = {}  # each writer's lock tried once a scan, not once an entry
        for key in keys:
            if not _conversation_of(key).startswith(prefix):
                continue
            writer = _writer_of(key)
            if pushable_only and writer == self.writer and _conversation_of(key) in leave:
                continue
            if pushable_only and writer != self.writer:
                if writer not in alive:
                    alive[writer] = self._alive(writer)
                if alive[writer]:
                    scan.live_writers.add(writer)
                    continue
            self._scan_one(key, user, scan)
        return scan

    def _scan_one(self, key: str, user: str, scan: JournalScan) -> None:
        """One listed entry, read into the scan or moved aside. An entry its writer removed
        after it was listed (the store took the save) is no damage: it was taken for one,
        and the move put aside whatever was there by then, the writer's next good entry,
        which was then never pushed."""
        read_as: str | None = None  # None: unreadable (permissions, I/O), moved aside too
        try:
            data, etag = self.files.get_with_etag(key)
        except BlobNotFoundError:
            return
        except ClaudechatError:
            pass
        else:
            try:
                scan.entries.append(self._entry(key, user, data, etag))
                return
            except NewerFormatError:
                # Not damage: left where it is for the claudechat that wrote it (after a
                # downgrade), said at every start; moved aside, it was never pushed again.
                scan.newer.append(key)
                return
            except ClaudechatError:
                read_as = etag
        moved = self._move_aside(key, read_as)
        if moved:
            scan.damaged.append(moved)

    def users(self) -> list[str]:
        """The users with entries waiting (their folders' names), read from the folders alone:
        a look at the journal and at each user's folder (which keeps its lock files)."""
        try:
            with os.scandir(self.root) as found:
                folders = [f.path for f in found if f.is_dir() and f.name not in SKIP]
        except OSError:
            return []
        return [os.path.basename(folder) for folder in folders if _holds_entries(folder)]

    def entries(self, user_id: str, prefix: str = "") -> list[JournalEntry]:
        return self.scan(user_id, prefix=prefix).entries

    def for_conversation(self, user_id: str, conversation_id: str) -> list[JournalEntry]:
        return [e for e in self.entries(user_id) if e.conversation.id == conversation_id]

    def discard(self, entry: JournalEntry) -> None:
        self._delete(entry.key, entry.etag)

    def damaged(self) -> list[str]:
        """Entries moved aside, now or earlier: for `doctor`."""
        try:
            return self.files.list(f"{DAMAGED}/")
        except OSError:
            return []

    def _entry(self, key: str, user: str, data: bytes, etag: str) -> JournalEntry:
        location = self.files.location(key)
        conversation = _parse(data, location)
        name = key.rsplit("/", 1)[-1]
        if conversation.user_id != user or not name.startswith(conversation.id + "."):
            raise CorruptDocumentError("its owner or id does not match its place", location)
        return JournalEntry(conversation, _writer_of(key), key, etag)

    def saved_elsewhere_now(self, user_id: str, conversation_id: str) -> bool:
        """Whether another running process holds an entry for the conversation: a save of it
        under way, whose row is still to come."""
        return any(
            entry.writer != self.writer and self._alive(entry.writer)
            for entry in self.for_conversation(user_id, conversation_id)
        )

    def _alive(self, writer: str) -> bool:
        """Whether the writer still runs; a gone writer's lock file is removed on the way."""
        if not writer:
            return False
        path = self.root / WRITERS / f"{writer}.lock"
        try:
            descriptor = os.open(path, os.O_RDWR)
        except OSError:
            return False  # no lock file: the writer never claimed one, or is gone
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            _remove_if_named(path, descriptor)  # removed while locked: see _take_lock
            return False
        finally:
            os.close(descriptor)

    def _move_aside(self, key: str, etag: str | None) -> str | None:
        """Move the entry read as `etag` aside; not one written since (a good one, likely)."""
        if etag is not None:
            try:
                if self.files.get_with_etag(key)[1] != etag:
                    return None
            except ClaudechatError:
                return None  # gone since, or unreadable now: the next scan looks again
        target = self.root / DAMAGED / key.replace("/", "_")
        try:
            make_private_dirs(target.parent)
            os.replace(self.root / key, target)
        except OSError:
            return None  # a read-only journal: it stays where it is, and is skipped
        return str(target)


def _names(path: Path, descriptor: int) -> bool:
    """`path` is the file open as `descriptor` (not removed or made again since)."""
    try:
        found, held = os.stat(path), os.fstat(descriptor)
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)


def _remove_if_named(path: Path, descriptor: int) -> None:
    """The lock file removed, unless its name is another file's by now."""
    if _names(path, descriptor):
        with contextlib.suppress(OSError):
            path.unlink()


def _holds_entries(folder: str) -> bool:
    try:
        with os.scandir(folder) as found:
            return any(f.name.endswith(".json") and not f.name.startswith(".") for f in found)
    except OSError:
        return False


def _conversation_of(key: str) -> str:
    return key.rsplit("/", 1)[-1].split(".", 1)[0]


def _writer_of(key: str) -> str:
    parts = key.rsplit("/", 1)[-1].removesuffix(".json").split(".")
    return parts[1] if len(parts) == 2 else ""


def _parse(data: bytes, location: str) -> Conversation:
    try:
        entry = json.loads(data)
        version = entry["format"]
        if isinstance(version, int) and version > JOURNAL_FORMAT:
            raise NewerFormatError(version, JOURNAL_FORMAT)
        if version not in (1, JOURNAL_FORMAT):
            raise CorruptDocumentError(f"journal format {version!r} unknown", location)
        # Format 1 entries (claudechat 0.1) also carried the base they were made on; a save
        # that merges needs no base, so it is ignored.
        return Conversation.from_document(entry["document"])
    except CorruptDocumentError:
        raise
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CorruptDocumentError(f"damaged journal entry ({exc})", location) from exc
