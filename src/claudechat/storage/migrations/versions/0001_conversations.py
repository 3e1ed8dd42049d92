"""conversations table

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("conversation_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("conversation_name", sa.Text),
        sa.Column("s3_file_location", sa.Text, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("message_count", sa.Integer, nullable=False),
        sa.Column("preview", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversations_user_updated", "conversations", ["user_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_user_updated", "conversations")
    op.drop_table("conversations")
