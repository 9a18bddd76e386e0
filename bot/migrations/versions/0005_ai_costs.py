"""ai_costs: daily cost/usage facts, sync state, names, hub usage, alert marks

Revision ID: 0005_ai_costs
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime
from integrations.ai_costs.models import Money

revision: str = "0005_ai_costs"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("ai_costs",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_cost_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("project_id", sa.String(128), nullable=False),
        sa.Column("api_key_id", sa.String(128), nullable=False),
        sa.Column("item", sa.String(255), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("cost_usd", Money(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("synced_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_cost_daily")),
        sa.UniqueConstraint(
            "vendor", "source", "day", "project_id", "api_key_id", "item", name="uq_ai_cost_daily"
        ),
    )
    op.create_index("ix_ai_cost_daily_day_vendor", "ai_cost_daily", ["day", "vendor"])

    op.create_table(
        "ai_cost_sync_state",
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("complete_until", sa.Date(), nullable=True),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("vendor", "source", name=op.f("pk_ai_cost_sync_state")),
    )

    op.create_table(
        "ai_cost_names",
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("vendor", "kind", "ref_id", name=op.f("pk_ai_cost_names")),
    )

    op.create_table(
        "ai_hub_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", Money(), nullable=False),
        sa.Column("priced", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_hub_usage")),
    )
    op.create_index("ix_ai_hub_usage_at", "ai_hub_usage", ["at"])

    op.create_table(
        "ai_cost_alert_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(160), nullable=False),
        sa.Column("mark", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_cost_alert_marks")),
        sa.UniqueConstraint("kind", "scope", "mark", name="uq_ai_cost_alert_marks"),
    )


def downgrade() -> None:
    op.drop_table("ai_cost_alert_marks")
    op.drop_index("ix_ai_hub_usage_at", table_name="ai_hub_usage")
    op.drop_table("ai_hub_usage")
    op.drop_table("ai_cost_names")
    op.drop_table("ai_cost_sync_state")
    op.drop_index("ix_ai_cost_daily_day_vendor", table_name="ai_cost_daily")
    op.drop_table("ai_cost_daily")
