"""The assistant migrations (0006_assistant, 0009_assistant_lease) create exactly what the models
declare, and the lease revision comes and goes without touching the stored conversations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from bot.db import (
    SQLModel,
    current_revisions,
    downgrade,
    head_revisions,
    import_all_models,
    upgrade,
)

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


def _lease_columns(engine: Engine) -> set[str]:
    columns = {c["name"] for c in inspect(engine).get_columns("assistant_conversations")}
    return columns & {"lease_owner", "lease_until"}


def test_lease_revision_downgrades_in_place_and_keeps_the_messages(db_engine: Engine) -> None:
    assert "0009_assistant_lease" in current_revisions(db_engine)
    with db_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO assistant_conversations (id, channel_id, thread_ts, started_by, "
                "first_turn, created_at, updated_at, lease_owner, lease_until) VALUES "
                "(1, 'C1', '1.0', 'U1', 0, :at, :at, 'x', :at)"
            ),
            {"at": "2026-11-30 12:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO assistant_messages (conversation_id, seq, turn, role, content, "
                "tokens, created_at) VALUES (1, 0, 0, 'user', '[]', 1, :at)"
            ),
            {"at": "2026-11-30 12:00:00"},
        )

    downgrade(db_engine, "0006_assistant")
    assert "0006_assistant" in current_revisions(db_engine)
    assert _lease_columns(db_engine) == set()
    upgrade(db_engine)
    assert current_revisions(db_engine) == head_revisions()
    assert _lease_columns(db_engine) == {"lease_owner", "lease_until"}

    with db_engine.connect() as conn:
        # SQLite's table copy would have cascaded to the messages: the downgrade must not copy.
        assert conn.execute(text("SELECT count(*) FROM assistant_messages")).scalar() == 1
        row = conn.execute(
            text("SELECT lease_owner, lease_until FROM assistant_conversations")
        ).one()
    assert tuple(row) == (None, None)  # a downgrade drops the lease: the thread is free
