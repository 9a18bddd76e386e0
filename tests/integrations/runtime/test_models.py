from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from bot.db import SQLModel, import_all_models


def test_api_calls_migration_matches_the_model(db_engine: Engine) -> None:
    import_all_models()
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)

    def touches_api_calls(item: object) -> bool:
        return "api_calls" in repr(item)

    assert [d for d in diff if touches_api_calls(d)] == []
