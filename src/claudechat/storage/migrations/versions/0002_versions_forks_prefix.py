"""optimistic-concurrency version, fork parent, id-prefix index, bytewise id collation

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("parent_id", sa.String(36)))
    if op.get_bind().dialect.name == "postgresql":
        # Bytewise order makes "id >= prefix AND id < prefix~" an index range in any locale.
        for column in ("conversation_id", "parent_id"):
            op.execute(
                f'ALTER TABLE conversations ALTER COLUMN {column} TYPE varchar(36) COLLATE "C"'
            )
    op.create_index("ix_conversations_user_id", "conversations", ["user_id", "conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_user_id", "conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("parent_id")
        batch.drop_column("version")
