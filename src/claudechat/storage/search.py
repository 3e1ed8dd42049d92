"""Full-text search over every message: SQLite FTS5 embedded, PostgreSQL full-text for teams.

Each save writes the rows of the messages it adds (`index_new_messages`), in the transaction
that writes its metadata row, so the journal covers the index as it covers the row: an entry
pushed late is indexed when it is pushed. Every query is scoped by user.

Queries read as in a search box: words (all must match), "quoted phrases", OR, -excluded, and
the last word, still being typed (it ends in a letter or digit), matches as a prefix (how a
query is read, and a match shown: search_text.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from claudechat.errors import StorageError
from claudechat.jsontext import storable_text
from claudechat.storage.search_text import (
    EXCERPTED_CHARS,
    MARK_END,
    MARK_START,
    SNIPPET_WORDS,
    Query,
    excerpts_or,
    marks_pattern,
    parse,
    shown,
    words_apart,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection

    from claudechat.conversation import Conversation, Message
    from claudechat.storage.metadata import MetadataStore
    from claudechat.storage.store import ConversationStore

# PostgreSQL refuses a tsvector over 1 MB; the start of a giant paste is what people search.
MAX_BODY_CHARS = 100_000
# Document and queries lowered by one function (migration 0007): Unicode letters through ICU
# where the server has it, as the database lowers them otherwise, and alike on both sides.
POSTGRES_DOCUMENT = (
    f"to_tsvector('simple', regexp_replace(claudechat_lower(body), '{marks_pattern()}', ' ', 'g'))"
)


@dataclass
class SearchHit:
    conversation_id: str
    name: str | None
    preview: str | None
    message_id: str
    role: str
    created_at: datetime
    snippet: str


# -- writing -------------------------------------------------------------------------------


def message_body(message: Message) -> str:
    """Everything searchable in a message: its text, its thinking, its attachments' names."""
    parts = []
    for block in message.content:
        kind = block.get("type")
        if kind == "text":
            parts.append(block["text"])
        elif kind == "thinking":
            parts.append(block["thinking"])
        elif kind == "attachment":
            parts.append(block["name"])
    return words_apart(storable_text("\n".join(parts)[:MAX_BODY_CHARS]))


def index_new_messages(connection: Connection, conversation: Conversation) -> None:
    """Within a transaction: rows for the messages not indexed yet. A message's content never
    changes once it is saved (a new reply is a new message), so only new ids need writing.
    Two sessions saving the same conversation at once may both add a message: the loser's
    IntegrityError makes `write_retrying` run it again, and it then adds what is missing."""
    from claudechat.storage import prepared
    from claudechat.storage.schema import search_messages

    statement, key = prepared.indexed_message_ids(), {"key_conversation_id": conversation.id}
    indexed = set(connection.execute(statement, key).scalars())
    rows = [index_row(conversation, m) for m in conversation.messages if m.id not in indexed]
    if rows:
        connection.execute(search_messages.insert(), rows)


def index_row(conversation: Conversation, message: Message) -> dict[str, Any]:
    """A message's row in the search index."""
    return {
        "user_id": conversation.user_id,
        "conversation_id": conversation.id,
        "message_id": message.id,
        "role": message.role,
        "created_at": message.created_at,
        "body": message_body(message),
        "owner": owner_token(conversation.user_id),
    }


def remove_conversation(connection: Connection, user_id: str, conversation_id: str) -> int:
    from claudechat.storage.schema import search_messages

    table = search_messages.c
    statement = (
        search_messages.delete()
        .where(table.user_id == user_id)
        .where(table.conversation_id == conversation_id)
    )
    return int(connection.execute(statement).rowcount)


