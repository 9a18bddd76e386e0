from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from bot.db import EXTERNAL_TABLES, SQLModel, import_all_models

JOBS_TABLES = {
    "job_runs",
    "job_slots",
    "job_batches",
    "dead_letters",
    "incidents",
    "scheduler_leases",
}


def _table_of(diff: object) -> str | None:
    # diffs are tuples like ("add_table", Table) or ("modify_type", schema, table, column, ...)
    # or lists of such tuples (column modifications).
    item = diff[0] if isinstance(diff, list) else diff
    assert isinstance(item, tuple)
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if name in JOBS_TABLES:
            return str(name)
        if isinstance(part, str) and part in JOBS_TABLES:
            return part
    return None


def test_jobs_migration_matches_models(db_engine: Engine) -> None:
    import_all_models()
    with db_engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, type_, *_: (
                    not (type_ == "table" and name in EXTERNAL_TABLES)
                ),
            },
        )
        diffs = compare_metadata(ctx, SQLModel.metadata)
    ours = [d for d in diffs if _table_of(d) in JOBS_TABLES]
    assert ours == []
    # and every jobs table exists after `upgrade`
    assert set(inspect(db_engine).get_table_names()) >= JOBS_TABLES
