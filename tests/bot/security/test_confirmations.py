"""Storage and claim of pending actions, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.db import SQLModel, import_all_models
from bot.hub import Hub
from bot.security import audit, confirmations
from bot.security.confirmations import (
    ActionSpec,
    ExecutionContext,
    ExecutionResult,
    Refused,
    handle_click,
    propose_card,
)
from bot.security.roles import Role
from bot.settings import Settings
from handlers.registry import UsageError
from integrations.runtime.errors import UpstreamUnavailable

SLACK_TABLES = {"pending_actions", "audit_log", "slack_event_receipts"}


def test_migration_matches_models(db_engine: Engine) -> None:
    import_all_models()
    with db_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, SQLModel.metadata)

    def table_of(diff: Any) -> str | None:
        item = diff[0] if isinstance(diff, list) else diff
        for part in item[1:]:
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None):
                return str(table.name)
            if isinstance(part, str) and part in SLACK_TABLES:
                return part
            if name in SLACK_TABLES:
                return str(name)
        return None

    assert [d for d in diffs if table_of(d) in SLACK_TABLES] == []


@pytest.fixture
def spec(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    ran: list[dict[str, Any]] = []

    def validate(hub: Hub, args: dict[str, Any]) -> dict[str, Any]:
        if "n" not in args:
            raise UsageError("Faltou n.")
        return {"n": int(args["n"])}

    def execute(hub: Hub, ctx: ExecutionContext, args: dict[str, Any]) -> ExecutionResult:
        ran.append(args)
        if args["n"] == -2:
            raise UpstreamUnavailable("503 upstream body", integration="shopify:br")
        if args["n"] < 0:
            raise RuntimeError("boom")
        return ExecutionResult(text=f"feito {args['n']}")

    monkeypatch.setitem(
        confirmations.ACTIONS,
        "t.op",
        ActionSpec("t.op", Role.OPERATOR, validate, lambda h, a: f"fazer {a['n']}", execute),
    )
    return ran


@pytest.fixture
def shared_hub(db_engine: Engine, settings: Settings, fake_clock: FakeClock) -> Hub:
    return Hub.create(settings, engine=db_engine, clock=fake_clock)


def _action_id(blocks: list[dict[str, Any]]) -> str:
    return str(blocks[-1]["elements"][0]["value"])


def test_propose_card_validates_and_checks_role(shared_hub: Hub, spec: list[Any]) -> None:
    with pytest.raises(UsageError):
        propose_card(shared_hub, "t.op", {}, "U1", "C1", None, role=Role.OPERATOR)
    with pytest.raises(Refused):
        propose_card(shared_hub, "t.op", {"n": 1}, "U1", "C1", None, role=Role.VIEWER)
    with pytest.raises(Refused):
        propose_card(shared_hub, "nope", {"n": 1}, "U1", "C1", None, role=Role.ADMIN)
    blocks = propose_card(shared_hub, "t.op", {"n": "7"}, "U1", "C1", "1.2", role=Role.OPERATOR)
    row = confirmations.load(shared_hub, _action_id(blocks))
    assert row is not None and row.args_json == '{"n": 7}' and row.thread_ts == "1.2"
    assert row.status == "pending"


def test_concurrent_claims_execute_once(shared_hub: Hub, spec: list[Any]) -> None:
    blocks = propose_card(shared_hub, "t.op", {"n": 1}, "U1", "C1", None, role=Role.OPERATOR)
    action_id = _action_id(blocks)
    barrier = threading.Barrier(8)
    outcomes: list[bool] = []

    def click() -> None:
        barrier.wait()
        out = handle_click(
            shared_hub, action_id, clicker="U1", role=Role.OPERATOR, decision="confirm"
        )
        outcomes.append(out.executed)

    threads = [threading.Thread(target=click) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert spec == [{"n": 1}]
    assert sorted(outcomes) == [False] * 7 + [True]
    row = confirmations.load(shared_hub, action_id)
    assert row is not None and row.status == "executed" and row.claimed_by == "U1"


def test_execution_failure_is_recorded_with_reference(shared_hub: Hub, spec: list[Any]) -> None:
    blocks = propose_card(shared_hub, "t.op", {"n": -1}, "U1", "C1", None, role=Role.OPERATOR)
    out = handle_click(
        shared_hub, _action_id(blocks), clicker="U1", role=Role.OPERATOR, decision="confirm"
    )
    assert out.card_text is not None and "REF-" in out.card_text and "boom" not in out.card_text
    row = confirmations.load(shared_hub, _action_id(blocks))
    assert row is not None and row.status == "failed"
    events = [e.event for e in audit.recent(shared_hub)]
    assert events[:3] == ["failed", "confirmed", "requested"]


def test_upstream_failure_of_an_action_says_which_service_and_logs_a_warning(
    shared_hub: Hub, spec: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    blocks = propose_card(shared_hub, "t.op", {"n": -2}, "U1", "C1", None, role=Role.OPERATOR)
    with caplog.at_level(logging.INFO, logger="bot.security.confirmations"):
        out = handle_click(
            shared_hub, _action_id(blocks), clicker="U1", role=Role.OPERATOR, decision="confirm"
        )
    assert out.card_text is not None
    assert out.card_text.startswith("Não consegui executar a ação: Shopify está fora do ar")
    assert "REF-" in out.card_text and "upstream body" not in out.card_text
    [record] = [r for r in caplog.records if "confirmed action failed" in r.getMessage()]
    assert record.levelno == logging.WARNING and not record.exc_info


def test_requester_with_too_low_role_cannot_confirm_but_admin_can(
    shared_hub: Hub, spec: list[Any]
) -> None:
    blocks = propose_card(shared_hub, "t.op", {"n": 2}, "U1", "C1", None, role=Role.OPERATOR)
    action_id = _action_id(blocks)
    # The requester lost the operator role since proposing.
    out = handle_click(shared_hub, action_id, clicker="U1", role=Role.VIEWER, decision="confirm")
    assert out.ephemeral and "operador" in out.ephemeral and spec == []
    out = handle_click(shared_hub, action_id, clicker="U9", role=Role.ADMIN, decision="confirm")
    assert out.executed and spec == [{"n": 2}]