def reindex(
    store: ConversationStore,
    user_id: str | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> tuple[int, list[str]]:
    """Rebuild the index from the documents, of one user or of all: (conversations indexed,
    documents that could not be read). `on_step(done, total)` before each document."""
    done, problems, _failed = _reindex_rows(store, user_id, on_step)
    _backfill_done(store, user_id)  # asked for: what could not be read is said, not retried
    return done, problems


def _reindex_rows(
    store: ConversationStore,
    user_id: str | None,
    on_step: Callable[[int, int], None] | None = None,
) -> tuple[int, list[str], StorageError | None]:
    """(indexed, problems, the last failure of the store to give a document)."""
    from sqlalchemy import select

    from claudechat.errors import ClaudechatError
    from claudechat.storage.blobs import BlobNotFoundError
    from claudechat.storage.metadata import _to_row, database_errors
    from claudechat.storage.schema import conversations

    metadata = store.metadata
    statement = select(conversations)
    if user_id is not None:
        statement = statement.where(conversations.c.user_id == user_id)
    with database_errors(metadata.url), metadata.engine.connect() as connection:
        rows = [_to_row(m) for m in connection.execute(statement).mappings()]
    done, problems, outage = 0, [], None
    for number, row in enumerate(rows):
        if on_step is not None:
            on_step(number, len(rows))
        try:
            conversation = store.load_row(row)
        except ClaudechatError as exc:
            problems.append(f"{row.conversation_id}: {exc}")
            if isinstance(exc, StorageError) and not isinstance(exc, BlobNotFoundError):
                outage = exc  # an outage, or this document alone (see ensure_backfilled)
            continue
        reindex_conversation(store, conversation)  # load_row checked its owner is the row's
        done += 1
    return done, problems, outage


def _backfill_done(store: ConversationStore, user_id: str | None) -> None:
    from sqlalchemy import delete

    from claudechat.storage.schema import search_backfill

    done_with = delete(search_backfill)
    if user_id is not None:
        done_with = done_with.where(search_backfill.c.user_id == user_id)
    with store.metadata.writing() as connection:
        connection.execute(done_with)


def reindex_conversation(store: ConversationStore, conversation: Conversation) -> None:
    """One conversation's entries made again from its document (a reindex; `doctor`, having put
    back an older copy of it: the entries of the messages lost with the newer one were still
    found)."""
    from functools import partial

    again = partial(_reindex_one, user_id=conversation.user_id, conversation=conversation)
    store.metadata.write_retrying(again, "the search index")


def _reindex_one(connection: Connection, user_id: str, conversation: Conversation) -> None:
    """One conversation's entries dropped and written again, in one transaction: a search
    meanwhile sees the old entries or the new ones, never none."""
    remove_conversation(connection, user_id, conversation.id)
    index_new_messages(connection, conversation)


def ensure_backfilled(store: ConversationStore, user_id: str) -> int:
    """Index this user's conversations saved before search existed, once: their first search
    after the upgrade does it. Returns how many were indexed. The check is a store call under
    the deadline, so a database that stopped answering fails it (at once, once the breaker is
    open) instead of holding a search; the reindex it may start reads every document, and is
    not. When the store failed to give documents and does not answer now either, the search
    fails as in an outage and the next one does the backfill: it was marked done, and those
    conversations were never found. A document that alone cannot be read (a folder in its
    place) is left out, as `db reindex` leaves it out, or every search would read them all
    again and fail."""
    from sqlalchemy import select

    from claudechat.storage.metadata import database_errors
    from claudechat.storage.schema import search_backfill

    statement = select(search_backfill.c.user_id).where(search_backfill.c.user_id == user_id)

    def due() -> bool:
        metadata = store.metadata
        with database_errors(metadata.url), metadata.engine.connect() as connection:
            return connection.execute(statement).first() is not None

    if not store.guarded(due):
        return 0
    done, _problems, failed = _reindex_rows(store, user_id)
    if failed is not None:
        store.guarded(store.ping_blobs)  # raises while the store is out: the next search
    _backfill_done(store, user_id)
    return done


def backfilled(store: ConversationStore, user_id: str) -> MetadataStore:
    """The metadata store, once this user's older conversations are in the index."""
    ensure_backfilled(store, user_id)
    return store.metadata


# -- searching -----------------------------------------------------------------------------


def owner_token(user_id: str) -> str:
    """One index token per user, which no word typed in a search can be expected to equal
    (and which would find only that user's own messages if one did)."""
    return "u" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:40]


def search(metadata: MetadataStore, user_id: str, text: str, limit: int = 20) -> list[SearchHit]:
    from claudechat.storage.metadata import _as_utc

    query = parse(text)
    statement = _POSTGRES_SEARCH if on_postgres(metadata) else _SQLITE_SEARCH
    rows = _run(metadata, statement, user_id, query, limit=limit)
    snippets = excerpts_or(query, [r["body"] for r in rows], [r.get("snippet") for r in rows])
    found = [{**r, "snippet": snippet} for r, snippet in zip(rows, snippets, strict=True)]
    return [
        SearchHit(
            conversation_id=r["conversation_id"],
            name=r["conversation_name"],
            preview=r["preview"],
            message_id=r["message_id"],
            role=r["role"],
            created_at=_as_utc(_datetime(r["created_at"])),
            snippet=shown(r["snippet"] or ""),
        )
        for r in found
    ]


