"""The 0006_assistant migration creates exactly what the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from bot.db import SQLModel, import_all_models

TABLES = {
    "assistant_conversations",
    "assistant_messages",
    "assistant_requests",
    "assistant_usage",
    "assistant_feedback",
}


def test_models_match_the_migration(db_engine: Engine) -> None:
    import_all_models()
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)

    ours = [op for op in diff if any(table in repr(op) for table in TABLES)]
    assert ours == []
    with db_engine.connect() as conn:
        names = set(db_engine.dialect.get_table_names(conn))
    assert names >= TABLES
