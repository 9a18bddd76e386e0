"""Tables of the Slack area: pending confirmations, the audit log and handled-event receipts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlmodel import Column, Field, Index, Text

from bot.db import SQLModel, UTCDateTime

# Rows a dedupe key blocks: only cards still waiting for a click (claimed, cancelled, expired and
# finished actions free the key again).
PENDING_ONLY = "status = 'pending'"


class PendingAction(SQLModel, table=True):
    """A side effect waiting for a human click; claimed at most once (status moves forward)."""

    __tablename__ = "pending_actions"
    __table_args__ = (
        Index("ix_pending_actions_status_expires", "status", "expires_at"),
        # At most one waiting card per dedupe key, enforced by the database so that two app
        # instances clicking at once still end up with one card (partial: SQLite and PostgreSQL).
        Index(
            "ix_pending_actions_dedupe_pending",
            "dedupe_key",
            unique=True,
            sqlite_where=text(PENDING_ONLY),
            postgresql_where=text(PENDING_ONLY),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=128)
    args_json: str = Field(sa_column=Column(Text, nullable=False))
    requester_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # pending → claimed → executed | failed; pending → cancelled | expired
    status: str = Field(default="pending", max_length=16)
    claimed_by: str | None = Field(default=None, max_length=32)
    claimed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    result_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    result_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # e.g. "shopify.cancel:br:gid://shopify/Order/1": no second card while one is pending.
    dedupe_key: str | None = Field(default=None, max_length=255)
    # The Slack message the action was proposed from ({"channel", "ts", "text", "blocks"}), so
    # the area can update it after execution (the bot cannot read channel history).
    origin_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditEntry(SQLModel, table=True):
    """Append-only: requests, confirmations, executions, failures (never updated or deleted)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor_id: str = Field(max_length=32)
    event: str = Field(max_length=48)
    kind: str | None = Field(default=None, max_length=128)
    action_id: str | None = Field(default=None, max_length=32)
    channel_id: str | None = Field(default=None, max_length=32)
    detail_json: str = Field(sa_column=Column(Text, nullable=False))


class SlackEventReceipt(SQLModel, table=True):
    """One row per handled Slack event key (event_id, or channel+ts of a message)."""

    __tablename__ = "slack_event_receipts"
    __table_args__ = (Index("ix_slack_event_receipts_received_at", "received_at"),)

    key: str = Field(primary_key=True, max_length=160)
    event_type: str = Field(max_length=64)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
