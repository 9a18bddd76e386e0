"""Migrations: every area's migration matches its models, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from bot.db import (
    EXTERNAL_TABLES,
    SQLModel,
    current_revisions,
    downgrade,
    head_revisions,
    import_all_models,
    upgrade,
)


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "table" and (name in EXTERNAL_TABLES or name == "alembic_version"))


def schema_differences(engine: Engine) -> list[Any]:
    import_all_models()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _include}
        )
        return list(compare_metadata(context, SQLModel.metadata))


def test_upgrade_reaches_every_head(db_engine: Engine) -> None:
    heads = head_revisions()
    assert heads, "no migration heads found"
    assert current_revisions(db_engine) == heads


def test_models_match_migrated_schema(db_engine: Engine) -> None:
    """Fails when a model and its area's migration disagree (tables, columns, types, indexes)."""
    diffs = schema_differences(db_engine)
    assert diffs == [], "models and migrations differ:\n" + "\n".join(map(repr, diffs))


def test_comparison_detects_a_model_without_migration(sqlite_engine: Engine) -> None:
    """The comparison above can fail: a table only in the metadata is reported."""
    from sqlalchemy import Column, Integer, Table

    probe = Table(
        "zz_probe_only_in_models", SQLModel.metadata, Column("id", Integer, primary_key=True)
    )
    try:
        diffs = schema_differences(sqlite_engine)
    finally:
        SQLModel.metadata.remove(probe)
    assert any(d[0] == "add_table" and d[1].name == "zz_probe_only_in_models" for d in diffs)


def test_downgrade_to_base_and_upgrade_again(db_engine: Engine) -> None:
    downgrade(db_engine, "base")
    tables = set(inspect(db_engine).get_table_names()) - {"alembic_version"} - EXTERNAL_TABLES
    assert tables == set()
    assert current_revisions(db_engine) == set()
    upgrade(db_engine)
    assert current_revisions(db_engine) == head_revisions()
    assert schema_differences(db_engine) == []


def test_upgrade_is_idempotent(db_engine: Engine) -> None:
    upgrade(db_engine)
    upgrade(db_engine)
    assert current_revisions(db_engine) == head_revisions()
