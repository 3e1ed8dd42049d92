"""attachment references: which conversation uses which stored attachment

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per (user, attachment, conversation): deleting a conversation deletes its rows,
    # and an attachment with no row left is unreferenced, found by the primary key alone.
    op.create_table(
        "attachment_refs",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "sha256", "conversation_id"),
    )
    op.create_index(
        "ix_attachment_refs_conversation", "attachment_refs", ["user_id", "conversation_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_attachment_refs_conversation", "attachment_refs")
    op.drop_table("attachment_refs")
