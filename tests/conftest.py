"""Shared fixtures: settings on a temp SQLite file, a migrated engine, a fake clock, a Hub.

`db_engine` runs a test on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL too (each
PostgreSQL test gets its own schema, dropped afterwards, so parallel runs never collide).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.db import make_engine, upgrade
from bot.hub import Hub
from bot.notify import RecordingNotifier
from bot.settings import Settings

pytest_plugins = ["tests.e2e.fixtures"]

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
REPO_ROOT = Path(__file__).resolve().parent.parent
# The vendor specs live in ../shared beside the checkout (CI lays it there); a git worktree
# deeper in the tree finds the nearest shared/ above it.
SHARED_DIR = next(
    (p / "shared" for p in REPO_ROOT.parents if (p / "shared" / "specs").is_dir()),
    REPO_ROOT.parent / "shared",
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or real credentials."""
    for key in list(os.environ):
        if key.startswith(
            (
                "SLACK_",
                "OPENAI_",
                "ANTHROPIC_",
                "SHOPIFY_",
                "HUB_",
                "SMMRAJA_",
                "NOVELTIES_",
                "PRIMECOD_",
                "ECOMHUB_",
                "DROPI_",
                "GOOGLE_",
                "AI_",
                "ASSISTANT_",
                "DATABASE_URL",
            )
        ):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
        "retry_wait_min_seconds": 0.0,
        "retry_wait_max_seconds": 0.0,
        "hub_docs_dir": str(REPO_ROOT / "docs"),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(TEST_DATABASE_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated engine on each back-end."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def hub(
    settings: Settings, sqlite_engine: Engine, fake_clock: FakeClock, notifier: RecordingNotifier
) -> Iterator[Hub]:
    h = Hub.create(settings, engine=sqlite_engine, clock=fake_clock, notifier=notifier)
    yield h
    h.close()
