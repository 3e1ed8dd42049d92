"""Search that also finds the turns only the local journal holds.

A conversation saved while the store was down (or a turn not pushed yet) is in the journal,
not in the index; `list` shows it, so search finds it too. Its messages the index lacks are
matched by the index's own engine, so the two agree word for word: an in-memory FTS5 table
with the index's tokenizer for SQLite, PostgreSQL's full-text functions for a team's database.
They come first (the newest turns), before the index's best matches.

While the store does not answer, the copies on this machine (the documents kept when they were
last read or written here, within the local copy's limits, and the journal) are searched
instead, by SQLite's engine, and the outage is reported with what they matched, as `list`
does.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claudechat.errors import StorageError
from claudechat.storage.search import (
    POSTGRES_DOCUMENT,
    WEBSEARCH,
    SearchHit,
    message_body,
    on_postgres,
    postgres_form,
)
from claudechat.storage.search_text import (
    SQLITE_TOKENIZER,
    excerpts,
    excerpts_or,
    parse,
)

if TYPE_CHECKING:
    from claudechat.conversation import Conversation, Message
    from claudechat.storage.journal import JournalEntry
    from claudechat.storage.metadata import MetadataStore
    from claudechat.storage.search_text import Query
    from claudechat.storage.store import ConversationStore


@dataclass
class Found:
    hits: list[SearchHit]
    error: StorageError | None = None  # the store did not answer: hits from local copies


def search_everywhere(store: ConversationStore, user_id: str, text: str, limit: int) -> Found:
    from claudechat.storage.search import backfilled, search

    query = parse(text)  # a query that cannot be read is refused before any outage matters
    try:
        metadata = backfilled(store, user_id)
        entries = store.journal.entries(user_id)
        local = store.guarded(lambda: unindexed_hits(metadata, user_id, entries, text, limit))
        indexed = store.guarded(lambda: search(metadata, user_id, text, limit))
    except StorageError as exc:
        return Found(offline_hits(store, user_id, query, exc, limit), exc)
    # A message pushed (and indexed) between the two looks is in both.
    mine = {hit.message_id for hit in local}
    return Found((local + [hit for hit in indexed if hit.message_id not in mine])[:limit])


def matching_everywhere(
    store: ConversationStore, user_id: str, text: str
) -> tuple[set[str], StorageError | None]:
    """Ids of this user's conversations with a matching message, indexed or journaled; while
    the store does not answer, those of the copies on this machine, and the store's error."""
    from claudechat.storage.search import backfilled, matching_conversations

    query = parse(text)
    try:
        metadata = backfilled(store, user_id)
        entries = store.journal.entries(user_id)
        local = store.guarded(lambda: unindexed_hits(metadata, user_id, entries, text))
        indexed = store.guarded(lambda: matching_conversations(metadata, user_id, text))
    except StorageError as exc:
        offline = offline_hits(store, user_id, query, exc, excerpted=False)
        return {hit.conversation_id for hit in offline}, exc
    return indexed | {hit.conversation_id for hit in local}, None


def offline_hits(
    store: ConversationStore,
    user_id: str,
    query: Query,
    error: StorageError,
    limit: int | None = None,
    excerpted: bool = True,
) -> list[SearchHit]:
    """The best `limit` (all: None) messages of the copies on this machine that match, best
    first; without excerpts (their snippet empty) unless `excerpted`. Where this Python's
    SQLite lacks FTS5 (a team's machine may), the store's `error` is all there is."""
    from claudechat.storage.documents import merged_by_id

    journaled = (entry.conversation for entry in store.journal.entries(user_id))
    copies = list(merged_by_id([*store.cached(user_id), *journaled]).values())
    candidates = [(c, m) for c in copies for m in c.messages]
    if not candidates:
        return []
    try:
        found = _sqlite_match(query, _bodies(candidates), limit, excerpted)
    except sqlite3.Error:
        raise error from None
    return _hits(candidates, found, copies)


def unindexed_hits(
    metadata: MetadataStore,
    user_id: str,
    entries: list[JournalEntry],
    text: str,
    limit: int | None = None,
) -> list[SearchHit]:
    """The journaled messages the index lacks that match `text`, best first (`limit` of
    them, when given)."""
    from claudechat.storage.documents import merged_by_id

    query = parse(text)
    journaled = list(merged_by_id(entry.conversation for entry in entries).values())
    candidates = _unindexed(metadata, user_id, journaled)
    if not candidates:
        return []
    bodies = _bodies(candidates)
    if on_postgres(metadata):
        found = _postgres_match(metadata, query, bodies, limit)
    else:
        found = _sqlite_match(query, bodies, limit)
    return _hits(candidates, found, journaled)


