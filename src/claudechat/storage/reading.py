"""How a ConversationStore reads: a mixin of it (store.py), kept in a module of its own so the
rules of reading can be read in one place. A document is the stored one merged with what the
journal holds for it; while the store is down, the copies kept on this machine stand in for
documents and rows alike; an id is a full id or a unique prefix, within one user's only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from claudechat.conversation import Conversation
from claudechat.errors import (
    ConversationDeletedError,
    CorruptDocumentError,
    MissingDocumentError,
    NotFoundError,
    StorageError,
    UsageError,
)
from claudechat.merging import merge
from claudechat.storage import ids
from claudechat.storage.blobs import BlobNotFoundError
from claudechat.storage.documents import decode_document, is_tombstone, newest_rows
from claudechat.storage.journal import JournalEntry
from claudechat.storage.metadata import ConversationRow, unused
from claudechat.storage.results import Listing, PlacedNotice

if TYPE_CHECKING:
    from claudechat.storage.blobs import BlobStore
    from claudechat.storage.cache import DocumentCache
    from claudechat.storage.journal import Journal
    from claudechat.storage.metadata import MetadataStore
    from claudechat.storage.versions import StoredVersions

T = TypeVar("T")


@dataclass
class KeptCopy:
    """This machine's copy of a document, standing in for the stored one the store could not
    give. `current`: the database's row, read while only the blob store was down, names no
    version newer than the copy (never, with the database down too: nothing says so).
    Otherwise the copy may be behind: another host saved turns this one never read, and a
    turn continued from it left them out (a fork, once pushed)."""

    reason: StorageError
    current: bool

    @property
    def notice(self) -> PlacedNotice:
        return PlacedNotice(
            # "using": rename and export take it too, and said "showing" while showing nothing
            f"warning: {self.reason}; using the copy kept on this machine, which may be stale",
            "warning: the conversation store is unavailable; showing the copy kept by this "
            "server, which may be older than the store's",
        )


class StoreReading:
    # Declared for the type checker: ConversationStore sets them.
    blobs: BlobStore
    journal: Journal
    cache: DocumentCache | None
    notify: Callable[[str], None]
    _versions: StoredVersions

    if TYPE_CHECKING:  # defined by ConversationStore

        @property
        def metadata(self) -> MetadataStore: ...

        def guarded(self, operation: Callable[[], T]) -> T: ...

        @staticmethod
        def blob_key(user: str, conversation: str) -> str: ...

        def _remember(
            self,
            document: Conversation,
            data: bytes,
            seen_before: bool = False,
            at_key: bool = True,
        ) -> None: ...

        def _keep_stored_version(self, document: Conversation, etag: str, data: bytes) -> None: ...

    def load(self, user_id: str, reference: str) -> Conversation:
        """The stored document merged with what the journal holds for it (any writer's).
        While the store is down, the copy cached on this machine stands in for it; not when
        the store answers that it has no such document (see missing_document)."""
        document, kept = self.load_checked(user_id, reference)
        if kept is not None:
            self.notify(kept.notice)
        return document

    def load_checked(self, user_id: str, reference: str) -> tuple[Conversation, KeptCopy | None]:
        """As load, without the notice: the document, and the copy that stood in for the
        stored one, if one did (serve refuses to continue one that may be behind)."""
        # Read once, for the id and for the merge; only the entries the reference can name:
        # serve's turns wait there for seconds, and a user may have many.
        entries = self.journal.entries(user_id, _journal_prefix(reference))
        at_once = self._read_at_once(user_id, reference)
        if at_once is not None:
            conversation_id, stored = at_once
            local = [e.conversation for e in entries if e.conversation.id == conversation_id]
            return _merged(stored + local, reference), None
        conversation_id, row = self._resolve(user_id, reference, entries)
        try:
            return self._load_resolved(user_id, reference, conversation_id, row, entries)
        except (CorruptDocumentError, MissingDocumentError) as exc:
            # The full id, which `reference` may not be: the server's access log names it.
            exc.conversation_id = conversation_id
            if isinstance(exc, CorruptDocumentError) and self._copy_replaces(
                exc, user_id, conversation_id
            ):
                exc.name_the_copy_here()
            raise

    def _load_resolved(
        self,
        user_id: str,
        reference: str,
        conversation_id: str,
        row: ConversationRow | None,
        entries: list[JournalEntry],
    ) -> tuple[Conversation, KeptCopy | None]:
        local = [e.conversation for e in entries if e.conversation.id == conversation_id]
        kept = None
        try:
            stored = self.guarded(lambda: self._load_stored(user_id, conversation_id, row))
        except BlobNotFoundError as exc:  # the row outlived its document: no outage
            if not local:
                raise self.missing_document(user_id, conversation_id, exc) from exc
            stored = []  # a save not pushed yet holds it
        except StorageError as exc:
            cached = self.cache.get(user_id, conversation_id) if self.cache else None
            if cached is None and not local:
                raise
            stored = [cached] if cached is not None else []
            if cached is not None:
                kept = KeptCopy(exc, row is not None and _copy_covers(cached, row))
        return _merged(stored + local, reference), kept

    def _read_at_once(self, user_id: str, reference: str) -> tuple[str, list[Conversation]] | None:
        """A full id's row and document in one store call, not one for each: each call is a
        hand-over to a store thread and back, on the path of every turn (serve's bare /chat
        continues its conversation by full id). None: anything but a document read (a prefix,
        an outage, no row, a corrupt or deleted document), which the steps of load_checked
        then read again, each with its own fallback and its own words."""
        if not ids.is_conversation_id(reference):
            return None
        conversation_id = reference.lower()
        try:
            stored = self.guarded(lambda: self._load_stored(user_id, conversation_id))
        except Exception:  # a failure fast or remembered: the breaker, once it trips, opens
            return None
        return (conversation_id, stored) if stored else None

    def _copy_replaces(
        self, error: CorruptDocumentError, user_id: str, conversation_id: str
    ) -> bool:
        from claudechat.storage.repair import copy_replaces

        return copy_replaces(self.cache, error, user_id, conversation_id)

    def missing_document(
        self, user_id: str, conversation_id: str, exc: BlobNotFoundError
    ) -> MissingDocumentError:
        """The store answered that it lacks the document. This machine's copy does not stand
        in, as it does while the store is down: it may be older than the document lost, and
        shown (or exported) as the conversation, nothing said it was no longer stored; `doctor`
        puts it back."""
        kept = self.cache is not None and self.cache.get(user_id, conversation_id) is not None
        return MissingDocumentError(str(exc), copy_here=kept)

    def _load_stored(
        self, user_id: str, conversation_id: str, row: ConversationRow | None = None
    ) -> list[Conversation]:
        """The stored document; `row`: its row, when resolving the id read it already."""
        if row is None:
            row = self.metadata.get(user_id, conversation_id)
        return [self.load_row(row)] if row is not None else []

    def load_row(self, row: ConversationRow) -> Conversation:
        """The document at its key in the current store. After a change of S3 prefix, older
        rows still name their documents under the old one: that location is read while the
        key holds nothing, if it is in the same bucket and ends in the row's own
        {user}/{conversation}.json. A location outside the current store (another bucket; the
        folder of a data directory since copied or moved) is never read: it may be gone, or
        hold an older version, which was shown in place of the copy's own."""
        key = self.blob_key(row.user_id, row.conversation_id)
        try:
            data, etag = self.blobs.get_with_etag(key)
        except BlobNotFoundError:
            earlier = self._earlier_location(row, key)
            if earlier is None:
                raise
            return self._load_earlier(row, earlier)
        if is_tombstone(data):  # its row outlived it (a delete that failed midway)
            if self.cache is not None:
                self.cache.forget(row.user_id, row.conversation_id)
            deleted = f"conversation {row.conversation_id[:8]} was deleted"
            raise ConversationDeletedError(deleted)
        known = self._versions.get(row.user_id, row.conversation_id)
        if known is not None and known.etag == etag:
            # The version this process last read or wrote: no need to decode it again.
            self._remember(known.document, data, seen_before=True)
            return known.document.copy()
        conversation = self._decoded(row, data, self.blobs.location(key))
        self._keep_stored_version(conversation, etag, data)
        return conversation

    def _earlier_location(self, row: ConversationRow, key: str) -> str | None:
        """Where the row says the document was, when that is worth reading instead of its key."""
        location = row.s3_file_location
        if location == self.blobs.location(key) or not location.endswith("/" + key):
            return None
        return location if self.blobs.holds(location) else None

    def _load_earlier(self, row: ConversationRow, location: str) -> Conversation:
        data, _ = self.blobs.get_location(location)
        conversation = self._decoded(row, data, location)
        # The next save goes to the current key; an etag from elsewhere means nothing there.
        self._remember(conversation, data, at_key=False)
        return conversation

    @staticmethod
    def _decoded(row: ConversationRow, data: bytes, location: str) -> Conversation:
        conversation = decode_document(data, location)
        if conversation.id != row.conversation_id or conversation.user_id != row.user_id:
            raise CorruptDocumentError("its id or owner does not match", location)
        return conversation

    def resolve(self, user_id: str, reference: str) -> str:
        """A full id or unique prefix, within this user's conversations only."""
        return self._resolve(user_id, reference, self.journal.entries(user_id))[0]

    def _resolve(
        self, user_id: str, reference: str, entries: list[JournalEntry]
    ) -> tuple[str, ConversationRow | None]:
        """The id, and its row when the store has one."""
        prefix = ids.id_prefix(reference)
        local = {e.conversation.id for e in entries if e.conversation.id.startswith(prefix)}
        rows: list[ConversationRow] = []
        try:
            rows = self.guarded(lambda: self._rows_matching(user_id, prefix))
            matches = local | {r.conversation_id for r in rows}
        except StorageError:
            local |= {c.id for c in self.cached(user_id) if c.id.startswith(prefix)}
            if len(local) != 1:
                raise
            matches = local
        if not matches:
            raise NotFoundError(f"no conversation {ids.printable(reference)}")
        if len(matches) > 1:
            raise NotFoundError(
                f"{ids.printable(reference)} matches {len(matches)} conversations "
                f"({_told_apart(sorted(matches))}); give more of the id"
            )
        found = matches.pop()
        return found, next((r for r in rows if r.conversation_id == found), None)

    def _rows_matching(self, user_id: str, prefix: str) -> list[ConversationRow]:
        if len(prefix) == 36:
            row = self.metadata.get(user_id, ids.conversation_id(prefix))
            return [row] if row else []
        return self.metadata.find_by_prefix(user_id, prefix)

    def cached(self, user_id: str) -> list[Conversation]:
        """The documents of this user kept on this machine (empty without a local cache)."""
        return self.cache.all(user_id) if self.cache else []

    def latest(self, user_id: str) -> Conversation:
        listing = self.list(user_id, limit=1)
        if not listing.rows:
            if listing.error:
                raise listing.error
            raise NotFoundError("there is no conversation to continue yet")
        return self.load(user_id, listing.rows[0].conversation_id)

    def list(self, user_id: str, limit: int | None = None, with_unused: bool = True) -> Listing:
        """Stored rows merged with conversations only the journal has, newest first. While
        the store is down, the documents cached on this machine stand in for its rows.
        Without `with_unused`, the conversations never used (metadata.unused) left out."""
        if limit is not None and limit < 1:
            raise UsageError("--limit must be at least 1")
        local = newest_rows(e.conversation for e in self.journal.entries(user_id))
        error: StorageError | None = None
        left_out: set[str] = set()
        try:
            stored, left_out = self.guarded(
                lambda: _rows(self.metadata, user_id, limit, with_unused)
            )
        except StorageError as exc:
            stored, error = list(newest_rows(self.cached(user_id)).values()), exc
        merged = {row.conversation_id: row for row in stored}
        for conversation_id, row in local.items():
            known = merged.get(conversation_id)
            if known is None or known.updated_at <= row.updated_at:
                merged[conversation_id] = row
        rows = sorted(merged.values(), key=lambda r: (r.updated_at, r.conversation_id))
        rows.reverse()
        if not with_unused:
            left_out |= {r.conversation_id for r in rows if unused(r)}
            rows = [r for r in rows if not unused(r)]
            left_out -= {r.conversation_id for r in rows}  # used since, in the journal
        return Listing(rows[:limit] if limit else rows, set(local), error, len(left_out))


def _rows(
    metadata: MetadataStore, user_id: str, limit: int | None, with_unused: bool
) -> tuple[list[ConversationRow], set[str]]:
    """The stored rows to list, and the ids of the unused ones left out."""
    rows = metadata.list_for_user(user_id, limit, with_unused)
    return rows, set() if with_unused else metadata.unused_ids(user_id)


def _copy_covers(copy: Conversation, row: ConversationRow) -> bool:
    """The row (which never goes back in time) names no later version than the copy: none
    saved after it, and no more messages."""
    return copy.updated_at >= row.updated_at and len(copy.branch()) >= row.message_count


def _told_apart(matches: list[str], most: int = 3) -> str:
    """The first few ids, each long enough to tell it from the others (8 characters at least:
    two ids can share their first 8)."""
    length = 8
    while len({m[:length] for m in matches}) < len(matches) and length < 36:
        length += 1
    shown = ", ".join(m[:length] for m in matches[:most])
    return shown + (", ..." if len(matches) > most else "")


def _merged(copies: list[Conversation], reference: str) -> Conversation:
    """The copies of one conversation (the stored one first, then the journal's) as one."""
    if not copies:
        raise NotFoundError(f"no conversation {ids.printable(reference)}")
    document = copies[0]
    for other in copies[1:]:
        document = merge(document, other)
    return document


def _journal_prefix(reference: str) -> str:
    """What the ids of the journal entries a reference can name start with ("": any, for a
    reference that is no id, refused further on in its own words)."""
    try:
        return ids.id_prefix(reference)
    except UsageError:
        return ""
