"""Conversation ids as `list` and `search` show them: cut short, as git abbreviates hashes, to
8 characters or as many more as tell the id apart from every other of the user's. Cut to 8
always, two ids alike in their first 8 showed the same short id, which `show` then refused as
ambiguous."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from claudechat.errors import StorageError

if TYPE_CHECKING:
    from claudechat.storage.journal_search import Found
    from claudechat.storage.store import ConversationStore

SHORTEST = 8


def unique_prefixes(
    shown: Iterable[str], among: Iterable[str], shortest: int = SHORTEST
) -> dict[str, str]:
    """Each id of `shown` cut to the fewest characters, `shortest` at least, that no other id
    of `among` or `shown` begins with. Only an id's two neighbours in sorted order can share
    more of its beginning than any other, so `among` need hold no more than those."""
    wanted = list(shown)
    ordered = sorted({*among, *wanted})
    prefixes = {}
    for conversation_id in wanted:
        at = bisect_left(ordered, conversation_id)
        neighbours = ordered[max(at - 1, 0) : at] + ordered[at + 1 : at + 2]
        shared = max((_shared_length(conversation_id, other) for other in neighbours), default=0)
        prefixes[conversation_id] = conversation_id[: max(shortest, shared + 1)]
    return prefixes


def _shared_length(first: str, second: str) -> int:
    length = 0
    for mine, theirs in zip(first, second, strict=False):
        if mine != theirs:
            break
        length += 1
    return length


def shown_prefixes(
    store: ConversationStore,
    user_id: str,
    shown: Collection[str],
    unpushed: Collection[str],
    store_down: bool = False,
) -> dict[str, str]:
    """The shortest unique prefix of each id of `shown`, unique among all the user's
    conversations that `show` resolves an id within: the stored ones (only the neighbours of
    each shown id are read) and the `unpushed` ones only this machine's journal holds. While
    the store is down, the copies kept on this machine stand in for its rows, as they do when
    an id is resolved then."""
    known = set(unpushed)
    if not store_down:
        try:
            known |= store.guarded(lambda: store.metadata.neighbour_ids(user_id, shown))
            return unique_prefixes(shown, known)
        except StorageError:
            pass  # gone since the listing: as while it was down
    known |= {copy.id for copy in store.cached(user_id)}
    return unique_prefixes(shown, known)


def ids_as_listed(store: ConversationStore, user_id: str, *conversation_ids: str) -> list[str]:
    """These ids as `list` shows them, for a line that names them (renamed, forked, resumed)."""
    unpushed = _unpushed(store, user_id)
    prefixes = shown_prefixes(store, user_id, conversation_ids, unpushed, store.guard.is_open)
    return [short_id(prefixes, conversation_id) for conversation_id in conversation_ids]


def hit_prefixes(store: ConversationStore, user_id: str, found: Found) -> dict[str, str]:
    """Each search hit's id as `list` shows it."""
    shown = {hit.conversation_id for hit in found.hits}
    return shown_prefixes(store, user_id, shown, _unpushed(store, user_id), found.error is not None)


def _unpushed(store: ConversationStore, user_id: str) -> set[str]:
    """The user's conversations in this machine's journal: some may not be in the store yet."""
    return {entry.conversation.id for entry in store.journal.entries(user_id)}


def short_id(prefixes: dict[str, str], conversation_id: str) -> str:
    """The id as `prefixes` cut it; one they do not name, to the shortest length."""
    return prefixes.get(conversation_id, conversation_id[:SHORTEST])