Candidates = list[tuple["Conversation", "Message"]]


def _bodies(candidates: Candidates) -> list[str]:
    return [message_body(message) for _conversation, message in candidates]


def _hits(
    candidates: Candidates, found: list[Any], conversations: list[Conversation]
) -> list[SearchHit]:
    """The hits of `found` ((position in candidates, snippet), best first)."""
    from claudechat.storage.documents import row_for

    previews = {c.id: row_for(c, "").preview for c in conversations}  # once per conversation
    hits = []
    for number, snippet in found:
        conversation, message = candidates[number]
        hits.append(_hit(conversation, message, snippet, previews[conversation.id]))
    return hits


def _unindexed(
    metadata: MetadataStore, user_id: str, conversations: list[Conversation]
) -> Candidates:
    from sqlalchemy import select

    from claudechat.storage.metadata import database_errors
    from claudechat.storage.schema import search_messages

    if not conversations:
        return []
    indexed = (
        select(search_messages.c.message_id)
        .where(search_messages.c.user_id == user_id)
        .where(search_messages.c.conversation_id.in_([c.id for c in conversations]))
    )
    with database_errors(metadata.url), metadata.engine.connect() as connection:
        known = set(connection.execute(indexed).scalars())
    return [(c, m) for c in conversations for m in c.messages if m.id not in known]


def _sqlite_match(
    query: Query, bodies: list[str], limit: int | None = None, excerpted: bool = True
) -> list[Any]:
    """(position, snippet) of the best `limit` (all: None) matching bodies, best first, by
    SQLite's FTS5. Excerpts as the index's search makes them (see search_text.excerpts), and only
    for those kept: each costs up to tens of milliseconds."""
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        connection.execute(
            f"CREATE VIRTUAL TABLE bodies USING fts5(body, tokenize='{SQLITE_TOKENIZER}')"
        )
        connection.executemany(
            "INSERT INTO bodies (rowid, body) VALUES (?, ?)", list(enumerate(bodies))
        )
        ranked = connection.execute(
            "SELECT rowid FROM bodies WHERE bodies MATCH ? ORDER BY bm25(bodies)", (query.fts5,)
        ).fetchall()[:limit]
    if not excerpted:
        return [(position, "") for (position,) in ranked]
    shown = excerpts(query, {position: bodies[position] for (position,) in ranked})
    return [(position, shown[position]) for (position,) in ranked]


def _postgres_match(
    metadata: MetadataStore, query: Query, bodies: list[str], limit: int | None
) -> list[Any]:
    """(position, snippet) of the best `limit` matching bodies (all: None), best first, by
    PostgreSQL; headlines, the costly part, only for those."""
    from sqlalchemy import text as sql

    from claudechat.storage.metadata import database_errors

    statement, parameters = postgres_form(_POSTGRES_BODIES, query)
    parameters.update(bodies=bodies, limit=limit)  # LIMIT NULL: no limit
    with database_errors(metadata.url), metadata.engine.connect() as connection:
        found = connection.execute(sql(statement), parameters).all()
    positions = [position - 1 for position, _headline in found]  # ORDINALITY counts from 1
    headlines = [headline for _position, headline in found]
    made = excerpts_or(query, [bodies[p] for p in positions], headlines)  # cut there
    return list(zip(positions, made, strict=True))


_POSTGRES_BODIES = f"""
WITH q AS (SELECT {WEBSEARCH} AS query),
b AS (SELECT body, position, {POSTGRES_DOCUMENT} AS document
      FROM unnest(CAST(:bodies AS text[])) WITH ORDINALITY AS b(body, position)),
best AS (SELECT b.body, b.position, ts_rank_cd(b.document, q.query) AS rank
         FROM b, q
         WHERE b.document @@ q.query
         ORDER BY rank DESC, b.position DESC
         LIMIT CAST(:limit AS integer))
SELECT best.position, ts_headline('simple', best.body, q.query, :headline)
FROM best, q
ORDER BY best.rank DESC, best.position DESC
"""


def _hit(
    conversation: Conversation, message: Message, snippet: str, preview: str | None
) -> SearchHit:
    return SearchHit(
        conversation_id=conversation.id,
        name=conversation.name,
        preview=preview,
        message_id=message.id,
        role=message.role,
        created_at=message.created_at,
        snippet=snippet or "",
    )
