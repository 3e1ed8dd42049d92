"""`claudechat doctor`: a user's documents checked against their rows, and what a crash left
repaired.

Apart from the store, which saving and reading never need it for: it runs only when asked,
reads every document of the user, and uses only the store's public parts (its blobs, rows and
journal).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from claudechat.errors import CorruptDocumentError, NewerFormatError, UsageError
from claudechat.storage import ids
from claudechat.storage.attachments import is_attachment_key
from claudechat.storage.blobs import BlobConflictError
from claudechat.storage.documents import decode_document, encode_document, is_tombstone, row_for

if TYPE_CHECKING:
    from claudechat.conversation import Conversation
    from claudechat.storage.cache import DocumentCache
    from claudechat.storage.metadata import ConversationRow
    from claudechat.storage.store import ConversationStore

# What follows a document's key when doctor keeps an unreadable one beside it.
SET_ASIDE_MARK = ".json.unreadable-"


@dataclass
class DoctorReport:
    adopted: list[str] = field(default_factory=list)  # documents without a row: row created
    refreshed: list[str] = field(default_factory=list)  # rows older than their document
    relocated: list[str] = field(default_factory=list)  # rows naming where it was before
    missing: list[str] = field(default_factory=list)  # rows whose document is gone
    restored: list[str] = field(default_factory=list)  # ... put back from this machine's copy
    corrupt: list[str] = field(default_factory=list)  # documents that cannot be read
    set_aside: dict[str, str] = field(default_factory=dict)  # ... kept, by id: where now
    replaced: list[str] = field(default_factory=list)  # ... put back from this machine's copy
    reasons: dict[str, str] = field(default_factory=dict)  # why, by id: what doctor says
    damaged_journal: list[str] = field(default_factory=list)  # journal entries set aside
    newer_journal: list[str] = field(default_factory=list)  # a newer claudechat's entries
    files_restored: dict[str, str] = field(default_factory=dict)  # by id: the files put back
    files_missing: dict[str, str] = field(default_factory=dict)  # by id: the files gone


def doctor(store: ConversationStore, user_id: str) -> DoctorReport:
    """Compare this user's documents with their rows and repair what a crash left."""
    scan = store.journal.scan(user_id)  # moves unusable entries aside
    report = DoctorReport(damaged_journal=store.journal.damaged(), newer_journal=scan.newer)
    rows = {row.conversation_id: row for row in store.metadata.list_for_user(user_id)}
    files: set[str] = set()
    for key in store.blobs.list(f"{ids.user_id(user_id)}/"):
        if is_attachment_key(key):
            files.add(key)
            continue
        if is_set_aside_key(key):
            continue
        conversation_id = key.rsplit("/", 1)[-1].removesuffix(".json")
        data, etag = store.blobs.get_with_etag(key)
        if is_tombstone(data):  # a deleted conversation: nothing to repair
            continue
        try:
            conversation = decode_document(data, store.blobs.location(key))
            # Only what the key says is trusted: a document claiming another id or owner
            # must not become a row in someone else's list.
            if ids.document_key(conversation.user_id, conversation.id) != key:
                raise CorruptDocumentError("its id or owner does not match its key")
        except (CorruptDocumentError, UsageError) as exc:
            rows.pop(conversation_id, None)  # its document is there: unreadable, not missing
            _repair_unreadable(store, user_id, (key, data, etag), exc, report)
            continue
        row = rows.pop(conversation_id, None)
        _repair_row(store, conversation, row, report)
    for conversation_id in sorted(rows):
        restored = _restore_copy(store, user_id, conversation_id)
        (report.restored if restored else report.missing).append(conversation_id)
    _check_files(store, user_id, files, report)
    return report


def _check_files(
    store: ConversationStore, user_id: str, files: set[str], report: DoctorReport
) -> None:
    """Files a conversation refers to that the store lacks: it could not be continued ("is
    missing from the store"), and doctor said its documents and rows agreed. Put back from the
    copy waiting on this machine, where there is one."""
    from claudechat.storage.attachments import attachment_key

    if store.attachments is None:
        return
    gone: dict[str, list[str]] = {}
    put_back: dict[str, list[str]] = {}
    for conversation_id, sha256, name in store.metadata.attachment_uses(user_id):
        key = attachment_key(user_id, sha256)
        if key in files or store.blobs.list(key):  # listed since: a save stored it meanwhile
            continue
        data = store.attachments.waiting(key)
        if data is None:
            gone.setdefault(conversation_id, []).append(name)
            continue
        with contextlib.suppress(BlobConflictError):
            store.blobs.put(key, data, expect=None)
        files.add(key)
        put_back.setdefault(conversation_id, []).append(name)
    report.files_missing = {c: ", ".join(names) for c, names in gone.items()}
    report.files_restored = {c: ", ".join(names) for c, names in put_back.items()}


def set_aside_prefix(document_key: str) -> str:
    """What the keys of a document's set-aside copies start with (see _set_aside)."""
    return f"{document_key.removesuffix('.json')}{SET_ASIDE_MARK}"


def is_set_aside_key(key: str) -> bool:
    """An unreadable document doctor kept beside its key (see _set_aside)."""
    return SET_ASIDE_MARK in key.rsplit("/", 1)[-1]


