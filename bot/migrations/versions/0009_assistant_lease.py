"""assistant: a lease per conversation, so one question per thread runs at a time across instances

Revision ID: 0009_assistant_lease
Revises: 0006_assistant
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision: str = "0009_assistant_lease"
down_revision: str | None = "0006_assistant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assistant_conversations") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    # Never recreate the table on SQLite: dropping assistant_conversations to copy it would
    # cascade (foreign_keys=ON) and delete every conversation's messages. SQLite >= 3.35 drops
    # a plain column in place.
    with op.batch_alter_table("assistant_conversations", recreate="never") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
