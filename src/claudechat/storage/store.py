"""ConversationStore: documents in a blob store, their metadata rows in a database.

Every save goes to the local journal first (when it can be written: it is a safety net, not a
gate), then the blob, then the row; the journal entry is dropped once both are written. Every
store call runs under a deadline with a circuit breaker (see guard.py), so a store that stops
answering costs one timeout, not one per save.

A save is a merge: the stored document and this session's are combined (the union of their
messages, see merging.py) and written back with a conditional write (S3 IfMatch /
IfNoneMatch, a compare under a lock for local files) that re-reads and re-merges when another
writer got there first. So concurrent sessions never fork a conversation and never lose each
other's turns, and pushing a journal entry twice changes nothing. The row follows the newest
document and never goes back in time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, TypeVar

from claudechat.conversation import Conversation
from claudechat.errors import ConversationDeletedError, CorruptDocumentError, StorageError
from claudechat.merging import merge
from claudechat.storage import ids
from claudechat.storage.attachments import AttachmentStore
from claudechat.storage.blobs import (
    BlobConflictError,
    BlobNotFoundError,
    BlobStore,
    LocalBlobStore,
    ping,
)
from claudechat.storage.cache import DocumentCache
from claudechat.storage.copies import forget_deleted_copies
from claudechat.storage.documents import decode_document, encode_document, is_tombstone, row_for
from claudechat.storage.guard import Guard
from claudechat.storage.journal import Journal, JournalEntry, JournalWrite
from claudechat.storage.metadata import ConversationRow, MetadataStore
from claudechat.storage.reading import StoreReading
from claudechat.storage.results import PendingSave, PlacedNotice, SaveResult, SyncReport
from claudechat.storage.versions import StoredVersions

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

OPENING_DEADLINE = 30.0
# Each conflict means another writer saved in between; they cannot all keep winning.
MAX_MERGE_ATTEMPTS = 50

T = TypeVar("T")


class ConversationStore(StoreReading):
    def __init__(
        self,
        blobs: BlobStore,
        open_metadata: Callable[[], MetadataStore],
        journal: Journal,
        cache: DocumentCache | None = None,
        guard: Guard | None = None,
        attachments: AttachmentStore | None = None,
    ) -> None:
        self.blobs = blobs
        self.attachments = attachments
        self.journal = journal
        self.cache = cache
        self.guard = guard or Guard()
        # While the breaker is open, a probe asks both parts: a call that needed only the
        # database closed it while S3 still hung, and the next save waited its deadline again.
        self.guard.health = self.health_check
        # Where warnings that are no error go (a stale copy shown); the CLI prints them.
        self.notify: Callable[[str], None] = lambda _message: None
        # Around the opening of the database, which can wait up to OPENING_DEADLINE (another
        # process migrating it, or writing to it while it needs migrating): the CLI shows a
        # line while it waits (a frozen terminal said nothing for 30 s).
        self.waiting_to_open: Callable[[], contextlib.AbstractContextManager[object]] = (
            contextlib.nullcontext
        )
        self._open_metadata = open_metadata
        self._metadata: MetadataStore | None = None
        # The stored version this process last read or wrote, per conversation.
        self._versions = StoredVersions()
        self._journal_told = False  # that the journal cannot be written
        self._closed = False

    @property
    def metadata(self) -> MetadataStore:
        """Connected on first use, and again after a failure, so a store that is down at start
        does not stop a chat that can run on the journal. Not once closed: a call finishing
        after (one the deadline gave up on, serve's journal drain at shutdown) reopened the
        database, and left SQLite's -wal behind; its save stays in the journal."""
        if self._closed:
            raise StorageError("the conversation store is closed (the program is ending)")
        if self._metadata is None:
            self._metadata = self._open_metadata()
        return self._metadata

    blob_key = staticmethod(ids.document_key)

    def guarded(self, operation: Callable[[], T]) -> T:
        """A store call under the deadline. Connecting (and migrating) the database comes
        first, on its own: it is bounded by the drivers' limits (connect_timeout, statement
        and lock timeouts) and given longer, so a slow machine starting many processes at
        once is not taken for an outage."""
        if self._metadata is None:
            with self.waiting_to_open(), contextlib.suppress(StorageError):
                # The operation says what failed.
                self.guard.call(lambda: self.metadata, OPENING_DEADLINE)
        return self.guard.call(operation)

    # -- saving -----------------------------------------------------------------------------

    def save(self, conversation: Conversation) -> SaveResult:
        return self.begin_save(conversation)()

    def begin_save(self, conversation: Conversation) -> PendingSave:
        """A save's local half now: a copy, encoded once, written to the journal (from here
        nothing is lost with this process). Its store half when the returned call runs: beside
        the request to Claude, or (serve's JSON turns) after the answer."""
        # A copy: the session goes on while the store half runs, or after its deadline.
        snapshot = conversation.copy()
        data = encode_document(snapshot)  # once, for the journal and the store alike
        written, journal_error = self._journal_write(snapshot, data)
        entry_etag = written.etag if written else None
        if written:  # merged with another session's save of it, not pushed yet: pushed too
            snapshot, data = written.conversation, written.document
        return PendingSave(
            lambda: self._finish_save(snapshot, data, entry_etag, journal_error),
            journaled=journal_error is None,
            make_durable=lambda: self._journal_made_durable(snapshot),
            conversation=snapshot,
        )

    def _finish_save(
        self,
        snapshot: Conversation,
        data: bytes,
        entry_etag: str | None,
        journal_error: StorageError | None,
    ) -> SaveResult:
        try:
            merged = self.guarded(lambda: self._push(snapshot, data))
        except StorageError as exc:
            journaled = journal_error is None and self._journal_made_durable(snapshot)
            return SaveResult(pushed=False, error=exc, journaled=journaled)
        except ConversationDeletedError:
            if entry_etag is not None:  # nothing to push later: it is gone for good
                self.journal.remove(snapshot, entry_etag)
            raise
        notices: list[str] = []
        if journal_error is not None and not self._journal_told:
            notices.append(
                PlacedNotice(
                    f"warning: {journal_error}; saving straight to the store",
                    "warning: the server's local journal cannot be written; saving straight to "
                    "the store",
                )
            )
            self._journal_told = True
        if entry_etag is not None:
            self.journal.remove(snapshot, entry_etag)
        return SaveResult(pushed=True, conversation=merged, notices=notices)

    def _journal_write(
        self, conversation: Conversation, data: bytes
    ) -> tuple[JournalWrite | None, StorageError | None]:
        """A safety net, not a gate: unwritable (a full disk), the save goes on (told once)."""
        try:
            written = self.journal.write_merged(conversation, data)
        except StorageError as exc:
            return None, exc
        self._journal_told = False
        return written, None

    def _journal_made_durable(self, conversation: Conversation) -> bool:
        try:
            self.journal.make_durable(conversation)
        except StorageError:
            return False
        return True

    def _push(self, conversation: Conversation, encoded: bytes | None = None) -> Conversation:
        try:
            return self._push_document(conversation, encoded)
        except ConversationDeletedError:
            if self.attachments is not None:  # nothing will save them now: kept for ever
                self.attachments.drop_local(conversation)
            raise

    def _push_document(self, conversation: Conversation, encoded: bytes | None) -> Conversation:
        """Merge into the stored document with a conditional write, then bring the row in
        line (`encoded`: the conversation, encoded already). Returns the document as stored."""
        key = self.blob_key(conversation.user_id, conversation.id)
        known = self._versions.get(conversation.user_id, conversation.id)
        expect: str | None  # None: no document stored yet
        document, data = conversation, encoded  # data: the document's encoding, once known
        if self.attachments is not None:  # a document never reaches the store before them
            self.attachments.push_pending(conversation)
        for _attempt in range(MAX_MERGE_ATTEMPTS):
            if known is None:
                document, expect, data, unchanged = self._merge_stored(key, document, data)
                if unchanged:
                    break
            else:
                merged, expect = known.merged_into(document), known.etag
                if merged is not document:
                    document, data = merged, None
            if data is None:
                data = encode_document(document)
            try:
                etag = self.blobs.put(key, data, expect=expect)
            except BlobConflictError:
                known = None  # someone saved in between: read, merge, try again
                continue
            self._keep_stored_version(document, etag, data)
            break
        else:
            raise StorageError(f"{self.blobs.location(key)} kept changing; try again")
        self.record(document)
        return document

    def record(self, document: Conversation) -> bool:
        """The row, the attachment references and the search entries of a stored document, as
        a save writes them (`doctor` too, for a document whose row a crash lost). False: the
        stored row was newer, and stays (a session saved the conversation meanwhile).
        ConversationDeletedError, writing nothing: it was deleted since its document went in."""
        from claudechat.storage.deletions import hold

        # Made before the writers' lock is taken: SQLite has one writer at a time.
        row = row_for(document, self.blobs.location(self.blob_key(document.user_id, document.id)))
        # The last run's: a transaction that failed is run again.
        written: list[bool | None] = [False]
        referenced: set[str] = set()  # the files it refers to first: see settle

        def work(connection: Connection) -> None:
            hold(connection, document.id)
            referenced.clear()
            written[0] = self._record(connection, document, row, referenced)

        self.metadata.write_retrying(work, "the row and search index")
        if self.attachments is not None and written[0] is not None:
            self.attachments.settle(document, referenced)
        if written[0] is None:
            # Its document went in just before the tombstone: nothing of it is kept here.
            self.forget(document.user_id, document.id)
            raise _deleted(document.id)
        return written[0]

    def _record(
        self,
        connection: Connection,
        document: Conversation,
        row: ConversationRow,
        referenced: set[str],
    ) -> bool | None:
        """The row, the attachment references and the search entries of a stored document: one
        transaction, after the document (so a row never names a document not written yet).
        Like the row, the search index is retried from the journal when this fails. None,
        writing nothing: the conversation was deleted."""
        from claudechat.storage.deletions import was_deleted
        from claudechat.storage.search import index_new_messages

        written = self.metadata.update_newest(connection, row)
        # A row updated is a conversation not deleted: a delete removes the row in the same
        # transaction that marks it deleted. Only a save that finds no row asks.
        if written is None:
            if was_deleted(connection, document.user_id, document.id):
                return None
            self.metadata.insert_row(connection, row)
            written = True
        if self.attachments is not None:
            referenced |= self.attachments.record_refs(connection, document)
        index_new_messages(connection, document)
        return written

    def ping_blobs(self) -> None:
        """Raise StorageError unless the blob store answers (a key it lacks is an answer)."""
        ping(self.blobs)

    def ping_database(self) -> None:
        """Raise StorageError unless the database answers."""
        from sqlalchemy import text

        from claudechat.storage.metadata import database_errors

        metadata = self.metadata
        with database_errors(metadata.url), metadata.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def health_check(self) -> None:
        self.ping_database()
        self.ping_blobs()

    def forget(self, user_id: str, conversation_id: str) -> None:
        """A deleted conversation: a save still under way starts it again from its own
        document only, not from the turns this process remembers; and its local copy goes
        (else `list` and `show` would offer it during an outage)."""
        self._versions.forget(user_id, conversation_id)
        if self.cache is not None:
            self.cache.forget(user_id, conversation_id)

    def _keep_stored_version(self, document: Conversation, etag: str, data: bytes) -> None:
        """`document` is what the store holds as `etag` (encoded: `data`): the version the
        next save merges into, and the local copy."""
        self._versions.seen(document, etag, len(data))
        self._remember(document, data)

    def _remember(
        self, document: Conversation, data: bytes, seen_before: bool = False, at_key: bool = True
    ) -> None:
        """The local copy; `seen_before`: of a version this process read or wrote already;
        `at_key`: `data` is what the document's own key holds (not a file from elsewhere)."""
        if self.cache is None:
            return
        stored_file = None
        if at_key and isinstance(self.blobs, LocalBlobStore):
            stored_file = self.blobs.file(self.blob_key(document.user_id, document.id))
        self.cache.put(document, data, missing_only=seen_before, stored_file=stored_file)

    def _merge_stored(
        self, key: str, document: Conversation, encoded: bytes | None
    ) -> tuple[Conversation, str | None, bytes | None, bool]:
        """The document merged with the stored one, the stored etag (None: there is none), the
        merge's encoding (`encoded`, the document's, when nothing is stored), and whether the
        store already holds exactly the merge."""
        try:
            data, etag = self.blobs.get_with_etag(key)
        except BlobNotFoundError:
            return document, None, encoded, False
        if is_tombstone(data):
            raise _deleted(document.id)
        try:
            stored = decode_document(data, self.blobs.location(key))
        except CorruptDocumentError as exc:
            # Never overwrite what cannot be read: it may hold turns, or a newer format.
            raise StorageError(f"{exc}; not overwritten (run `claudechat doctor`)") from exc
        merged = merge(document, stored)
        merged_data = encode_document(merged)  # to compare, and to write when it differs
        unchanged = merged_data == data
        if unchanged:
            # Remembered only with its local copy written: a load of a remembered version
            # leaves the local copy as it is (load_row). A version about to be replaced by
            # this save's write is remembered then, or read again after a failed one.
            self._keep_stored_version(merged, etag, data)  # encoded as stored: the same document
        return merged, etag, merged_data, unchanged

    def sync(self, user_id: str, busy: Callable[[], Collection[str]] = tuple) -> SyncReport:
        """Push this process's entries and those of writers that are gone; not those of the
        conversations `busy()` names (turns of this process under way, or pushes waiting, which
        push their own). Asked before the journal is read, whose entries for them are not even
        read, and again after: one that began since is named too."""
        scan = self.journal.scan(user_id, pushable_only=True, leave=busy())
        report = SyncReport(
            damaged=scan.damaged,
            left_to_live_writers=len(scan.live_writers),
            newer=len(scan.newer),
        )
        groups: dict[str, list[JournalEntry]] = {}
        under_way = busy()
        for entry in scan.entries:
            if entry.conversation.id not in under_way:
                groups.setdefault(entry.conversation.id, []).append(entry)
        for conversation_id, entries in groups.items():
            # Several writers' entries for one conversation: one push of their merge.
            document = entries[0].conversation
            for entry in entries[1:]:
                document = merge(document, entry.conversation)
            try:
                self.guarded(lambda document=document: self._push(document))  # type: ignore[misc]
            except StorageError as exc:
                # One entry the store refuses must not hold back the others.
                report.error = exc
                continue
            except ConversationDeletedError:
                report.dropped.append(conversation_id)  # deleted since: not written back
            else:
                report.pushed.append(conversation_id)
            for entry in entries:
                self.journal.discard(entry)
        return report

    def revive(self, user_id: str, conversation_id: str) -> None:
        """Let a deleted conversation be written again (`import` of its export): its mark in
        the database goes, then its tombstone (a failure between leaves it deleted)."""
        from claudechat.storage.deletions import unmark

        key = self.blob_key(user_id, conversation_id)

        def clear() -> None:
            with self.metadata.writing() as connection:
                unmark(connection, user_id, conversation_id)
            with contextlib.suppress(BlobNotFoundError):
                if is_tombstone(self.blobs.get(key)):
                    self.blobs.delete(key)

        self.guarded(clear)

    def forget_deleted_copies(self, user_id: str, journaled: set[str]) -> None:
        """This machine's copies of conversations whose rows are gone (deleted on another
        machine) removed: see copies.py. Only a cache: a store that does not answer now
        leaves them to the next time."""
        with contextlib.suppress(StorageError):
            self.guarded(lambda: forget_deleted_copies(self, user_id, journaled))

    def close(self) -> None:
        self._closed = True
        self.journal.release()  # first: a database that hangs on closing must not keep it
        if self._metadata is not None:
            self._metadata.close()


def _deleted(conversation_id: str) -> ConversationDeletedError:
    return ConversationDeletedError(
        f"conversation {conversation_id[:8]} was deleted (by another session or client); "
        "nothing more of it is saved"
    )
