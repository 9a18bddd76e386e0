"""Foundation tables: one row per external call (written in batches)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Column, Field, Index

from bot.db import SQLModel, UTCDateTime


class ApiCall(SQLModel, table=True):
    __tablename__ = "api_calls"
    __table_args__ = (Index("ix_api_calls_integration_started", "integration", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    integration: str = Field(max_length=64)
    operation: str = Field(max_length=128)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    latency_ms: float
    ok: bool
    status_code: int | None = None
    category: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=500)
    # 1 for the first attempt of a logical call, 2.. for its automatic retries.
    attempt: int = Field(default=1)
