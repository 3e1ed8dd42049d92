"""Search that also finds what only the local journal holds.

A conversation saved while the store was down (or a turn not pushed yet) is in the journal, not
in the index; `list` shows it, so search finds it too. Its messages are matched here, in
Python, the way the index matches (SQLite's unicode61 tokenizer, PostgreSQL's 'simple'
configuration): words of letters and digits, case ignored, no stemming; accents ignored on
SQLite only, as PostgreSQL's 'simple' keeps them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from claudechat.storage.search import (
    MARK_END,
    MARK_START,
    SNIPPET_WORDS,
    Query,
    SearchHit,
    message_body,
    parse,
)

if TYPE_CHECKING:
    from claudechat.conversation import Conversation, Message
    from claudechat.storage.journal import JournalEntry
    from claudechat.storage.metadata import MetadataStore
    from claudechat.storage.store import ConversationStore

_WORD = re.compile(r"[^\W_]+")


def search_everywhere(
    store: ConversationStore, user_id: str, text: str, limit: int
) -> list[SearchHit]:
    """The index's best matches, after the journal's (newer than anything indexed)."""
    from claudechat.storage.search import backfilled, search

    query = parse(text)  # a query refused is refused before anything is read
    metadata = backfilled(store, user_id)
    indexed = store.guard.call(lambda: search(metadata, user_id, text, limit))
    local = journal_hits(store.journal.entries(user_id), query, _keeps_accents(metadata))
    known = {hit.message_id for hit in indexed}
    return ([hit for hit in local if hit.message_id not in known] + indexed)[:limit]


def matching_everywhere(store: ConversationStore, user_id: str, text: str) -> set[str]:
    """Ids of this user's conversations with a matching message, indexed or journaled."""
    from claudechat.storage.search import backfilled, matching_conversations

    query = parse(text)
    metadata = backfilled(store, user_id)
    indexed = matching_conversations(metadata, user_id, text)
    hits = journal_hits(store.journal.entries(user_id), query, _keeps_accents(metadata))
    return indexed | {hit.conversation_id for hit in hits}


def _keeps_accents(metadata: MetadataStore) -> bool:
    return bool(metadata.engine.dialect.name == "postgresql")


def journal_hits(
    entries: list[JournalEntry], query: Query, keep_accents: bool = False
) -> list[SearchHit]:
    """Every matching message of the journaled conversations, newest first."""
    from claudechat.merging import merge

    conversations: dict[str, Conversation] = {}
    for entry in entries:  # several writers' entries of one conversation: their union
        known = conversations.get(entry.conversation.id)
        conversations[entry.conversation.id] = (
            entry.conversation if known is None else merge(known, entry.conversation)
        )
    hits = [
        hit
        for conversation in conversations.values()
        for message in conversation.messages
        if (hit := _hit(conversation, message, _Matcher(query, keep_accents))) is not None
    ]
    return sorted(hits, key=lambda hit: hit.created_at, reverse=True)


def _hit(conversation: Conversation, message: Message, matcher: _Matcher) -> SearchHit | None:
    body = message_body(message)
    found = list(_WORD.finditer(body))
    spans = matcher.matched([matcher.fold(word.group()) for word in found])
    if spans is None:
        return None
    return SearchHit(
        conversation_id=conversation.id,
        name=conversation.name,
        preview=_preview(conversation),
        message_id=message.id,
        role=message.role,
        created_at=message.created_at,
        snippet=_snippet(body, [word.span() for word in found], spans),
    )


class _Matcher:
    def __init__(self, query: Query, keep_accents: bool) -> None:
        self.keep_accents = keep_accents
        self.prefix_last = query.prefix_last
        # Per group: the wanted terms and the excluded ones, each a phrase of folded words.
        self.groups = [
            (
                [self._phrase(term) for term in group if not term.startswith("-")],
                [self._phrase(term[1:]) for term in group if term.startswith("-")],
            )
            for group in query.groups
        ]

    def fold(self, word: str) -> str:
        folded = word.casefold()
        if self.keep_accents:
            return folded
        decomposed = unicodedata.normalize("NFKD", folded)
        return "".join(c for c in decomposed if not unicodedata.combining(c))

    def _phrase(self, term: str) -> list[str]:
        return [self.fold(word) for word in _WORD.findall(term)]

    def matched(self, words: list[str]) -> set[int] | None:
        """Positions of the words that made the match; None when the words do not match."""
        last_group = len(self.groups) - 1
        for number, (wanted, excluded) in enumerate(self.groups):
            phrases = [phrase for phrase in wanted if phrase]
            if not phrases:
                continue  # only excluded words: the index drops the group too
            prefix_at = len(phrases) - 1 if self.prefix_last and number == last_group else -1
            found: set[int] = set()
            for position, phrase in enumerate(phrases):
                at = _find(words, phrase, prefix=position == prefix_at)
                if not at:
                    break
                found |= at
            else:
                if not any(_find(words, phrase, False) for phrase in excluded if phrase):
                    return found
        return None


def _find(words: list[str], phrase: list[str], prefix: bool) -> set[int]:
    """Positions of every occurrence of `phrase` (its last word a prefix, if so)."""
    found: set[int] = set()
    size = len(phrase)
    for start in range(len(words) - size + 1):
        window = words[start : start + size]
        if window[:-1] == phrase[:-1] and (
            window[-1].startswith(phrase[-1]) if prefix else window[-1] == phrase[-1]
        ):
            found.update(range(start, start + size))
    return found


def _snippet(body: str, spans: list[tuple[int, int]], matched: set[int]) -> str:
    """About SNIPPET_WORDS words around the first match, matches marked, as the index's."""
    first = min(matched)
    start = max(0, min(first - SNIPPET_WORDS // 4, len(spans) - SNIPPET_WORDS))
    end = min(len(spans), start + SNIPPET_WORDS)
    parts = ["…"] if start > 0 else []
    cursor = spans[start][0]
    for position in range(start, end):
        begin, finish = spans[position]
        parts.append(body[cursor:begin])
        word = body[begin:finish]
        parts.append(f"{MARK_START}{word}{MARK_END}" if position in matched else word)
        cursor = finish
    if end < len(spans):
        parts.append(" …")
    return "".join(parts)


def _preview(conversation: Conversation) -> str | None:
    from claudechat.storage.documents import row_for

    return row_for(conversation, "").preview
