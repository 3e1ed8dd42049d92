"""ConversationStore: documents in a blob store, their metadata rows in a database.

Every save goes to the local journal first, then the blob, then the row; the journal entry is
dropped only once both are written. A crash in between, or a store that is down, leaves the
entry behind, and the next save, start or `claudechat sync` pushes it. Blob and row are written
with optimistic concurrency (an etag and a version); when another session changed the
conversation meanwhile, the save raises ConversationConflictError and the caller forks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from claudechat.conversation import Conversation, dumps_json, new_conversation_id
from claudechat.errors import CorruptDocumentError, NotFoundError, StorageError, UsageError
from claudechat.storage import ids
from claudechat.storage.blobs import BlobConflictError, BlobNotFoundError, BlobStore
from claudechat.storage.journal import Base, Journal
from claudechat.storage.metadata import ConversationRow, MetadataStore, VersionConflictError

PREVIEW_CHARS = 200


class ConversationConflictError(StorageError):
    """Another session saved this conversation since this one read it."""


@dataclass
class SaveResult:
    pushed: bool
    error: StorageError | None = None


@dataclass
class SyncReport:
    pushed: list[str] = field(default_factory=list)
    forks: list[tuple[str, str]] = field(default_factory=list)  # (parent id, fork id)
    damaged: list[str] = field(default_factory=list)  # journal entries that cannot be read
    error: StorageError | None = None  # the last entry that could not be pushed

    def fork_notices(self) -> list[str]:
        return [
            f"conversation {parent[:8]} was changed elsewhere; saved as fork {fork}"
            for parent, fork in self.forks
        ]


@dataclass
class Listing:
    rows: list[ConversationRow]
    unsynced: set[str]
    error: StorageError | None = None


@dataclass
class DoctorReport:
    adopted: list[str] = field(default_factory=list)  # documents without a row: row created
    refreshed: list[str] = field(default_factory=list)  # rows older than their document
    missing: list[str] = field(default_factory=list)  # rows whose document is gone
    corrupt: list[str] = field(default_factory=list)  # documents that cannot be read
    damaged_journal: list[str] = field(default_factory=list)  # unreadable journal entries


class ConversationStore:
    def __init__(
        self,
        blobs: BlobStore,
        open_metadata: Callable[[], MetadataStore],
        journal: Journal,
    ) -> None:
        self.blobs = blobs
        self.journal = journal
        self._open_metadata = open_metadata
        self._metadata: MetadataStore | None = None
        # The stored version each conversation had when this process last read or wrote it.
        self._bases: dict[str, Base | None] = {}

    @property
    def metadata(self) -> MetadataStore:
        """Connected on first use, and again after a failure, so a store that is down at start
        does not stop a chat that can run on the journal."""
        if self._metadata is None:
            self._metadata = self._open_metadata()
        return self._metadata

    blob_key = staticmethod(ids.document_key)

    # -- saving -----------------------------------------------------------------------------

    def save(self, conversation: Conversation) -> SaveResult:
        base = self._bases.get(conversation.id)
        entry_etag = self.journal.write(conversation, base)
        try:
            self._push(conversation, base)
        except ConversationConflictError:
            raise
        except StorageError as exc:
            self._journal_progress(conversation, base)
            return SaveResult(pushed=False, error=exc)
        self.journal.remove(conversation.user_id, conversation.id, entry_etag)
        return SaveResult(pushed=True)

    def _journal_progress(self, conversation: Conversation, base: Base | None) -> None:
        """The blob may have landed before the row failed: record its etag for whoever
        drains the journal next, in this process or another."""
        newer = self._bases.get(conversation.id, base)
        if newer != base:
            self.journal.write(conversation, newer)

    def fork(self, conversation: Conversation) -> Conversation:
        """Save this session's view of a conflicting conversation as a new one. The fork is
        journaled before the original's entry goes, so a crash in between loses nothing."""
        forked = replace(conversation, id=new_conversation_id(), parent_id=conversation.id)
        self.save(forked)
        self.journal.discard(conversation.user_id, conversation.id)
        return forked

    def _push(self, conversation: Conversation, base: Base | None) -> None:
        """Blob, then row; records in _bases how far it got, even when the row fails."""
        base = base or Base()
        data = encode_document(conversation)
        key = self.blob_key(conversation.user_id, conversation.id)
        try:
            etag = self.blobs.put(key, data, expect=base.etag)
        except BlobConflictError:
            etag = self._etag_if_ours(key, data)
        # The blob is ours now, whatever happens to the row next.
        self._bases[conversation.id] = replace(base, etag=etag)
        row = _row_for(conversation, self.blobs.location(key))
        try:
            if base.version is None:
                self.metadata.insert(row)
            else:
                row.version = base.version + 1
                self.metadata.update(row, base.version)
        except VersionConflictError:
            self._row_follows_blob(row)
        self._bases[conversation.id] = Base(row.version, etag)

    def _row_follows_blob(self, row: ConversationRow) -> None:
        """The conditional blob write succeeded, so this document is the newest one: a row
        that moved meanwhile (a `doctor` refresh, an earlier push of ours whose answer was
        lost) is brought in line with it instead of forking the conversation."""
        current = self.metadata.get(row.user_id, row.conversation_id)
        try:
            if current is None:
                row.version = 1
                self.metadata.insert(row)
            else:
                row.version = current.version + 1
                self.metadata.update(row, current.version)
        except VersionConflictError as exc:
            raise ConversationConflictError(str(exc)) from exc

    def _etag_if_ours(self, key: str, data: bytes) -> str:
        """A conditional write failed: fine if the blob already holds exactly our document
        (an earlier attempt landed before a crash or an outage), a conflict otherwise."""
        try:
            current, etag = self.blobs.get_with_etag(key)
        except BlobNotFoundError:
            current, etag = b"", ""
        if current != data:
            raise ConversationConflictError(f"{self.blobs.location(key)} was changed elsewhere")
        return etag

    def sync(self, user_id: str) -> SyncReport:
        """Push what the journal holds for this user; fork what conflicts."""
        scan = self.journal.scan(user_id)
        report = SyncReport(damaged=scan.damaged)
        for entry in scan.entries:
            conversation = entry.conversation
            try:
                self._push(conversation, entry.base)
                self.journal.remove(user_id, conversation.id, entry.etag)
                report.pushed.append(conversation.id)
            except ConversationConflictError:
                report.forks.append((conversation.id, self.fork(conversation).id))
            except StorageError as exc:
                # One entry the store refuses must not hold back the others.
                self._journal_progress(conversation, entry.base)
                report.error = exc
        return report

    # -- reading ----------------------------------------------------------------------------

    def load(self, user_id: str, reference: str) -> Conversation:
        conversation_id = self.resolve(user_id, reference)
        entry = self.journal.get(user_id, conversation_id)
        if entry is not None:
            # Changes not yet pushed are newer than anything in the store.
            self._bases[conversation_id] = entry.base
            return entry.conversation
        row = self.metadata.get(user_id, conversation_id)
        if row is None:
            raise NotFoundError(f"no conversation {ids.printable(reference)}")
        return self.load_row(row)

    def load_row(self, row: ConversationRow) -> Conversation:
        key = self.blob_key(row.user_id, row.conversation_id)
        data, etag = self.blobs.get_with_etag(key)
        conversation = decode_document(data, self.blobs.location(key))
        if conversation.id != row.conversation_id or conversation.user_id != row.user_id:
            raise CorruptDocumentError("its id or owner does not match", self.blobs.location(key))
        self._bases[conversation.id] = Base(row.version, etag)
        return conversation

    def resolve(self, user_id: str, reference: str) -> str:
        """A full id or unique prefix, within this user's conversations only."""
        prefix = ids.id_prefix(reference)
        local = {
            e.conversation.id
            for e in self.journal.entries(user_id)
            if e.conversation.id.startswith(prefix)
        }
        try:
            matches = local | {r.conversation_id for r in self._rows_matching(user_id, prefix)}
        except StorageError:
            if len(local) != 1:
                raise
            matches = local
        if not matches:
            raise NotFoundError(f"no conversation {ids.printable(reference)}")
        if len(matches) > 1:
            shown = ", ".join(sorted(m[:8] for m in matches)[:3])
            raise NotFoundError(
                f"{ids.printable(reference)} matches more than one conversation "
                f"({shown}, ...); give more of the id"
            )
        return matches.pop()

    def _rows_matching(self, user_id: str, prefix: str) -> list[ConversationRow]:
        if len(prefix) == 36:
            row = self.metadata.get(user_id, ids.conversation_id(prefix))
            return [row] if row else []
        return self.metadata.find_by_prefix(user_id, prefix)

    def latest(self, user_id: str) -> Conversation:
        listing = self.list(user_id, limit=1)
        if not listing.rows:
            if listing.error:
                raise listing.error
            raise NotFoundError("there is no conversation to continue yet")
        return self.load(user_id, listing.rows[0].conversation_id)

    def list(self, user_id: str, limit: int | None = None) -> Listing:
        """Stored rows merged with conversations only the journal has, newest first."""
        if limit is not None and limit < 1:
            raise UsageError("--limit must be at least 1")
        local = {
            e.conversation.id: _row_for(e.conversation, "journal")
            for e in self.journal.entries(user_id)
        }
        error = None
        try:
            stored = self.metadata.list_for_user(user_id, limit)
        except StorageError as exc:
            stored, error = [], exc
        merged = {row.conversation_id: row for row in stored} | local
        rows = sorted(merged.values(), key=lambda r: (r.updated_at, r.conversation_id))
        rows.reverse()
        return Listing(rows[:limit] if limit else rows, set(local), error)

    # -- repair -----------------------------------------------------------------------------

    def doctor(self, user_id: str) -> DoctorReport:
        """Compare this user's documents with their rows and repair what a crash left."""
        report = DoctorReport(damaged_journal=self.journal.scan(user_id).damaged)
        rows = {row.conversation_id: row for row in self.metadata.list_for_user(user_id)}
        for key in self.blobs.list(f"{ids.user_id(user_id)}/"):
            conversation_id = key.rsplit("/", 1)[-1].removesuffix(".json")
            try:
                conversation = decode_document(self.blobs.get(key), self.blobs.location(key))
                # Only what the key says is trusted: a document claiming another id or owner
                # must not become a row in someone else's list.
                if ids.document_key(conversation.user_id, conversation.id) != key:
                    raise CorruptDocumentError("its id or owner does not match its key")
            except (CorruptDocumentError, UsageError):
                report.corrupt.append(conversation_id)
                continue
            row = rows.pop(conversation_id, None)
            self._repair_row(conversation, row, report)
        report.missing.extend(sorted(rows))
        return report

    def _repair_row(
        self, conversation: Conversation, row: ConversationRow | None, report: DoctorReport
    ) -> None:
        fresh = _row_for(
            conversation, self.blobs.location(self.blob_key(conversation.user_id, conversation.id))
        )
        if row is None:
            self.metadata.insert(fresh)
            report.adopted.append(conversation.id)
        elif (row.updated_at, row.message_count) != (fresh.updated_at, fresh.message_count):
            fresh.version = row.version + 1
            self.metadata.update(fresh, row.version)
            report.refreshed.append(conversation.id)

    def close(self) -> None:
        if self._metadata is not None:
            self._metadata.close()


def encode_document(conversation: Conversation) -> bytes:
    return dumps_json(conversation.to_document()).encode("utf-8")


def decode_document(data: bytes, location: str | None = None) -> Conversation:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CorruptDocumentError("it is not UTF-8 text", location) from exc
    except json.JSONDecodeError as exc:
        raise CorruptDocumentError(f"invalid JSON ({exc.msg} at char {exc.pos})", location) from exc
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise CorruptDocumentError(f"invalid JSON ({exc})", location) from exc
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
