"""Full-text search over every message: SQLite FTS5 embedded, PostgreSQL full-text for teams.

Each save writes the rows of the messages it adds (`index_new_messages`), in the transaction
that writes its metadata row, so the journal covers the index as it covers the row: an entry
pushed late is indexed when it is pushed. Every query is scoped by user.

Queries read as in a search box: words (all must match), "quoted phrases", OR, -excluded, and
the last word, still being typed (it ends in a letter or digit), matches as a prefix.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from claudechat.errors import UsageError
from claudechat.jsontext import storable_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection

    from claudechat.conversation import Conversation, Message
    from claudechat.storage.metadata import MetadataStore
    from claudechat.storage.store import ConversationStore

# Where a match starts and ends in a snippet: private-use characters no message holds in
# practice, turned into highlighting (a terminal) or **marks** (a pipe) when printed.
MARK_START, MARK_END = "\ue000", "\ue001"
# PostgreSQL refuses a tsvector over 1 MB; the start of a giant paste is what people search.
MAX_BODY_CHARS = 100_000
SNIPPET_WORDS = 16
MAX_QUERY_TERMS = 32
# SQLite's FTS5 tokenizer of the index (migration 0004), for matching text outside it too.
SQLITE_TOKENIZER = "unicode61 remove_diacritics 2"

_TOKEN = re.compile(r'-?"[^"]*"?|\S+')

# Chinese and Japanese are written without spaces between words, and both tokenizers (FTS5's
# unicode61, PostgreSQL's parser) took a run of such characters for one word: "東京" was not
# found in "東京に行きます". So each character of those scripts (and of Korean, whose words
# carry their particles) is indexed as a word of its own, and so is each letter- or number-
# like sign (², µ, ½, ①: "km" is found in "km²"), set apart by U+001F: a control
# character both tokenizers take for a separator, and dropped from every excerpt shown. A
# query's run of them is searched as a phrase.
WORD_APART = "\x1f"
_UNSPACED_SCRIPTS = (
    "\u00aa\u00b2\u00b3\u00b5\u00b9\u00ba\u00bc-\u00be"  # ª ² ³ µ ¹ º ¼ ½ ¾: km², x², 1½
    "\u2070-\u209f\u2100-\u218f"  # super- and subscripts, letterlike (℃ №), number forms
    "\u2460-\u24ff\u2776-\u2793"  # circled and enclosed numbers and letters
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c"  # 々 〆 〇 and such: letters
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # halfwidth Katakana
    "\U00020000-\U0003134f"  # CJK extensions B to G
    "\U0001f100-\U0001f10c"  # digits with a full stop or comma
)
# PostgreSQL's parser, in a database of the C locale, takes every character beyond ASCII for
# a letter: “quoted”, "world…", "¿qué", "a\u00a0b" and "東京。iPhone" were each one word
# there. So non-ASCII spaces, punctuation and symbols are set apart too: these ranges hold
# no letter and no digit (a test checks), or a word of them (２０２４, µ, ①) would be left
# out of PostgreSQL's query, which then matched every message.
_NON_ASCII_MARKS = (
    "\u00a0-\u00a9\u00ab-\u00b1\u00b4\u00b6-\u00b8\u00bb\u00bf\u00d7\u00f7"  # Latin-1
    "\u2000-\u206f"  # spaces, general punctuation
    "\u20a0-\u20cf"  # currency
    "\u2190-\u245f"  # arrows, maths, technical, control pictures
    "\u2500-\u2775\u2794-\u2bff"  # box drawing, shapes, symbols, dingbats, arrows
    "\u3000-\u3004\u3008-\u3020\u3030\u3036\u3037\u303d-\u303f"  # CJK punctuation
    "\ufe30-\ufe4f"  # CJK compatibility forms
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"  # fullwidth punctuation
    "\U0001f000-\U0001f0ff\U0001f10d-\U0001faff"  # emoji, pictographs
)
# Migration 0007 holds a copy of both: what it rewrote must not change with them.
_SET_APART = re.compile(f"([{_UNSPACED_SCRIPTS}{_NON_ASCII_MARKS}])")
# Set apart, such a mark was still a word of its own to that parser, in the way of a phrase
# ("hello then" in “hello” — then): PostgreSQL's document, and its queries, leave them out.
_MARKS = re.compile(f"[{_NON_ASCII_MARKS}]")
# Document and queries lowered by one function (migration 0007): Unicode letters through ICU
# where the server has it, as the database lowers them otherwise, and alike on both sides.
POSTGRES_DOCUMENT = (
    f"to_tsvector('simple', regexp_replace(claudechat_lower(body), '{_MARKS.pattern}', ' ', 'g'))"
)
_ADJACENT_MARKS = MARK_END + MARK_START


@dataclass
class SearchHit:
    conversation_id: str
    name: str | None
    preview: str | None
    message_id: str
    role: str
    created_at: datetime
    snippet: str


@dataclass(frozen=True)
class Query:
    """A search-box query in the two dialects' syntax."""

    fts5: str
    websearch: str
    prefix_last: bool  # the last word is still being typed: match it as a prefix


