# ruff: noqa: F811  (pytest fixtures imported from tests.integrations.shopify.fixtures)
"""`/hub duplicados` and `/hub ip` end to end through the real Slack app and both simulators."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.hub import Hub
from bot.security import audit
from integrations.shopify.simulator import ShopifySimulator
from tests.e2e.fixtures import OPERATOR, VIEWER, SlackFactory
from tests.integrations.shopify.fixtures import (  # noqa: F401 (pytest fixtures)
    BR,
    SHOPIFY_CHANNEL,
    Sim,
    make_shop_hub,
    ops_hub,
    shop_hub,
    shopify_sim,
    titled_cards,
)

CHANNEL = SHOPIFY_CHANNEL


def card(driver: Any, title: str) -> Any:
    cards = titled_cards(driver, title)
    assert cards, f"no card {title!r}"
    return cards[-1]


def pending_ids(sim: ShopifySimulator) -> list[str]:
    """Orders the hub flagged as certain duplicates and proposed for cancellation."""
    return [o["id"] for o in sim.shops[BR].orders.values() if o.get("cancelledAt") is None]


def test_findings_cards_and_confirmed_cancel(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim, fake_clock: FakeClock
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = [m for m in driver.messages(CHANNEL) if m.text.startswith("Loja Chegou Brasil")]
    assert len(findings) == 1
    text = str(findings[0].blocks)
    assert "mesmo SKU" in text and "9 últimos dígitos" in text and "Mantido" in text
    cancel_card = card(driver, "Cancelar pedidos duplicados")
    assert card(driver, "Simular cancelamento")
    preview = cancel_card.blocks[1]["text"]["text"]
    assert "irreversível" in preview
    fake_clock.slept.clear()
    driver.click("Cancelar pedidos", user=OPERATOR, message=cancel_card)
    result = next(m for m in driver.messages(CHANNEL) if m.ts == cancel_card.ts)
    assert "cancelado(s)" in result.text and "0 com falha" in result.text
    cancelled = [o for o in sim.shops[BR].orders.values() if o["id"] in sim.shops[BR].cancel_calls]
    assert len(cancelled) == 4  # the certain duplicates of the seeded store
    assert all(
        o["cancelledAt"] and "chegou-hub-duplicado-cancelado" in o["tags"] for o in cancelled
    )
    assert any(abs(s - 1.0) < 1e-9 for s in fake_clock.slept)  # polled the job on the clock
    events = [e.event for e in audit.recent(ops_hub, limit=200)]
    assert "shopify.cancel.job" in events and "executed" in events


def test_double_click_and_two_instances_cancel_once(
    slack: SlackFactory, make_shop_hub: Callable[..., Hub], shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    hub_a = make_shop_hub(hub_operators=[OPERATOR])
    hub_b = make_shop_hub(hub_operators=[OPERATOR])
    a, b = slack(hub_a), slack(hub_b)
    a.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    stale = copy.deepcopy(card(a, "Cancelar pedidos duplicados"))
    for _ in range(2):
        a.click("Cancelar pedidos", user=OPERATOR, message=stale, wait=False)
        b.click("Cancelar pedidos", user=OPERATOR, message=stale, wait=False)
    a.wait_idle()
    b.wait_idle()
    calls = sim.shops[BR].cancel_calls
    assert len(calls) == len(set(calls)) == 4
    # Asking again and confirming a fresh card never cancels twice either (the ledger).
    before = len(a.messages(CHANNEL))
    a.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    new = a.messages(CHANNEL)[before:]
    assert new and "0 pedido(s) duplicado(s) certo(s)" in new[0].text
    assert not [m for m in new if "'Cancelar pedidos'" in str(m.blocks)]
    assert len(sim.shops[BR].cancel_calls) == 4


def test_order_processed_between_preview_and_confirm_and_partial_failure(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    cancel_card = card(driver, "Cancelar pedidos duplicados")
    names = [
        line.split(" — ")[0].lstrip("• ")
        for line in cancel_card.blocks[1]["text"]["text"].splitlines()
        if line.startswith("• ")
    ]
    by_name = {o["name"]: o for o in sim.shops[BR].orders.values()}
    processed, failing = by_name[names[0]], by_name[names[1]]
    processed["tags"].append("Prime COD")  # the fulfilment app picked it up meanwhile
    sim.shops[BR].fail_cancel.add(failing["id"])
    driver.click("Cancelar pedidos", user=OPERATOR, message=cancel_card)
    result = next(m for m in driver.messages(CHANNEL) if m.ts == cancel_card.ts).text
    assert f"{names[0]}: foi processado depois da prévia" in result
    assert f":x: {names[1]}:" in result
    assert "2 cancelado(s), 1 pulado(s), 1 com falha" in result
    assert processed["cancelledAt"] is None and processed["id"] not in sim.shops[BR].cancel_calls
    assert failing["cancelledAt"] is None


def test_viewer_gets_simulation_only(slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=VIEWER, channel=CHANNEL)
    assert any("peça a um operador" in m.text for m in driver.ephemerals(VIEWER))
    assert not [m for m in driver.messages(CHANNEL) if "Cancelar pedidos" in str(m.blocks)]
    driver.click("Simular", user=VIEWER, message=card(driver, "Simular cancelamento"))
    result = driver.messages(CHANNEL)[-1].text
    assert "seriam cancelados" in result and "Nada foi alterado" in result
    assert sim.shops[BR].cancel_calls == []


def test_cancel_one_possible_duplicate_by_name(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = next(m for m in driver.messages(CHANNEL) if m.text.startswith("Loja"))
    hint = next(b for b in findings.blocks if "possível" in str(b) and "cancelar" in str(b))
    command = str(hint).split("`/hub ")[1].split("`")[0]
    driver.command(command, user=OPERATOR, channel=CHANNEL)
    one = card(driver, "Cancelar pedidos duplicados")
    assert "(possível)" in one.blocks[1]["text"]["text"]
    driver.click("Cancelar pedidos", user=OPERATOR, message=one)
    assert len(sim.shops[BR].cancel_calls) == 1
    driver.command("duplicados cancelar br #99999", user=OPERATOR, channel=CHANNEL)
    assert "Não encontrei #99999" in driver.ephemerals(OPERATOR)[-1].text


def test_ip_report_lists_and_csv(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = slack(ops_hub)
    driver.command("ip br 30", user=VIEWER, channel=CHANNEL)
    report = driver.messages(CHANNEL)[-1]
    text = str(report.blocks)
    assert "187.45.210.77" in text and "2804:14c:65:8001::a" in text
    assert "atributo IP address" in text and "201.17.33.9" not in text
    assert "5 pedidos (4 ativos, 1 cancelados)" in text
    driver.command("ip resolver br 187.45.210.77", user=VIEWER, channel=CHANNEL)
    assert "para operadores" in driver.ephemerals(VIEWER)[-1].text
    driver.command("ip resolver br 187.45.210.77", user=OPERATOR, channel=CHANNEL)
    driver.command("ip observar br 2804:14C:65:8001:0:0:0:A", user=OPERATOR, channel=CHANNEL)
    assert "`2804:14c:65:8001::a` agora está em observação" in (
        driver.ephemerals(OPERATOR)[-1].text
    )
    driver.command("ip br", user=OPERATOR, channel=CHANNEL)
    text = str(driver.messages(CHANNEL)[-1].blocks)
    assert "187.45.210.77" not in text and ":eyes: em observação" in text
    driver.command("ip listas br", user=VIEWER, channel=CHANNEL)
    assert "Resolvidos: `187.45.210.77`" in driver.ephemerals(VIEWER)[-1].text
    import handlers.shopify as view

    monkeypatch.setattr(view, "MAX_IPS_SHOWN", 0)
    driver.command("ip br 30", user=VIEWER, channel=CHANNEL)
    uploads = driver.uploads()
    assert uploads and uploads[-1].filename.endswith(".csv")
    assert b"2804:14c:65:8001::a" in (uploads[-1].content or b"")


def test_bad_arguments_and_shopify_errors_are_pt_br(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("ip br 400", user=VIEWER, channel=CHANNEL)
    assert "O período vai de 1 a 365" in driver.ephemerals(VIEWER)[-1].text
    driver.command("ip observar todas 1.2.3.4", user=OPERATOR, channel=CHANNEL)
    assert "não vale `todas` aqui" in driver.ephemerals(OPERATOR)[-1].text
    driver.command("ip observar br 999.1.1.1", user=OPERATOR, channel=CHANNEL)
    assert "não é um endereço IP válido" in driver.ephemerals(OPERATOR)[-1].text
    driver.command("duplicados marte", user=VIEWER, channel=CHANNEL)
    assert "Loja `marte` não encontrada" in driver.ephemerals(VIEWER)[-1].text
    sim.shops[BR].access_tokens.clear()
    driver.command("duplicados br", user=VIEWER, channel=CHANNEL)
    text = driver.ephemerals(VIEWER)[-1].text
    assert "recusou as credenciais" in text and "Traceback" not in text
