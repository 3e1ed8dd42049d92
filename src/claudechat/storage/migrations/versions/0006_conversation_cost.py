"""each conversation's cost in its row, for `list`

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL until the conversation's next save: older rows hold no usage to price.
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("cost_usd", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("cost_usd")
