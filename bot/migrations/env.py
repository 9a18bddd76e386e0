"""Alembic environment: used programmatically by `bot.db.upgrade` and `chegou-hub db upgrade`."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Engine

from bot.db import EXTERNAL_TABLES, SQLModel, import_all_models, make_engine

import_all_models()
target_metadata = SQLModel.metadata
config = context.config


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (type_ == "table" and name in EXTERNAL_TABLES)


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///chegou_hub.db")
    with engine.connect() as connection:
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