def matching_conversations(metadata: MetadataStore, user_id: str, text: str) -> set[str]:
    """Ids of this user's conversations with at least one message matching."""
    statement = _POSTGRES_MATCHING if on_postgres(metadata) else _SQLITE_MATCHING
    return {r["conversation_id"] for r in _run(metadata, statement, user_id, parse(text))}


def on_postgres(metadata: MetadataStore) -> bool:
    return bool(metadata.engine.dialect.name == "postgresql")


def _run(
    metadata: MetadataStore, statement: str, user_id: str, query: Query, **extra: Any
) -> list[Any]:
    from sqlalchemy import text as sql

    from claudechat.storage.metadata import database_errors

    owner = owner_token(user_id)
    parameters: dict[str, Any] = {"user": user_id, **extra}
    if on_postgres(metadata):
        statement, shaped = postgres_form(statement, query)
        parameters.update(owner=owner, **shaped)
    else:
        parameters.update(query=f'owner : "{owner}" AND body : ({query.fts5})')
    parameters.update(excerpted=EXCERPTED_CHARS)
    with database_errors(metadata.url), metadata.engine.connect() as connection:
        return list(connection.execute(sql(statement), parameters).mappings())


def postgres_form(statement: str, query: Query) -> tuple[str, dict[str, Any]]:
    """A statement written with WEBSEARCH, in the form `query` takes (its last word a prefix,
    when typed as one), and the parameters its query and headlines take."""
    if query.prefix_last:
        statement = statement.replace(WEBSEARCH, _PREFIXED_WEBSEARCH)
    return statement, {"query": query.websearch, "headline": _HEADLINE_OPTIONS}


def _datetime(value: Any) -> datetime:
    # SQLite's text() results are strings; PostgreSQL's are datetimes already.
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


# The user is named twice: by the owner token inside the MATCH, so that the index narrows the
# matches to this user's before any is ranked, and by the row's user_id, which is exact.
_SQLITE_SEARCH = """
SELECT m.conversation_id, m.message_id, m.role, m.created_at, c.conversation_name, c.preview,
       substr(m.body, 1, :excerpted) AS body
FROM search_fts
JOIN search_messages AS m ON m.id = search_fts.rowid
LEFT JOIN conversations AS c ON c.conversation_id = m.conversation_id AND c.user_id = m.user_id
WHERE search_fts MATCH :query AND m.user_id = :user
ORDER BY bm25(search_fts, 1.0, 0.0)
LIMIT :limit
"""
_SQLITE_MATCHING = """
SELECT DISTINCT m.conversation_id FROM search_fts
JOIN search_messages AS m ON m.id = search_fts.rowid
WHERE search_fts MATCH :query AND m.user_id = :user
"""

WEBSEARCH = "websearch_to_tsquery('simple', claudechat_lower(:query))"
# websearch_to_tsquery has no prefix syntax; its last lexeme gets one (`'word':*`).
_PREFIXED_WEBSEARCH = (
    "to_tsquery('simple', regexp_replace(websearch_to_tsquery('simple', "
    "claudechat_lower(:query))::text, "
    "'''((?:[^'']|'''')+)''$', '''\\1'':*'))"
)
_POSTGRES_QUERY = f"WITH q AS (SELECT {WEBSEARCH} AS query, to_tsquery('simple', :owner) AS owner)"

# Rank first, headline only the rows shown: ts_headline re-parses the text, the costly part.
_POSTGRES_SEARCH = (
    _POSTGRES_QUERY
    + """,
hits AS (
  SELECT m.*, ts_rank_cd(m.document, q.query) AS rank
  FROM search_messages AS m, q
  WHERE m.document @@ (q.query && q.owner) AND m.user_id = :user
  ORDER BY rank DESC, m.created_at DESC
  LIMIT :limit
)
SELECT hits.conversation_id, hits.message_id, hits.role, hits.created_at,
       c.conversation_name, c.preview, substr(hits.body, 1, :excerpted) AS body,
       ts_headline('simple', hits.body, q.query, :headline) AS snippet
FROM hits CROSS JOIN q
LEFT JOIN conversations AS c
  ON c.conversation_id = hits.conversation_id AND c.user_id = hits.user_id
ORDER BY hits.rank DESC, hits.created_at DESC
"""
)
_POSTGRES_MATCHING = (
    _POSTGRES_QUERY
    + """
SELECT DISTINCT m.conversation_id FROM search_messages AS m, q
WHERE m.document @@ (q.query && q.owner) AND m.user_id = :user
"""
)
# One excerpt: fragment mode drops the words around a match in a short message.
_HEADLINE_OPTIONS = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, MinWords=6"
)
