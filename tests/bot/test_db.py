from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.db import session_scope
from integrations.runtime.models import ApiCall


def test_migrations_create_tables_and_datetimes_round_trip_as_utc(db_engine: Engine) -> None:
    assert "api_calls" in inspect(db_engine).get_table_names()
    when = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)
    with session_scope(db_engine) as session:
        session.add(
            ApiCall(integration="x", operation="y", started_at=when, latency_ms=1.5, ok=True)
        )
    with session_scope(db_engine) as session:
        row = session.exec(select(ApiCall)).one()
    assert row.started_at == when
    assert row.started_at.tzinfo is not None
