"""The metadata table, as the newest migration leaves it. Alembic owns its history."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

# On PostgreSQL migration 0002 gives the id columns the bytewise "C" collation, so id-prefix
# range scans use the index in any locale; queries need not know (and `list` need not import
# the PostgreSQL dialect on SQLite).
IdType = String(36)

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("conversation_id", IdType, primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("conversation_name", Text),
    Column("s3_file_location", Text, nullable=False),
    Column("model", String(200), nullable=False),
    Column("message_count", Integer, nullable=False, default=0),
    Column("preview", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("parent_id", IdType),
    Column("cost_usd", Float),  # migration 0006; NULL: not priced yet
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(16), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

current_conversations = Table(
    "current_conversations",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("conversation_id", IdType, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Which conversation uses which stored attachment (migration 0005): deleting conversations
# finds attachments nobody references any more without reading a single document.
attachment_refs = Table(
    "attachment_refs",
    metadata,
    Column("user_id", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("conversation_id", IdType, nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("name", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("user_id", "sha256", "conversation_id"),
)

# One row per message, for full-text search (migration 0004). The index over `body` is
# dialect-specific and lives beside it: an FTS5 table with triggers on SQLite, a generated
# tsvector column with a GIN index on PostgreSQL (see claudechat.storage.search).
search_messages = Table(
    "search_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("conversation_id", IdType, nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("body", Text, nullable=False),
    Column("owner", String(64), nullable=False),  # search.owner_token(user_id)
)

# Users whose conversations were saved before migration 0004: indexed on their first search.
search_backfill = Table(
    "search_backfill", metadata, Column("user_id", String(128), primary_key=True)
)

# The conversations `delete` removed (migration 0008). A save's row transaction looks its id
# up here and writes nothing for a deleted one: its document may have been written just
# before the tombstone, and its row after the delete (see deletions.py).
deleted_conversations = Table(
    "deleted_conversations",
    metadata,
    Column("conversation_id", IdType, nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("conversation_id", "user_id"),
)
