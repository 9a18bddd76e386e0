"""Migrations: every area's migration matches its models, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
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


def test_concurrent_upgrades_on_postgresql_take_turns(tmp_path: Path) -> None:
    """Instances starting at once (`run` upgrades on start) all succeed: the advisory lock in
    env.py makes them take turns instead of racing on CREATE TABLE."""
    import subprocess
    import sys
    import uuid

    from sqlalchemy import text

    from bot.db import make_engine
    from tests.conftest import TEST_DATABASE_URL

    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # Each process imports everything first, then waits at a gate so the upgrades really overlap.
    code = (
        "import sys, time, pathlib\n"
        "from bot.db import make_engine, upgrade\n"
        "engine = make_engine(sys.argv[1], connect_args={'options': sys.argv[2]})\n"
        "gate = pathlib.Path(sys.argv[3])\n"
        "print('ready', flush=True)\n"
        "while not gate.exists():\n"
        "    time.sleep(0.001)\n"
        "upgrade(engine)\n"
    )
    options = f"-csearch_path={schema}"
    gate = tmp_path / "go"
    engine = make_engine(TEST_DATABASE_URL, connect_args={"options": options})
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, TEST_DATABASE_URL, options, str(gate)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        gate.touch()
        results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
        assert [rc for rc, _ in results] == [0, 0, 0], [err for _, err in results]
        assert current_revisions(engine) == head_revisions()
        assert schema_differences(engine) == []
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
