"""assistant: conversations, messages, requests, usage, feedback

Revision ID: 0006_assistant
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db import UTCDateTime

revision: str = "0006_assistant"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("assistant",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistant_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("started_by", sa.String(32), nullable=False),
        sa.Column("first_turn", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_conversations")),
        sa.UniqueConstraint(
            "channel_id", "thread_ts", name=op.f("uq_assistant_conversations_channel_id")
        ),
    )
    op.create_table(
        "assistant_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["assistant_conversations.id"],
            name=op.f("fk_assistant_messages_conversation_id_assistant_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_messages")),
        sa.UniqueConstraint(
            "conversation_id", "seq", name=op.f("uq_assistant_messages_conversation_id")
        ),
    )
    op.create_table(
        "assistant_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("stop_reason", sa.String(40), nullable=True),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("tool_calls", sa.Integer(), nullable=False),
        sa.Column("error_category", sa.String(32), nullable=True),
        sa.Column("reply_ts", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_requests")),
        sa.UniqueConstraint("ref_id", name=op.f("uq_assistant_requests_ref_id")),
    )
    op.create_index(
        "ix_assistant_requests_user_created", "assistant_requests", ["user_id", "created_at"]
    )
    op.create_table(
        "assistant_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_ref", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_creation_input_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_read_input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(14, 6), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_usage")),
    )
    op.create_index("ix_assistant_usage_user_created", "assistant_usage", ["user_id", "created_at"])
    op.create_index("ix_assistant_usage_thread", "assistant_usage", ["channel_id", "thread_ts"])
    op.create_table(
        "assistant_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("request_ref", sa.String(32), nullable=True),
        sa.Column("value", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_feedback")),
        sa.UniqueConstraint(
            "channel_id",
            "message_ts",
            "user_id",
            name=op.f("uq_assistant_feedback_channel_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("assistant_feedback")
    op.drop_index("ix_assistant_usage_thread", table_name="assistant_usage")
    op.drop_index("ix_assistant_usage_user_created", table_name="assistant_usage")
    op.drop_table("assistant_usage")
    op.drop_index("ix_assistant_requests_user_created", table_name="assistant_requests")
    op.drop_table("assistant_requests")
    op.drop_table("assistant_messages")
    op.drop_table("assistant_conversations")
