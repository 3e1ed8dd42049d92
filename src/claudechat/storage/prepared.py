"""The statements every save and load runs, built once per process and run with parameters.

Building a SQLAlchemy statement (its clauses, bind parameters and cache key) costs more than
running it on SQLite: about 0.3 ms per save, paid on every turn. Built once, a statement's
compiled form is also found in the engine's cache at once.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql import ColumnElement, Select, Update

# What a newer document never changes in its row (version counts the updates).
ROW_FIXED = ("conversation_id", "user_id", "created_at", "version")


@functools.cache
def newest_row_update() -> Update:
    """The row brought up to a document, unless the stored row is newer: parameters `key_*`
    (conversation_id, user_id) and `new_*` (each of row_changes())."""
    from sqlalchemy import and_, bindparam, or_

    from claudechat.storage.schema import conversations

    table = conversations.c
    new = {name: bindparam(f"new_{name}", type_=table[name].type) for name in row_changes()}
    is_older = or_(
        table.updated_at < new["updated_at"],
        and_(table.updated_at == new["updated_at"], table.message_count <= new["message_count"]),
    )
    return (
        conversations.update().where(_this_row(), is_older).values(**new, version=table.version + 1)
    )


@functools.cache
def row_version() -> Select:
    """Parameters `key_conversation_id`, `key_user_id`."""
    from sqlalchemy import select

    from claudechat.storage.schema import conversations

    return select(conversations.c.version).where(_this_row())


@functools.cache
def row() -> Select:
    """Parameters `key_conversation_id`, `key_user_id`."""
    from claudechat.storage.schema import conversations

    return conversations.select().where(_this_row())


@functools.cache
def indexed_message_ids() -> Select:
    """A conversation's messages in the search index: parameter `key_conversation_id`."""
    from claudechat.storage.schema import search_messages

    return _lookup(search_messages, "message_id", "conversation_id", "key_conversation_id")


@functools.cache
def row_changes() -> tuple[str, ...]:
    """The row's columns a newer document changes."""
    from dataclasses import fields

    from claudechat.storage.metadata import ConversationRow

    return tuple(f.name for f in fields(ConversationRow) if f.name not in ROW_FIXED)


def row_key(conversation_id: str, user_id: str) -> dict[str, str]:
    return {"key_conversation_id": conversation_id, "key_user_id": user_id}


def _this_row() -> ColumnElement[bool]:
    from sqlalchemy import bindparam

    from claudechat.storage.schema import conversations

    table = conversations.c
    return (
        table.conversation_id == bindparam("key_conversation_id", type_=table.conversation_id.type)
    ) & (table.user_id == bindparam("key_user_id", type_=table.user_id.type))


@functools.cache
def token_user() -> Select:
    """The user a token acts as (serve, every request): parameter `token_hash`."""
    from claudechat.storage.schema import api_tokens

    return _lookup(api_tokens, "user_id", "token_hash", "token_hash")


@functools.cache
def current_conversation() -> Select:
    """A user's current conversation in serve (every bare /chat): parameter `user_id`."""
    from claudechat.storage.schema import current_conversations

    return _lookup(current_conversations, "conversation_id", "user_id", "user_id")


def _lookup(table: Table, wanted: str, key: str, parameter: str) -> Select:
    """One column of the rows whose `key` equals the parameter."""
    from sqlalchemy import bindparam, select

    column = table.c[key]
    return select(table.c[wanted]).where(column == bindparam(parameter, type_=column.type))


def run_reads_once(connection: Connection) -> None:
    """Each statement a request reads with, run on keys that match nothing: its first run
    compiles it into the engine's cache (a worker warming up at start)."""
    nothing = row_key("-", "-")
    connection.execute(token_user(), {"token_hash": "-"}).first()
    connection.execute(current_conversation(), {"user_id": "-"}).first()
    connection.execute(row(), nothing).first()
    connection.execute(row_version(), nothing).first()
    # The very parameters a save passes: SQLAlchemy caches a statement per set of names.
    connection.execute(indexed_message_ids(), {"key_conversation_id": "-"}).first()
