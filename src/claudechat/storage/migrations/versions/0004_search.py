"""full-text search: one row per message, FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The rows are filled by every save. Conversations saved before this revision are indexed from
# their documents (a migration sees only the database; the text lives in the blob store): by
# `claudechat db reindex`, or by each user's first search, for the users listed in
# search_backfill here.


def upgrade() -> None:
    op.create_table(
        "search_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        # A token standing for the user, indexed with the text: a query names it, so the
        # index itself narrows the matches to one user's before any are ranked.
        sa.Column("owner", sa.String(64), nullable=False),
        sa.UniqueConstraint("conversation_id", "message_id", name="uq_search_message"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()
    op.create_table("search_backfill", sa.Column("user_id", sa.String(128), primary_key=True))
    op.execute("INSERT INTO search_backfill (user_id) SELECT DISTINCT user_id FROM conversations")


def _postgresql() -> None:
    # 'simple': no stemming and no stop words, like FTS5's unicode61, so a conversation in
    # any language is found by the words it holds.
    op.execute(
        "ALTER TABLE search_messages ADD COLUMN document tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', body) || array_to_tsvector(ARRAY[owner])) "
        "STORED"
    )
    op.execute("CREATE INDEX ix_search_messages_document ON search_messages USING gin (document)")


def _sqlite() -> None:
    # External content: the text is stored once, in search_messages; triggers keep the index
    # in step with it.
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5(body, owner, content='search_messages', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER search_messages_ai AFTER INSERT ON search_messages BEGIN "
        "INSERT INTO search_fts(rowid, body, owner) VALUES (new.id, new.body, new.owner); END"
    )
    op.execute(
        "CREATE TRIGGER search_messages_ad AFTER DELETE ON search_messages BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, body, owner) "
        "VALUES ('delete', old.id, old.body, old.owner); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER search_messages_ad")
        op.execute("DROP TRIGGER search_messages_ai")
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_backfill")
    op.drop_table("search_messages")
