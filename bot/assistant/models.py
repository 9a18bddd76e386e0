"""Assistant tables: conversations per Slack thread, their messages, requests, usage, feedback.

Migrations: bot/migrations/versions/0006_assistant.py, then 0009_assistant_lease.py (the thread
lease columns); kept identical to these models by a test.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Index, Integer, Numeric, Text, UniqueConstraint
from sqlmodel import Field

from bot.db import SQLModel, UTCDateTime


class AssistantConversation(SQLModel, table=True):
    """One conversation per Slack thread (a DM thread or a channel thread)."""

    __tablename__ = "assistant_conversations"
    __table_args__ = (UniqueConstraint("channel_id", "thread_ts"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(max_length=32)
    thread_ts: str = Field(max_length=32)
    started_by: str = Field(max_length=32)
    # Turns before this one were trimmed from the model's view (kept for the record).
    first_turn: int = Field(default=0)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The thread's lease (bot.assistant.lease): which turn is being answered in it, on which
    # instance, and until when. Both NULL when the thread is free.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class AssistantMessage(SQLModel, table=True):
    """One Messages API message of a conversation (user text, assistant blocks, tool results)."""

    __tablename__ = "assistant_messages"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("assistant_conversations.id", ondelete="CASCADE"), nullable=False
        )
    )
    seq: int
    turn: int
    role: str = Field(max_length=16)
    content: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of content blocks
    tokens: int = Field(default=0)  # estimate, for trimming to the history budget
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AssistantRequest(SQLModel, table=True):
    """One question asked of the assistant (also the rate limiter's log)."""

    __tablename__ = "assistant_requests"
    __table_args__ = (Index("ix_assistant_requests_user_created", "user_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    ref_id: str = Field(max_length=32, unique=True)
    user_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    thread_ts: str = Field(max_length=32)
    # accepted → answered | cut | refused | failed | busy (the thread stayed busy for the whole
    # wait); rate_limited, too_long and busy are not counted against the limit.
    status: str = Field(max_length=24)
    stop_reason: str | None = Field(default=None, max_length=40)
    rounds: int = Field(default=0)
    tool_calls: int = Field(default=0)
    error_category: str | None = Field(default=None, max_length=32)
    reply_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AssistantUsage(SQLModel, table=True):
    """Tokens of one Messages API response, attributed to a user and thread."""

    __tablename__ = "assistant_usage"
    __table_args__ = (
        Index("ix_assistant_usage_user_created", "user_id", "created_at"),
        Index("ix_assistant_usage_thread", "channel_id", "thread_ts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_ref: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    thread_ts: str = Field(max_length=32)
    model: str = Field(max_length=64)
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 6)))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AssistantFeedback(SQLModel, table=True):
    """A 👍/👎 click on an answer; a later click by the same user replaces the earlier one."""

    __tablename__ = "assistant_feedback"
    __table_args__ = (UniqueConstraint("channel_id", "message_ts", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(max_length=32)
    message_ts: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    request_ref: str | None = Field(default=None, max_length=32)
    value: str = Field(max_length=8)  # "up" | "down"
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
