"""slack: pending_actions, audit_log, slack_event_receipts

Revision ID: 0002_slack
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from bot.db import UTCDateTime

revision: str = "0002_slack"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("slack",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_actions",
        sa.Column("id", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("args_json", sa.Text(), nullable=False),
        sa.Column("requester_id", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("channel_id", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("thread_ts", sqlmodel.AutoString(length=32), nullable=True),
        sa.Column("message_ts", sqlmodel.AutoString(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("status", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("claimed_by", sqlmodel.AutoString(length=32), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("result_text", sa.Text(), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_actions")),
    )
    op.create_index(
        "ix_pending_actions_status_expires", "pending_actions", ["status", "expires_at"]
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("event", sqlmodel.AutoString(length=48), nullable=False),
        sa.Column("kind", sqlmodel.AutoString(length=128), nullable=True),
        sa.Column("action_id", sqlmodel.AutoString(length=32), nullable=True),
        sa.Column("channel_id", sqlmodel.AutoString(length=32), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "slack_event_receipts",
        sa.Column("key", sqlmodel.AutoString(length=160), nullable=False),
        sa.Column("event_type", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_slack_event_receipts")),
    )
    op.create_index("ix_slack_event_receipts_received_at", "slack_event_receipts", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_event_receipts_received_at", table_name="slack_event_receipts")
    op.drop_table("slack_event_receipts")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_pending_actions_status_expires", table_name="pending_actions")
    op.drop_table("pending_actions")
