"""The ids of deleted conversations, which a save's row transaction refuses to write back.

The tombstone that `delete` puts in place of a document stops every save that reads or
writes the document after it. It cannot stop a save whose document went in just before it:
that save's row and search entries came after the delete's transaction and brought the
conversation back (listed, searched, and shown as deleted). So the delete records the id in
the transaction that drops the row and search entries, and a save's row transaction looks it
up when it finds no row to update (one lookup by primary key; a delete drops the row in that
transaction, so a save that finds one has not lost to a delete).

The two transactions must not overlap. On SQLite they cannot: one writer at a time, across
processes (writer_lock.py). On PostgreSQL each takes a transaction-scoped advisory lock on the
conversation first, so the later one sees everything the earlier one committed.
"""

from __future__ import annotations

import functools
import zlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql import ColumnElement, Delete, Select

# The first key of the two-key advisory locks ("cdel"); the migration lock (migrate.py) uses
# the one-key form, which PostgreSQL keeps apart from this one.
_LOCK_SPACE = int.from_bytes(b"cdel", "big")


def hold(connection: Connection, conversation_id: str) -> None:
    """Within a transaction: until it ends, no other delete or save of this conversation runs
    its row transaction (PostgreSQL; SQLite runs one writer at a time anyway). Before any
    other statement: a statement before it would read what was committed before the wait."""
    if connection.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    # crc32 as a signed 32-bit key: two ids that share it only wait for each other.
    key = zlib.crc32(conversation_id.encode()) - 2**31
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _LOCK_SPACE, "key": key}
    )


def was_deleted(connection: Connection, user_id: str, conversation_id: str) -> bool:
    """Within a save's row transaction, which held the conversation first (hold), before it
    writes anything."""
    parameters = {"conversation_id": conversation_id, "user_id": user_id}
    return connection.execute(_lookup(), parameters).first() is not None


def mark_deleted(connection: Connection, user_id: str, conversation_id: str) -> None:
    """Within the delete's transaction, which held the conversation first (hold)."""
    from claudechat.storage.schema import deleted_conversations

    unmark(connection, user_id, conversation_id)  # deleted before, imported since
    connection.execute(
        deleted_conversations.insert(),
        {"conversation_id": conversation_id, "user_id": user_id, "deleted_at": datetime.now(UTC)},
    )


def unmark(connection: Connection, user_id: str, conversation_id: str) -> None:
    """The conversation may be saved again (`import` of its export)."""
    connection.execute(_removal(), {"conversation_id": conversation_id, "user_id": user_id})


@functools.cache
def _lookup() -> Select:
    from sqlalchemy import select

    from claudechat.storage.schema import deleted_conversations

    return select(deleted_conversations.c.conversation_id).where(_this_id())


@functools.cache
def _removal() -> Delete:
    from claudechat.storage.schema import deleted_conversations

    return deleted_conversations.delete().where(_this_id())


def _this_id() -> ColumnElement[bool]:
    from sqlalchemy import bindparam

    from claudechat.storage.schema import deleted_conversations

    table = deleted_conversations.c
    conversation_id = bindparam("conversation_id", type_=table.conversation_id.type)
    user_id = bindparam("user_id", type_=table.user_id.type)
    return (table.conversation_id == conversation_id) & (table.user_id == user_id)