def parse(text: str) -> Query:
    text = storable_text(text)  # as the index holds it
    found = _TOKEN.findall(text)
    # A word of symbols or emoji alone is no word to the tokenizer: as a term of its own it
    # matched nothing, and so did the whole search.
    tokens = [token for token in found if any(ch.isalnum() for ch in token)]
    if found and not tokens:
        raise UsageError(
            "nothing to search for: search matches words (letters and digits), not symbols or emoji"
        )
    if len(tokens) > MAX_QUERY_TERMS:
        # Each term costs the index's snippets dearly: a pasted passage took minutes. A quoted
        # phrase is one term, and a cheap one.
        raise UsageError(
            f'a search takes at most {MAX_QUERY_TERMS} words or "quoted phrases" (this one '
            f"has {len(tokens)}); quote a distinctive phrase of the passage instead"
        )
    groups = _or_groups(tokens)
    prefix = _typing_last_word(text, found)
    kept = [
        (group, rendered)
        for number, group in enumerate(groups)
        if (rendered := _fts5_group(group, prefix and number == len(groups) - 1))
    ]
    if not kept:
        excluding = any(token.startswith("-") for token in tokens)
        why = " (a -word only excludes)" if excluding else ""
        raise UsageError("give at least one word to search for" + why)
    fts5 = " OR ".join(f"({rendered})" for _group, rendered in kept)
    # The same groups for PostgreSQL: an OR left beside a dropped symbol, or an AND, would
    # be searched for as a word there.
    websearch = " OR ".join(
        " ".join(_websearch_token(token) for token in group) for group, _rendered in kept
    )
    if not any(ch.isalnum() for ch in websearch):
        # PostgreSQL's query would be empty, and its `query && owner` every message of yours.
        raise UsageError("nothing to search for: search matches words (letters and digits)")
    return Query(fts5=fts5, websearch=websearch, prefix_last=prefix)


def _or_groups(tokens: list[str]) -> list[list[str]]:
    """The words between each OR. Only the capitals are operators, as in a search box: `and`
    and `or` are words (`search or` was refused as empty, `rust or` searched for rust)."""
    groups: list[list[str]] = [[]]
    for token in tokens:
        if token == "OR":
            groups.append([])
        elif token != "AND":  # words all match anyway
            groups[-1].append(token)
    return groups


def _typing_last_word(text: str, found: list[str]) -> bool:
    """Whether the last word is still being typed, and so matches as a prefix. A word followed
    by a space or by symbols is finished: `C++` as the prefix `c` found chart, class, cache."""
    last = found[-1] if found else ""
    return (
        not text[-1:].isspace()
        and last[-1:].isalnum()
        and not last.startswith(("-", '"'))
        and last not in ("OR", "AND")
    )


def words_apart(text: str) -> str:
    """Text as the index holds it: each character of a script written without spaces, and
    each non-ASCII mark, set apart from its neighbours."""
    return _SET_APART.sub(WORD_APART + r"\1" + WORD_APART, text)


def shown(snippet: str) -> str:
    """An excerpt as a person reads it: without the separators words_apart put in, and one
    mark around characters matched one by one ("東京", not "東" and "京")."""
    return snippet.replace(WORD_APART, "").replace(_ADJACENT_MARKS, "")


def _websearch_token(token: str) -> str:
    """A token for PostgreSQL's websearch_to_tsquery: its characters set apart as in the
    index, and quoted when that made several words of it, so they are found as a phrase, or
    when it is `or` in small letters, which websearch_to_tsquery takes for OR. (Lowered in
    SQL, by the index's own function: WEBSEARCH.)"""
    negated = token.startswith("-")
    core = token[1:] if negated else token
    apart = _MARKS.sub(" ", words_apart(core))
    if (apart != core or core.upper() == "OR") and not core.startswith('"'):
        apart = '"' + apart.replace('"', " ") + '"'
    return ("-" if negated else "") + apart


