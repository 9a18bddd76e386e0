"""Confirmation cards through the real app: one execution whatever the clicks."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.security import audit, confirmations
from bot.security.confirmations import ActionSpec, ExecutionContext, ExecutionResult
from bot.security.roles import Role
from handlers import registry
from handlers.registry import CommandContext, Subcommand, UsageError
from tests.e2e.fixtures import ADMIN, OPERATOR, VIEWER, SlackFactory

CHANNEL = "C0GENERAL1"


class Executions:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.valid = True


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Executions]:
    """Registers `test.refund` (operator) and `/hub reembolso <valor>` proposing it."""
    state = Executions()

    def validate(hub: Hub, args: dict[str, Any]) -> dict[str, Any]:
        if not state.valid:
            raise UsageError("O pedido já foi cancelado por outra pessoa.")
        try:
            amount = int(args["amount"])
        except (KeyError, ValueError):
            raise UsageError("Informe o valor em reais, por exemplo `50`.") from None
        return {"amount": amount}

    def execute(hub: Hub, ctx: ExecutionContext, args: dict[str, Any]) -> ExecutionResult:
        state.calls.append({"args": args, "by": ctx.confirmer_id})
        ctx.audit("step", {"note": "refund sent"})
        return ExecutionResult(text=f"Reembolso de R$ {args['amount']} enviado.")

    spec = ActionSpec(
        kind="test.refund",
        min_role=Role.OPERATOR,
        validate=validate,
        describe=lambda hub, args: f"Reembolsar R$ {args['amount']}.",
        execute=execute,
        title="Confirmar reembolso",
    )
    monkeypatch.setitem(confirmations.ACTIONS, spec.kind, spec)

    def propose(ctx: CommandContext) -> None:
        ctx.propose("test.refund", {"amount": ctx.args[0] if ctx.args else ""})

    monkeypatch.setitem(
        registry.SUBCOMMANDS,
        "reembolso",
        Subcommand("reembolso", propose, "/hub reembolso <valor>", "Reembolso de teste"),
    )
    yield state


def _card(driver: Any) -> Any:
    cards = [m for m in driver.messages(CHANNEL) if m.blocks]
    assert len(cards) == 1, "expected exactly one confirmation card"
    return cards[0]


def test_confirm_once_executes_once_and_replaces_card(
    slack: SlackFactory, hub_with_roles: Hub, executions: Executions
) -> None:
    driver = slack(hub_with_roles)
    driver.command("reembolso 50", user=OPERATOR)
    card = _card(driver)
    buttons = card.blocks[-1]["elements"]
    assert buttons[0]["confirm"]["title"]["text"] == "Confirmar reembolso"
    assert buttons[0]["style"] == "danger"
    driver.click("Confirmar", user=OPERATOR)
    assert executions.calls == [{"args": {"amount": 50}, "by": OPERATOR}]
    updated = _card(driver)
    assert updated.ts == card.ts and updated.edited == 1
    assert updated.text == "Reembolso de R$ 50 enviado."
    assert not any(b["type"] == "actions" for b in updated.blocks)  # no more buttons
    events = [e.event for e in reversed(audit.recent(hub_with_roles))]
    assert events == ["requested", "confirmed", "step", "executed"]


def test_double_click_and_replay_execute_once(
    slack: SlackFactory, hub_with_roles: Hub, executions: Executions
) -> None:
    driver = slack(hub_with_roles)
    driver.command("reembolso 10", user=OPERATOR)
    # What the person's Slack client shows (the stored card changes once the first click runs).
    card = copy.deepcopy(_card(driver))
    first = driver.click("Confirmar", user=OPERATOR, message=card, wait=False)
    second = driver.click("Confirmar", user=OPERATOR, message=card, wait=False)
    assert first.status == second.status == 200
    driver.wait_idle()
    # Slack replays the same interaction payload (e.g. after a timeout).
    assert first.payload is not None
    driver.send(
        urlencode({"payload": json.dumps(first.payload)}), "application/x-www-form-urlencoded"
    )
    driver.wait_idle()
    assert len(executions.calls) == 1
    notes = [m.text for m in driver.ephemerals(OPERATOR)]
    assert any("já foi confirmada por" in n for n in notes)


def test_other_user_refused_and_admin_may_confirm(
    slack: SlackFactory, hub_with_roles: Hub, executions: Executions
) -> None:
    driver = slack(hub_with_roles)
    driver.command("reembolso 20", user=OPERATOR)
    driver.click("Confirmar", user=VIEWER)
    driver.click("Cancelar", user=VIEWER)
    assert executions.calls == []
    assert "Só <@U0OPER0001> (quem pediu) ou um administrador" in driver.ephemerals(VIEWER)[-1].text
    assert _card(driver).edited == 0
    driver.click("Confirmar", user=ADMIN)
    assert executions.calls == [{"args": {"amount": 20}, "by": ADMIN}]


def test_viewer_cannot_propose(
    slack: SlackFactory, hub_with_roles: Hub, executions: Executions
) -> None:
    driver = slack(hub_with_roles)
    driver.command("reembolso 20", user=VIEWER)
    assert "é preciso ser *operador*" in driver.ephemerals(VIEWER)[-1].text
    assert driver.messages(CHANNEL) == []


def test_bad_args_at_proposal_show_usage(
    slack: SlackFactory, hub_with_roles: Hub, executions: Executions
) -> None:
    driver = slack(hub_with_roles)
    driver.command("reembolso muito", user=OPERATOR)
    text = driver.ephemerals(OPERATOR)[-1].text
    assert text == "Informe o valor em reais, por exemplo `50`.\nUso: `/hub reembolso <valor>`"


def test_expired_is_refused(
    slack: SlackFactory, hub_with_roles: Hub, executions: Executions, fake_clock: FakeClock
) -> None:
    driver = slack(hub_with_roles)
    driver.command("reembolso 30", user=OPERATOR)
    fake_clock.advance(hub_with_roles.settings.hub_confirmation_ttl_seconds + 1)
    driver.click("Confirmar", user=OPERATOR)
    assert executions.calls == []
    assert "expirou" in _card(driver).text
    assert "expirou" in driver.ephemerals(OPERATOR)[-1].text


def test_args_revalidated_at_confirm_time(
    slack: SlackFactory, hub_with_roles: Hub, executions: Executions
) -> None:
    driver = slack(hub_with_roles)
    driver.command("reembolso 30", user=OPERATOR)
    executions.valid = False
    driver.click("Confirmar", user=OPERATOR)
    assert executions.calls == []
    assert "O pedido já foi cancelado por outra pessoa." in _card(driver).text


def test_cancel(slack: SlackFactory, hub_with_roles: Hub, executions: Executions) -> None:
    driver = slack(hub_with_roles)
    driver.command("reembolso 30", user=OPERATOR)
    driver.click("Cancelar", user=OPERATOR)
    card = driver.messages(CHANNEL)[-1]
    assert card.text.startswith("Cancelada por <@U0OPER0001>")
    assert not any(b["type"] == "actions" for b in card.blocks or [])
    assert executions.calls == []
    assert next(e.event for e in audit.recent(hub_with_roles)) == "cancelled"


def test_two_instances_sharing_the_db_execute_once(
    slack: SlackFactory,
    tmp_path: Path,
    sqlite_engine: Engine,
    fake_clock: FakeClock,
    executions: Executions,
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, hub_operators=[OPERATOR])
    hub_a = Hub.create(settings, engine=sqlite_engine, clock=fake_clock)
    hub_b = Hub.create(settings, engine=sqlite_engine, clock=fake_clock)
    a, b = slack(hub_a), slack(hub_b)
    a.command("reembolso 40", user=OPERATOR)
    card = copy.deepcopy(_card(a))
    for _ in range(3):
        a.click("Confirmar", user=OPERATOR, message=card, wait=False)
        b.click("Confirmar", user=OPERATOR, message=card, wait=False)
    a.wait_idle()
    b.wait_idle()
    assert len(executions.calls) == 1
    hub_a.close()
    hub_b.close()
