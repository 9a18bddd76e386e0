"""Alembic environment: used programmatically by `bot.db.upgrade` and `chegou-hub db upgrade`."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.db import EXTERNAL_TABLES, SQLModel, import_all_models, make_engine

import_all_models()
target_metadata = SQLModel.metadata
config = context.config
# Arbitrary but fixed: the PostgreSQL advisory lock that serialises concurrent upgrades.
MIGRATION_LOCK_KEY = 7_463_118_210


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (type_ == "table" and name in EXTERNAL_TABLES)


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///chegou_hub.db")
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Instances starting together (each `chegou-hub run` upgrades on start) take turns:
            # the lock is held until the migration transaction commits; the next one finds the
            # schema at heads and does nothing. SQLite serialises writers by itself.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
