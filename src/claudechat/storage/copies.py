"""The local copies of conversations deleted elsewhere go, once the store says they are gone.

`delete` removes the copy on the machine it runs on only. Another machine kept its copy, and
in the next outage that copy stood in for the store: the deleted conversation was listed,
shown and searched again, and `--resume` sent it to Claude, in that outage and every later
one. So `list` removes the copies whose rows are gone (ConversationStore.forget_deleted_copies,
after the list is printed), and a read that meets a deleted document's tombstone removes its
copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claudechat.storage.store import ConversationStore


def forget_deleted_copies(store: ConversationStore, user_id: str, journaled: set[str]) -> None:
    """Remove this user's copies that have no row (one query, for at most the cache's 200
    documents). A conversation the journal holds has no row yet, and keeps its copy; one
    being saved meanwhile loses its copy at worst, which its next read writes again."""
    from sqlalchemy import select

    from claudechat.storage.metadata import database_errors
    from claudechat.storage.schema import conversations

    cache = store.cache
    if cache is None:
        return
    copies = cache.conversation_ids(user_id) - journaled
    if not copies:
        return
    table = conversations.c
    statement = (
        select(table.conversation_id)
        .where(table.user_id == user_id)
        .where(table.conversation_id.in_(sorted(copies)))
    )
    metadata = store.metadata
    with database_errors(metadata.url), metadata.engine.connect() as connection:
        kept = set(connection.execute(statement).scalars())
    for conversation_id in copies - kept:
        cache.forget(user_id, conversation_id)
