"""shopify: IP lists per store and the cancellation ledger

Revision ID: 0004_shopify
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision: str = "0004_shopify"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("shopify",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shopify_ip_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("list_name", sa.String(16), nullable=False),
        sa.Column("note", sa.String(255), nullable=True),
        sa.Column("updated_by", sa.String(32), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shopify_ip_lists")),
        sa.UniqueConstraint("store", "ip", name="uq_shopify_ip_lists_store_ip"),
    )
    op.create_table(
        "shopify_cancellations",
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("order_name", sa.String(32), nullable=False),
        sa.Column("kept_order_id", sa.String(128), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=True),
        sa.Column("requested_by", sa.String(32), nullable=True),
        sa.Column("job_id", sa.String(128), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_shopify_cancellations")),
    )


def downgrade() -> None:
    op.drop_table("shopify_cancellations")
    op.drop_table("shopify_ip_lists")
