"""deleted conversations: the ids `delete` removed, which a save's row transaction refuses

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A save whose document was written just before the tombstone wrote its row and search
    # entries back just after the delete. A save looks its id up here, in the transaction
    # that writes the row: the primary key is that lookup's index.
    op.create_table(
        "deleted_conversations",
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("deleted_conversations")