def _fts5_group(tokens: list[str], prefix_last: bool) -> str:
    wanted = [_fts5_string(t) for t in tokens if not t.startswith("-")]
    excluded = [_fts5_string(t[1:]) for t in tokens if t.startswith("-") and len(t) > 1]
    if prefix_last and wanted:
        wanted[-1] += "*"
    wanted = [w for w in wanted if w.rstrip("*") != '""']
    if not wanted:
        return ""
    return " AND ".join(wanted) + "".join(f" NOT {e}" for e in excluded if e != '""')


def _fts5_string(token: str) -> str:
    """A word or phrase as an FTS5 string: quoted, so no character of it is FTS5 syntax."""
    inner = words_apart(token.strip('"'))
    return '"' + inner.replace('"', '""') + '"'


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
    from functools import partial

    from sqlalchemy import delete, select

    from claudechat.errors import ClaudechatError
    from claudechat.storage.metadata import _to_row, database_errors
    from claudechat.storage.schema import conversations, search_backfill

    metadata = store.metadata
    statement = select(conversations)
    if user_id is not None:
        statement = statement.where(conversations.c.user_id == user_id)
    with database_errors(metadata.url), metadata.engine.connect() as connection:
        rows = [_to_row(m) for m in connection.execute(statement).mappings()]
    done, problems = 0, []
    for number, row in enumerate(rows):
        if on_step is not None:
            on_step(number, len(rows))
        try:
            conversation = store.load_row(row)
        except ClaudechatError as exc:
            problems.append(f"{row.conversation_id}: {exc}")
            continue
        again = partial(_reindex_one, user_id=row.user_id, conversation=conversation)
        metadata.write_retrying(again, "the search index")
        done += 1
    done_with = delete(search_backfill)
    if user_id is not None:
        done_with = done_with.where(search_backfill.c.user_id == user_id)
    with metadata.writing() as connection:
        connection.execute(done_with)
    return done, problems


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
    not."""
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
    return reindex(store, user_id)[0]


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


# FTS5's snippet() costs about the square of a text's matches: 5 s for a 100 KB log that says
# "error" on every line, 20 of which held a search past its deadline (a false outage). So the
# excerpt comes from the start of a message only, the part a search result shows anyway.
EXCERPTED_CHARS = 4_000
OPENING_CHARS = 160  # the opening words shown instead: a minified line is one long "word"


def excerpts(query: Query, bodies: dict[int, str]) -> dict[int, str]:
    """A marked excerpt of each body (by its key), made from its first EXCERPTED_CHARS; where
    the match lies beyond them, the body's opening words."""
    found = _marked(query, bodies)
    return {key: shown(found.get(key) or _opening(body)) for key, body in bodies.items()}


def _marked(query: Query, bodies: dict[int, str]) -> dict[int, str]:
    """FTS5's marked excerpts of the bodies whose first EXCERPTED_CHARS match, by key."""
    import sqlite3

    table = f"CREATE VIRTUAL TABLE shown USING fts5(body, tokenize='{SQLITE_TOKENIZER}')"
    select = "SELECT rowid, snippet(shown, 0, ?, ?, '…', ?) FROM shown WHERE shown MATCH ?"
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        connection.execute(table)
        cut = [(key, body[:EXCERPTED_CHARS]) for key, body in bodies.items()]
        connection.executemany("INSERT INTO shown (rowid, body) VALUES (?, ?)", cut)
        marks = (MARK_START, MARK_END, SNIPPET_WORDS, query.fts5)
        return dict(connection.execute(select, marks).fetchall())


def excerpts_or(query: Query, bodies: list[str], headlines: list[str | None]) -> list[str]:
    """The excerpts of `bodies`, made as the embedded index makes them, on both backends:
    PostgreSQL's ts_headline marked every occurrence of each word of the query, and with each
    CJK character a word of its own, every stray テ or 서 of the message. Its `headlines` (or
    None) stand in where the match lies beyond the excerpted start (they cover the whole
    message), or where this Python's SQLite lacks FTS5."""
    import sqlite3

    try:
        made = _marked(query, dict(enumerate(bodies)))
    except sqlite3.Error:
        made = {}
    return [
        shown(made.get(number) or headline or _opening(body))
        for number, (body, headline) in enumerate(zip(bodies, headlines, strict=True))
    ]


def _opening(body: str) -> str:
    words = body[: OPENING_CHARS * 4].split()
    opening = " ".join(words[:SNIPPET_WORDS])
    if len(opening) > OPENING_CHARS:
        return opening[:OPENING_CHARS] + "…"
    return opening + ("…" if len(words) > SNIPPET_WORDS else "")


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
       m.id AS row, substr(m.body, 1, :excerpted) AS body
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
