"""slack: pending_actions.dedupe_key (one waiting card per key) and origin_json

Revision ID: 0007_slack_pending_dedupe
Revises: 0002_slack
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_slack_pending_dedupe"
down_revision: str | None = "0002_slack"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept identical to bot.security.models.PENDING_ONLY (a migration never imports live models).
PENDING_ONLY = "status = 'pending'"


def upgrade() -> None:
    with op.batch_alter_table("pending_actions") as batch:
        batch.add_column(sa.Column("dedupe_key", sqlmodel.AutoString(length=255), nullable=True))
        batch.add_column(sa.Column("origin_json", sa.Text(), nullable=True))
    # Partial unique index: only rows still pending block the key (NULL keys never collide).
    op.create_index(
        "ix_pending_actions_dedupe_pending",
        "pending_actions",
        ["dedupe_key"],
        unique=True,
        sqlite_where=sa.text(PENDING_ONLY),
        postgresql_where=sa.text(PENDING_ONLY),
    )


def downgrade() -> None:
    op.drop_index("ix_pending_actions_dedupe_pending", table_name="pending_actions")
    with op.batch_alter_table("pending_actions") as batch:
        batch.drop_column("origin_json")
        batch.drop_column("dedupe_key")
