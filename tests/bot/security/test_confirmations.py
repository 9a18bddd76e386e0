"""Storage and claim of pending actions, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.clock import FakeClock
from bot.db import SQLModel, import_all_models, session_scope
from bot.hub import Hub
from bot.security import audit, confirmations
from bot.security.confirmations import (
    ActionSpec,
    AlreadyPending,
    Executed,
    ExecutionContext,
    ExecutionResult,
    Origin,
    Refused,
    handle_click,
    propose_card,
)
from bot.security.models import PendingAction
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


# --- dedupe key: one waiting card per key -----------------------------------------------------
def _pending(hub: Hub, key: str, requester: str = "U1") -> confirmations.Proposal:
    return confirmations.create_pending(
        hub,
        "t.op",
        {"n": 1},
        requester=requester,
        channel="C1",
        thread_ts="1.2",
        role=Role.OPERATOR,
        dedupe_key=key,
    )


def _rows_with_key(hub: Hub, key: str) -> list[PendingAction]:
    with session_scope(hub.engine) as session:
        return list(
            session.exec(select(PendingAction).where(col(PendingAction.dedupe_key) == key)).all()
        )


def test_dedupe_key_refuses_a_second_card_while_the_first_waits(
    shared_hub: Hub, spec: list[Any]
) -> None:
    first = _pending(shared_hub, "k:1")
    with pytest.raises(AlreadyPending) as caught:
        _pending(shared_hub, "k:1", requester="U2")
    assert caught.value.existing.id == first.action_id
    assert caught.value.existing.requester_id == "U1"
    assert "<@U1>" in str(caught.value) and "Não criei outro" in str(caught.value)
    # Another key and no key at all are not affected.
    _pending(shared_hub, "k:2")
    propose_card(shared_hub, "t.op", {"n": 1}, "U1", "C1", None, role=Role.OPERATOR)
    propose_card(shared_hub, "t.op", {"n": 1}, "U1", "C1", None, role=Role.OPERATOR)
    assert len(_rows_with_key(shared_hub, "k:1")) == 1
    requested = [e for e in audit.recent(shared_hub, limit=50) if e.event == "requested"]
    assert len(requested) == 4  # the refused duplicate asked for nothing

    # Once the first card is decided the key is free again.
    out = handle_click(
        shared_hub, first.action_id, clicker="U1", role=Role.OPERATOR, decision="cancel"
    )
    assert out.card_text is not None
    second = _pending(shared_hub, "k:1", requester="U2")
    assert second.action_id != first.action_id
    assert sorted(r.status for r in _rows_with_key(shared_hub, "k:1")) == ["cancelled", "pending"]


def test_concurrent_requests_with_the_same_key_store_one_row(
    shared_hub: Hub, spec: list[Any]
) -> None:
    """Two app instances clicking at once: the unique index lets exactly one through."""
    barrier = threading.Barrier(8)
    made: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def request(i: int) -> None:
        barrier.wait()
        try:
            made.append(_pending(shared_hub, "k:race", requester=f"U{i}").action_id)
        except AlreadyPending as exc:
            refused.append(exc.existing.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(made) == 1 and len(refused) == 7
    assert set(refused) == set(made)  # everyone else is pointed to the winner's card
    rows = _rows_with_key(shared_hub, "k:race")
    assert [(r.id, r.status) for r in rows] == [(made[0], "pending")]


def test_an_expired_card_does_not_block_a_new_one(
    shared_hub: Hub, spec: list[Any], fake_clock: FakeClock
) -> None:
    old = _pending(shared_hub, "k:exp")
    fake_clock.advance(shared_hub.settings.hub_confirmation_ttl_seconds - 1)
    with pytest.raises(AlreadyPending):
        _pending(shared_hub, "k:exp")
    fake_clock.advance(2)
    new = _pending(shared_hub, "k:exp", requester="U2")
    statuses = {r.id: r.status for r in _rows_with_key(shared_hub, "k:exp")}
    assert statuses == {old.action_id: "expired", new.action_id: "pending"}
    expired = [e for e in audit.recent(shared_hub, limit=20) if e.event == "expired"]
    assert [(e.action_id, e.detail) for e in expired] == [(old.action_id, {"reason": "superseded"})]
    # The old card's Confirm now says it expired and runs nothing.
    out = handle_click(
        shared_hub, old.action_id, clicker="U1", role=Role.OPERATOR, decision="confirm"
    )
    assert out.ephemeral and "expirou" in out.ephemeral and spec == []


class _FailingClient:
    def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("slack down")


def test_a_card_that_could_not_be_posted_frees_its_key(shared_hub: Hub, spec: list[Any]) -> None:
    with pytest.raises(RuntimeError):
        confirmations.post_proposal(
            shared_hub,
            _FailingClient(),
            "t.op",
            {"n": 1},
            requester="U1",
            channel="C1",
            role=Role.OPERATOR,
            dedupe_key="k:post",
        )
    [row] = _rows_with_key(shared_hub, "k:post")
    assert row.status == "cancelled"
    assert _pending(shared_hub, "k:post").action_id != row.id


# --- origin and after_execute -------------------------------------------------------------------
class _Client:
    def __init__(self, channel: str = "C1") -> None:
        self.channel = channel
        self.posted: list[dict[str, Any]] = []

    def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        self.posted.append(kwargs)
        return {"ok": True, "channel": self.channel, "ts": f"9.{len(self.posted)}"}


@pytest.fixture
def hooked(monkeypatch: pytest.MonkeyPatch) -> list[Executed]:
    """`t.hook`: executes n (n < 0 raises) and records what `after_execute` received."""
    seen: list[Executed] = []

    def execute(hub: Hub, ctx: ExecutionContext, args: dict[str, Any]) -> ExecutionResult:
        if args["n"] < 0:
            raise RuntimeError("boom")
        return ExecutionResult(text="ok", ok=args["n"] != 0, details={"n": args["n"]})

    def after(hub: Hub, client: Any, done: Executed) -> None:
        seen.append(done)
        if done.args["n"] == 7:
            raise RuntimeError("hook broke")

    monkeypatch.setitem(
        confirmations.ACTIONS,
        "t.hook",
        ActionSpec(
            "t.hook",
            Role.OPERATOR,
            lambda h, a: {"n": int(a["n"])},
            lambda h, a: f"fazer {a['n']}",
            execute,
            after_execute=after,
        ),
    )
    return seen


def _confirm_hooked(
    hub: Hub, n: int, origin: Origin | None, client: Any = None, channel: str = "C1"
) -> Any:
    proposal = confirmations.post_proposal(
        hub,
        client or _Client(),
        "t.hook",
        {"n": n},
        requester="U1",
        channel=channel,
        role=Role.OPERATOR,
        origin=origin,
    )
    return handle_click(hub, proposal.action_id, clicker="U9", role=Role.ADMIN, decision="confirm")


def test_after_execute_gets_the_result_and_the_origin_message(
    shared_hub: Hub, hooked: list[Executed]
) -> None:
    origin = Origin("C1", "5.5", "relatório", [{"type": "section", "text": {"type": "mrkdwn"}}])
    out = _confirm_hooked(shared_hub, 3, origin)
    assert out.executed and out.follow_up is not None and hooked == []  # not run by handle_click
    confirmations.run_after_execute(shared_hub, object(), out)
    [done] = hooked
    assert (done.kind, done.requester_id, done.confirmer_id, done.args) == (
        "t.hook",
        "U1",
        "U9",
        {"n": 3},
    )
    assert done.result.details == {"n": 3} and done.origin == origin

    # A result that is not ok still ran: the hook runs too. An exception in execute: no hook.
    out = _confirm_hooked(shared_hub, 0, None)
    assert not out.executed and out.follow_up is not None and out.follow_up.origin is None
    out = _confirm_hooked(shared_hub, -1, origin)
    assert out.follow_up is None


def test_a_failing_after_execute_is_logged_not_raised(
    shared_hub: Hub, hooked: list[Executed], caplog: pytest.LogCaptureFixture
) -> None:
    out = _confirm_hooked(shared_hub, 7, None)
    with caplog.at_level(logging.WARNING, logger="bot.security.confirmations"):
        confirmations.run_after_execute(shared_hub, object(), out)
    [record] = [r for r in caplog.records if "after_execute failed" in r.getMessage()]
    assert "kind=t.hook" in record.getMessage()


def test_origin_posted_to_a_user_id_follows_the_card_into_the_dm(
    shared_hub: Hub, hooked: list[Executed]
) -> None:
    """Home-tab quick actions post to the user id; chat.update needs the DM id Slack used."""
    dm = _Client("D1")
    out = _confirm_hooked(shared_hub, 3, Origin("U1", "5.5", "relatório"), dm, channel="U1")
    assert out.follow_up is not None and out.follow_up.origin == Origin("D1", "5.5", "relatório")
    # A card posted elsewhere than its origin leaves the origin's channel alone.
    out = _confirm_hooked(shared_hub, 3, Origin("C7", "5.6", "relatório"), dm, channel="U1")
    assert out.follow_up is not None and out.follow_up.origin == Origin("C7", "5.6", "relatório")
