"""The hand-written 0005_ai_costs migration matches the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from bot.db import SQLModel, import_all_models

OWN_TABLES = {
    "ai_cost_daily",
    "ai_cost_sync_state",
    "ai_cost_names",
    "ai_hub_usage",
    "ai_cost_alert_marks",
}


def _touches_own_table(diff: object) -> bool:
    text = repr(diff)
    return any(name in text for name in OWN_TABLES)


def test_models_match_migration(db_engine: Engine) -> None:
    import_all_models()
    with db_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, SQLModel.metadata) if _touches_own_table(d)]
    assert diffs == []
