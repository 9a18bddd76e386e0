"""AI spend tables: the daily fact table for both vendors, sync progress, the hub's own Claude
usage and the marks that keep budget/spike alerts to once per period.

Money is stored exactly: `Money` is NUMERIC on PostgreSQL and a decimal string on SQLite (which
has no exact decimal type); both come back as `Decimal`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field, Index, UniqueConstraint

from bot.db import SQLModel, UTCDateTime

ZERO = Decimal(0)


class Money(TypeDecorator[Decimal]):
    """An exact USD amount: NUMERIC(24, 10) on PostgreSQL, a canonical string on SQLite."""

    impl = sa.String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(24, 10, asdecimal=True))
        return dialect.type_descriptor(sa.String(40))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "postgresql":
            return value
        return format(value.normalize() if value else ZERO, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)) if not isinstance(value, Decimal) else value


class AiCostDaily(SQLModel, table=True):
    """One normalised fact per (vendor, source, day, project, key, item).

    `source` is "cost" (money, from the vendor's cost report: the invoiced figure) or "usage"
    (tokens and requests from the usage report; cost_usd is 0 there). `item` is the vendor's
    line item (OpenAI "gpt-4o-2024-08-06, input", Anthropic description) for costs and the model
    for usage; `model` is the model parsed from it ("" when it is not a model charge).
    Empty strings stand for "not grouped / not applicable" so the unique key works everywhere.
    """

    __tablename__ = "ai_cost_daily"
    __table_args__ = (
        UniqueConstraint(
            "vendor", "source", "day", "project_id", "api_key_id", "item", name="uq_ai_cost_daily"
        ),
        Index("ix_ai_cost_daily_day_vendor", "day", "vendor"),
    )

    id: int | None = Field(default=None, primary_key=True)
    vendor: str = Field(max_length=16)
    source: str = Field(max_length=8)
    day: date
    project_id: str = Field(default="", max_length=128)
    api_key_id: str = Field(default="", max_length=128)
    item: str = Field(default="", max_length=255)
    model: str = Field(default="", max_length=128)
    cost_usd: Decimal = Field(sa_column=Column(Money(), nullable=False))
    input_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    cache_read_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    cache_write_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    output_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    requests: int = Field(default=0, sa_type=sa.BigInteger)
    raw: str = Field(default="", sa_type=sa.Text)
    synced_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AiCostSyncState(SQLModel, table=True):
    """Progress of one (vendor, source) stream: every day before `complete_until` is stored."""

    __tablename__ = "ai_cost_sync_state"

    vendor: str = Field(primary_key=True, max_length=16)
    source: str = Field(primary_key=True, max_length=8)
    complete_until: date | None = None
    last_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_success_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, max_length=500)
    requests: int = Field(default=0, sa_type=sa.BigInteger)


class AiNameCache(SQLModel, table=True):
    """Human names of projects/workspaces and API keys (ids are what the reports carry)."""

    __tablename__ = "ai_cost_names"

    vendor: str = Field(primary_key=True, max_length=16)
    kind: str = Field(primary_key=True, max_length=16)  # "project" | "api_key"
    ref_id: str = Field(primary_key=True, max_length=128)
    name: str = Field(max_length=255)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AiHubUsage(SQLModel, table=True):
    """One Claude response of the hub's own assistant, priced when recorded."""

    __tablename__ = "ai_hub_usage"
    __table_args__ = (Index("ix_ai_hub_usage_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    user_id: str = Field(max_length=64)
    channel_id: str = Field(max_length=64)
    thread_ts: str | None = Field(default=None, max_length=32)
    model: str = Field(max_length=128)
    input_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    cache_creation_input_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    cache_read_input_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    output_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    cost_usd: Decimal = Field(sa_column=Column(Money(), nullable=False))
    priced: bool = True  # False when no price was known for the model (cost 0)


class AiCostAlertMark(SQLModel, table=True):
    """An alert already sent: (kind, scope, mark) is unique, so each fires once.

    Budgets: kind "budget", scope "openai:proj_x" or "openai:*", mark "2026-11:75".
    Spikes: kind "spike", scope "openai", mark the spiking day (cooldown reads created_at).
    """

    __tablename__ = "ai_cost_alert_marks"
    __table_args__ = (UniqueConstraint("kind", "scope", "mark", name="uq_ai_cost_alert_marks"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    scope: str = Field(max_length=160)
    mark: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