def _repair_unreadable(
    store: ConversationStore,
    user_id: str,
    stored: tuple[str, bytes, str],
    error: Exception,
    report: DoctorReport,
) -> None:
    """A document that cannot be read, replaced by the copy this machine keeps, if any: doctor
    reported it and stopped, though `doctor` put the same copy back for a document that was
    gone. What cannot be read is never destroyed (it may hold turns the copy lacks): it is
    kept beside its key first. A newer claudechat's document is left for that version."""
    key, data, etag = stored
    conversation_id = key.rsplit("/", 1)[-1].removesuffix(".json")
    reason = _why_unreadable(error)
    if not copy_replaces(store.cache, error, user_id, conversation_id):
        report.corrupt.append(conversation_id)
        report.reasons[conversation_id] = reason
        return
    aside = _set_aside(store, key, data)
    try:
        _restore_copy(store, user_id, conversation_id, unreadable_etag=etag)
    except BlobConflictError:  # written meanwhile (another doctor): looked at next time
        store.blobs.delete(aside)  # what it was set aside from is still there
        report.corrupt.append(conversation_id)
        report.reasons[conversation_id] = "it changed while doctor ran: run doctor again"
        return
    report.set_aside[conversation_id] = f"{reason}; kept as {store.blobs.location(aside)}"
    report.replaced.append(conversation_id)


def copy_replaces(
    cache: DocumentCache | None, error: Exception, user_id: str, conversation_id: str
) -> bool:
    """Whether doctor puts this machine's copy in place of an unreadable document (what
    `show` points at doctor for): not one of a newer format, which a newer claudechat reads."""
    if isinstance(error, NewerFormatError) or cache is None:
        return False
    return cache.get(user_id, conversation_id) is not None


def _set_aside(store: ConversationStore, key: str, data: bytes) -> str:
    """The unreadable document kept under its key with a suffix that says what it is and when
    doctor found it (a blob store has no rename: written anew, the key then written over)."""
    from claudechat.conversation import utc_now

    aside = f"{set_aside_prefix(key)}{utc_now():%Y%m%dT%H%M%S%fZ}"
    store.blobs.put(aside, data, expect=None, content_type="application/octet-stream")
    return aside


def _restore_copy(
    store: ConversationStore, user_id: str, conversation_id: str, unreadable_etag: str | None = None
) -> bool:
    """A row whose document is gone, its document put back from the copy this machine keeps
    (the only one left; it may be older than the one lost, which doctor says). `show` found
    the store lacked it and showed the copy as if it were the conversation, and doctor said
    nothing of it. Saved as updated now: a row newer than the copy would keep its figures.
    `unreadable_etag`: the document is there, unreadable, and set aside; a save never writes
    over what it cannot read, so the copy is written over it first, while it is unchanged."""
    from claudechat.conversation import utc_now
    from claudechat.storage.search import reindex_conversation

    copy = store.cache.get(user_id, conversation_id) if store.cache else None
    if copy is None:
        return False
    copy.updated_at = utc_now()
    if unreadable_etag is not None:  # written over only while it is what doctor set aside
        key = store.blob_key(user_id, conversation_id)
        store.blobs.put(key, encode_document(copy), expect=unreadable_etag)
    saved = store.save(copy)
    if saved.error is not None:  # the journal keeps it, for the next start to push
        raise saved.error
    reindex_conversation(store, saved.conversation or copy)
    return True


def _why_unreadable(error: Exception) -> str:
    if isinstance(error, NewerFormatError):
        return "a newer format: upgrade claudechat to read it"
    return getattr(error, "reason", None) or str(error)


def _repair_row(
    store: ConversationStore,
    conversation: Conversation,
    row: ConversationRow | None,
    report: DoctorReport,
) -> None:
    """The row made or brought up to date, with the search entries and attachment references
    a save writes beside it: a row made alone left the conversation out of every search, and
    its attachments unreferenced, so deleting another conversation that used one removed it.
    A session saving meanwhile (its document is written before its row) writes the row
    itself: a newer row than this version's is left as it is."""
    location = store.blobs.location(store.blob_key(conversation.user_id, conversation.id))
    fresh = row_for(conversation, location)
    if _up_to_date(row, fresh):
        return
    # Read again: doctor read every row before the documents, seconds ago on a long history.
    row = store.metadata.get(conversation.user_id, conversation.id)
    if row is None and store.journal.saved_elsewhere_now(conversation.user_id, conversation.id):
        # Its document written, its row about to be: doctor said "document without a row: row
        # re-created" and "repaired" of a store with nothing wrong.
        return
    if not _up_to_date(row, fresh) and store.record(conversation):
        _reported_in(report, row, fresh).append(conversation.id)


def _up_to_date(row: ConversationRow | None, fresh: ConversationRow) -> bool:
    """The row says what the document does, and where the current store keeps it: a row still
    naming where it was before (a data directory copied or moved, another bucket) is brought
    up to date too, or `list --json` kept naming the old place and `doctor` said all agreed."""
    if row is None:
        return False
    return _facts(row) == _facts(fresh)


def _facts(row: ConversationRow) -> tuple[object, ...]:
    return (row.updated_at, row.message_count, row.s3_file_location)


def _reported_in(
    report: DoctorReport, row: ConversationRow | None, fresh: ConversationRow
) -> list[str]:
    if row is None:
        return report.adopted
    if (row.updated_at, row.message_count) != (fresh.updated_at, fresh.message_count):
        return report.refreshed  # else only its location was out of date
    return report.relocated
