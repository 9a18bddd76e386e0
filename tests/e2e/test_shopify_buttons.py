# ruff: noqa: F811  (pytest fixtures imported from tests.integrations.shopify.fixtures)
"""Buttons in the Shopify reports, clicked through the real Slack app and both simulators.

"Cancelar #…" under each duplicate → confirmation card in the thread → confirm → that one
order cancelled once, and its button in the findings message becomes "cancelado por @…"; a
second click while the card waits points to that card instead of posting another.
Permitir/Observar/Resolver under each suspicious IP → the list changes, the report message is
updated, and the next report leaves resolved IPs out.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.hub import Hub
from bot.sandbox.slack_sim import SimMessage
from bot.security import audit
from handlers import shopify as view
from integrations.runtime.harness import Fault
from integrations.shopify.duplicates import DuplicateReport, Finding, OrderRef
from integrations.shopify.ips import IpEntry, IpReport
from integrations.shopify.orders import Order
from integrations.shopify.service import duplicates_report, ip_lists
from tests.e2e.fixtures import ADMIN, OPERATOR, VIEWER, SlackFactory
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
CARD_TITLE = "Cancelar pedidos duplicados"


def report_message(driver: Any, prefix: str) -> SimMessage:
    found = [m for m in driver.messages(CHANNEL) if m.text.startswith(prefix)]
    assert found, f"no message starting with {prefix!r}"
    return found[-1]


def buttons(message: SimMessage) -> list[tuple[str, dict[str, Any]]]:
    """(block_id, button) for every button of the message."""
    return [
        (str(b.get("block_id", "")), e)
        for b in message.blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def cancel_buttons(message: SimMessage) -> list[dict[str, Any]]:
    return [e for _, e in buttons(message) if e["action_id"].startswith("shopify.dup.cancel.")]


def cards(driver: Any) -> list[SimMessage]:
    return titled_cards(driver, CARD_TITLE)


def test_cancel_button_per_duplicate_confirms_and_cancels_once(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    stale_findings = copy.deepcopy(findings)  # as a client that has not refreshed shows it
    per_order = cancel_buttons(findings)
    values = [json.loads(b["value"]) for b in per_order]
    # One button per duplicate order, certain and possible alike, labelled with its name.
    assert {v["confidence"] for v in values} == {"certain", "possible"}
    assert all(
        b["text"]["text"] == f"Cancelar {v['name']}" for b, v in zip(per_order, values, strict=True)
    )
    assert len({b["action_id"] for b in per_order}) == len(per_order)
    certain = next(
        b for b, v in zip(per_order, values, strict=True) if v["confidence"] == "certain"
    )
    target = json.loads(certain["value"])
    bulk_cards = len(cards(driver))  # the "cancel all certain ones" card is still posted
    assert bulk_cards == 1

    driver.click(certain["action_id"], user=OPERATOR, message=findings)
    card = cards(driver)[-1]
    assert len(cards(driver)) == bulk_cards + 1
    assert card.thread_ts == findings.ts  # the card goes in the report's thread
    preview = card.blocks[1]["text"]["text"]
    assert "Cancelar 1 pedido(s) duplicado(s)" in preview
    assert f"• {target['name']} — duplicado de {target['kept_name']}" in preview

    # Double click on Confirm (the same stale card twice): one cancel call.
    stale = copy.deepcopy(card)
    driver.click("Cancelar pedidos", user=OPERATOR, message=stale, wait=False)
    driver.click("Cancelar pedidos", user=OPERATOR, message=stale, wait=False)
    driver.wait_idle()
    assert sim.shops[BR].cancel_calls == [target["id"]]
    order = next(o for o in sim.shops[BR].orders.values() if o["id"] == target["id"])
    assert order["cancelledAt"] is not None
    result = next(m for m in driver.messages(CHANNEL) if m.ts == card.ts)
    assert "1 cancelado(s)" in result.text
    assert any("já foi confirmada por" in m.text for m in driver.ephemerals(OPERATOR))

    # The findings message no longer offers that order's button.
    updated = next(m for m in driver.messages(CHANNEL) if m.ts == findings.ts)
    assert target["id"] not in [json.loads(b["value"])["id"] for b in cancel_buttons(updated)]
    assert f"{target['name']} cancelado por <@{OPERATOR}>" in str(updated.blocks)

    # The same button clicked again later (a stale copy of the message): a new card, since the
    # first is no longer waiting, but the ledger never cancels twice.
    driver.click(certain["action_id"], user=OPERATOR, message=stale_findings)
    again = cards(driver)[-1]
    assert again.ts != card.ts
    driver.click("Cancelar pedidos", user=OPERATOR, message=again)
    after = next(m for m in driver.messages(CHANNEL) if m.ts == again.ts).text
    assert "já foi cancelado pelo hub antes" in after
    assert sim.shops[BR].cancel_calls == [target["id"]]


def test_possible_duplicate_cancelled_alone_by_its_button(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    possible = next(
        b for b in cancel_buttons(findings) if json.loads(b["value"])["confidence"] == "possible"
    )
    driver.click(possible["action_id"], user=OPERATOR, message=findings)
    card = cards(driver)[-1]
    assert "(possível)" in card.blocks[1]["text"]["text"]
    driver.click("Cancelar pedidos", user=OPERATOR, message=card)
    assert sim.shops[BR].cancel_calls == [json.loads(possible["value"])["id"]]
    # ... and never in bulk: the bulk card only carries certain ones.
    bulk = cards(driver)[0]
    assert "(possível)" not in bulk.blocks[1]["text"]["text"]


def test_viewer_clicking_cancel_is_refused_in_pt_br(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    before = len(cards(driver))
    driver.click(cancel_buttons(findings)[0]["action_id"], user=VIEWER, message=findings)
    assert len(cards(driver)) == before
    refusal = driver.ephemerals(VIEWER)[-1].text
    assert "não tem permissão" in refusal and "*operador*" in refusal
    assert sim.shops[BR].cancel_calls == []
    refused = [e for e in audit.recent(ops_hub, limit=50) if e.event == "refused"]
    assert refused and refused[0].actor_id == VIEWER


def order_cards(driver: Any, name: str) -> list[SimMessage]:
    """Cancel cards (per-order or bulk) whose preview lists order `name`."""
    return [c for c in cards(driver) if f"• {name} — " in c.blocks[1]["text"]["text"]]


def certain_buttons(message: SimMessage) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(button, its value) for every certain duplicate's "Cancelar #…" button."""
    pairs = [(b, json.loads(b["value"])) for b in cancel_buttons(message)]
    return [(b, v) for b, v in pairs if v["confidence"] == "certain"]


def current(driver: Any, message: SimMessage) -> SimMessage:
    return next(m for m in driver.messages(CHANNEL) if m.ts == message.ts)


def button_ids(message: SimMessage) -> list[str]:
    return [json.loads(b["value"])["id"] for b in cancel_buttons(message)]


def done_lines(message: SimMessage) -> list[str]:
    return [
        e["text"]
        for b in message.blocks or []
        if b["type"] == "context" and str(b.get("block_id", "")).endswith(".done")
        for e in b["elements"]
    ]


def test_second_click_on_an_order_points_to_its_waiting_card(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    (button, target), (other, _) = certain_buttons(findings)[:2]
    driver.click(button["action_id"], user=OPERATOR, message=findings)
    [card] = [c for c in order_cards(driver, target["name"]) if c.thread_ts == findings.ts]
    total = len(cards(driver))

    # The same person again (a double click): no second card, a pointer to the first one.
    driver.click(button["action_id"], user=OPERATOR, message=findings)
    assert len(cards(driver)) == total
    notice = driver.ephemerals(OPERATOR)[-1].text
    link = (
        f"https://chegou.slack.com/archives/{CHANNEL}/p{card.ts.replace('.', '')}"
        f"?thread_ts={findings.ts}&cid={CHANNEL}"
    )
    assert notice.startswith(f"Você já pediu o cancelamento de {target['name']} às ")
    assert "não criei outro" in notice and f"<{link}|Abrir o cartão>" in notice

    # A colleague clicking the same button is told who asked, and who may confirm.
    driver.click(button["action_id"], user=ADMIN, message=findings)
    assert len(cards(driver)) == total
    notice = driver.ephemerals(ADMIN)[-1].text
    assert notice.startswith(f"<@{OPERATOR}> já pediu o cancelamento de {target['name']}")
    assert "Só quem pediu ou um administrador pode confirmá-lo." in notice

    # Without a permalink (Slack would not give one) the notice points to the thread.
    assert driver.sim.http is not None
    driver.sim.http.faults.add(
        "/api/chat.getPermalink",
        Fault(status=500, body={"ok": False, "error": "internal_error"}),
        times=1,
    )
    driver.click(button["action_id"], user=OPERATOR, message=findings)
    notice = driver.ephemerals(OPERATOR)[-1].text
    assert notice.endswith("Ele está no fio desta mensagem.") and "https://" not in notice

    # Another order of the same message still gets its own card; nothing was cancelled.
    driver.click(other["action_id"], user=OPERATOR, message=findings)
    assert len(cards(driver)) == total + 1
    assert sim.shops[BR].cancel_calls == []
    per_order = [
        e
        for e in audit.recent(ops_hub, limit=100)
        if e.event == "requested" and len(e.detail["args"].get("orders", [])) == 1
    ]
    assert len(per_order) == 2  # the refused clicks requested nothing

    # Confirming the waiting card works as before, and frees the order for a new card.
    driver.click("Cancelar pedidos", user=OPERATOR, message=card)
    assert sim.shops[BR].cancel_calls == [target["id"]]


def test_two_instances_clicking_the_same_order_post_one_card(
    slack: SlackFactory, make_shop_hub: Callable[..., Hub], shopify_sim: Sim
) -> None:
    hub_a = make_shop_hub(hub_operators=[OPERATOR, ADMIN])
    hub_b = make_shop_hub(hub_operators=[OPERATOR, ADMIN])
    a, b = slack(hub_a), slack(hub_b)
    a.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(a, "Loja Chegou Brasil")
    (button, target), *_ = certain_buttons(findings)
    before = len(cards(a))
    a.click(button["action_id"], user=OPERATOR, message=findings, wait=False)
    b.click(button["action_id"], user=ADMIN, message=findings, wait=False)
    a.wait_idle()
    b.wait_idle()
    assert len(cards(a)) == before + 1
    notices = [m.text for m in a.ephemerals() if f"o cancelamento de {target['name']}" in m.text]
    assert len(notices) == 1 and "não criei outro" in notices[0]


def test_an_expired_card_does_not_block_a_new_one(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim, fake_clock: FakeClock
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    (button, target), *_ = certain_buttons(findings)
    driver.click(button["action_id"], user=OPERATOR, message=findings)
    [old] = [c for c in order_cards(driver, target["name"]) if c.thread_ts == findings.ts]
    fake_clock.advance(ops_hub.settings.hub_confirmation_ttl_seconds + 1)
    driver.click(button["action_id"], user=OPERATOR, message=findings)
    fresh = [c for c in order_cards(driver, target["name"]) if c.thread_ts == findings.ts]
    assert [c.ts for c in fresh][:1] == [old.ts] and len(fresh) == 2
    driver.click("Cancelar pedidos", user=OPERATOR, message=old)
    assert "expirou" in driver.ephemerals(OPERATOR)[-1].text
    assert sim.shops[BR].cancel_calls == []
    driver.click("Cancelar pedidos", user=OPERATOR, message=fresh[1])
    assert sim.shops[BR].cancel_calls == [target["id"]]


def test_cancels_update_the_findings_message(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    """Per-order card, then the bulk card: each cancelled order's button becomes a line."""
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    certain = certain_buttons(findings)
    possible = [json.loads(b["value"])["id"] for b in cancel_buttons(findings)]
    possible = [i for i in possible if i not in {v["id"] for _, v in certain}]
    (button, first), *rest = certain
    driver.click(button["action_id"], user=OPERATOR, message=findings)
    card = cards(driver)[-1]
    driver.click("Cancelar pedidos", user=ADMIN, message=card)  # an admin confirms
    updated = current(driver, findings)
    assert updated.edited == 1
    assert first["id"] not in button_ids(updated)
    assert done_lines(updated) == [f":white_check_mark: {first['name']} cancelado por <@{ADMIN}>"]
    assert set(button_ids(updated)) == {v["id"] for _, v in rest} | set(possible)

    # The bulk card (posted with the report) cancels the other certain ones: their buttons go
    # too, the first line stays once, the possible duplicate keeps its button.
    bulk = cards(driver)[0]
    driver.click("Cancelar pedidos", user=OPERATOR, message=bulk)
    assert "já foi cancelado pelo hub antes" in current(driver, bulk).text
    updated = current(driver, findings)
    assert button_ids(updated) == possible
    lines = done_lines(updated)
    assert sorted(lines) == sorted(
        [f":white_check_mark: {first['name']} cancelado por <@{ADMIN}>"]
        + [f":white_check_mark: {v['name']} cancelado por <@{OPERATOR}>" for _, v in rest]
    )
    assert len(updated.blocks or []) <= 50
    assert sorted(sim.shops[BR].cancel_calls) == sorted(v["id"] for _, v in certain)


def test_skipped_and_failed_orders_keep_their_buttons(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    certain = [v for _, v in certain_buttons(findings)]
    processed, failing, *cancelled = certain
    by_id = {o["id"]: o for o in sim.shops[BR].orders.values()}
    by_id[processed["id"]]["tags"].append("Prime COD")  # picked up by the fulfilment app
    sim.shops[BR].fail_cancel.add(failing["id"])
    driver.click("Cancelar pedidos", user=OPERATOR, message=cards(driver)[0])
    updated = current(driver, findings)
    assert processed["id"] in button_ids(updated) and failing["id"] in button_ids(updated)
    assert not {v["id"] for v in cancelled} & set(button_ids(updated))
    assert sorted(done_lines(updated)) == sorted(
        f":white_check_mark: {v['name']} cancelado por <@{OPERATOR}>" for v in cancelled
    )

    # The failed one retried later by someone else: the line names who confirmed the retry.
    sim.shops[BR].fail_cancel.discard(failing["id"])
    retry = next(
        b for b in cancel_buttons(updated) if json.loads(b["value"])["id"] == failing["id"]
    )
    driver.click(retry["action_id"], user=ADMIN, message=updated)
    driver.click("Cancelar pedidos", user=ADMIN, message=cards(driver)[-1])
    assert f":white_check_mark: {failing['name']} cancelado por <@{ADMIN}>" in done_lines(
        current(driver, findings)
    )
    assert processed["id"] in button_ids(current(driver, findings))


def test_a_findings_message_that_is_gone_never_fails_the_cancel(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim, caplog: pytest.LogCaptureFixture
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    (button, target), *_ = certain_buttons(findings)
    driver.click(button["action_id"], user=OPERATOR, message=findings)
    card = cards(driver)[-1]
    findings.deleted = True  # someone deleted the report meanwhile
    with caplog.at_level(logging.INFO, logger="handlers.shopify"):
        driver.click("Cancelar pedidos", user=OPERATOR, message=card)
    assert "1 cancelado(s)" in current(driver, card).text
    assert sim.shops[BR].cancel_calls == [target["id"]]
    assert not [m for m in driver.ephemerals(OPERATOR) if "REF-" in m.text]
    [failed_update] = [c for c in driver.calls("chat.update") if c.args.get("ts") == findings.ts]
    assert failed_update.error == "message_not_found"
    [record] = [r for r in caplog.records if "findings message not updated" in r.getMessage()]
    assert "message_not_found" in record.getMessage() and record.levelno == logging.WARNING


def test_an_ephemeral_findings_message_gets_a_card_and_is_left_alone(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    sim, _ = shopify_sim
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    ephemeral = driver.sim.record_ephemeral(
        CHANNEL, OPERATOR, findings.text, copy.deepcopy(findings.blocks), source="api"
    )
    (button, target), *_ = certain_buttons(ephemeral)
    driver.click(button["action_id"], user=OPERATOR, message=ephemeral)
    card = cards(driver)[-1]
    assert card.thread_ts is None
    updates = len(driver.calls("chat.update"))
    driver.click("Cancelar pedidos", user=OPERATOR, message=card)
    assert sim.shops[BR].cancel_calls == [target["id"]]
    assert [c.args["ts"] for c in driver.calls("chat.update")[updates:]] == [card.ts]


def _ip_button(message: SimMessage, ip: str, label: str) -> dict[str, Any]:
    section = next(
        b for b in message.blocks or [] if b["type"] == "section" and f"`{ip}`" in str(b)
    )
    return next(
        e
        for block_id, e in buttons(message)
        if block_id == f"{section['block_id']}.actions" and e["text"]["text"] == label
    )


def test_ip_buttons_move_between_lists_and_update_the_report(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    driver = slack(ops_hub)
    driver.command("ip br 30", user=OPERATOR, channel=CHANNEL)
    report = report_message(driver, "Loja Chegou Brasil")
    ts = report.ts
    resolve = _ip_button(report, "187.45.210.77", "Resolver")
    driver.click(resolve["action_id"], user=OPERATOR, message=report)
    assert ip_lists(ops_hub, "br")["resolved"] == {"187.45.210.77"}
    assert "na lista de resolvidos" in driver.ephemerals(OPERATOR)[-1].text
    updated = next(m for m in driver.messages(CHANNEL) if m.ts == ts)
    assert updated.edited == 1
    assert not any("187.45.210.77" in str(e["value"]) for _, e in buttons(updated))
    assert "movido para resolvidos por <@U0OPER0001>" in str(updated.blocks)

    watch = _ip_button(updated, "2804:14c:65:8001::a", "Observar")
    driver.click(watch["action_id"], user=OPERATOR, message=updated)
    assert ip_lists(ops_hub, "br")["watch"] == {"2804:14c:65:8001::a"}
    updated = next(m for m in driver.messages(CHANNEL) if m.ts == ts)
    assert ":eyes: em observação" in str(updated.blocks)
    assert _ip_button(updated, "2804:14c:65:8001::a", "Tirar da observação")

    # A fresh report leaves the resolved IP out and marks the watched one.
    driver.command("ip br 30", user=OPERATOR, channel=CHANNEL)
    fresh = driver.messages(CHANNEL)[-1]
    assert fresh.ts != ts
    assert "187.45.210.77" not in str(fresh.blocks)
    assert ":eyes: em observação" in str(fresh.blocks)
    moves = [e for e in audit.recent(ops_hub, limit=50) if e.kind == view.IP_LIST_KIND]
    assert [(e.event, e.detail["list"], e.detail["via"]) for e in reversed(moves)] == [
        ("executed", "resolved", "button"),
        ("executed", "watch", "button"),
    ]

    # Un-watch from the updated message: back off every list, the button is "Observar" again.
    unwatch = _ip_button(fresh, "2804:14c:65:8001::a", "Tirar da observação")
    driver.click(unwatch["action_id"], user=OPERATOR, message=fresh)
    assert ip_lists(ops_hub, "br")["watch"] == set()
    fresh = next(m for m in driver.messages(CHANNEL) if m.ts == fresh.ts)
    assert ":eyes:" not in str(fresh.blocks)
    assert _ip_button(fresh, "2804:14c:65:8001::a", "Observar")


def test_viewer_ip_button_refused(slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim) -> None:
    driver = slack(ops_hub)
    driver.command("ip br 30", user=VIEWER, channel=CHANNEL)
    report = report_message(driver, "Loja Chegou Brasil")
    allow = _ip_button(report, "187.45.210.77", "Permitir")
    driver.click(allow["action_id"], user=VIEWER, message=report)
    assert "é para operadores do hub" in driver.ephemerals(VIEWER)[-1].text
    assert ip_lists(ops_hub, "br") == {"allow": set(), "watch": set(), "resolved": set()}
    assert next(m for m in driver.messages(CHANNEL) if m.ts == report.ts).edited == 0
    refused = audit.recent(ops_hub, limit=5, kind=view.IP_LIST_KIND)
    assert refused[0].event == "refused" and refused[0].actor_id == VIEWER


def test_text_subcommand_moves_are_audited(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim
) -> None:
    driver = slack(ops_hub)
    driver.command("ip permitir br 10.0.0.1", user=OPERATOR, channel=CHANNEL)
    entry = audit.recent(ops_hub, limit=1, kind=view.IP_LIST_KIND)[0]
    assert (entry.event, entry.actor_id, entry.detail) == (
        "executed",
        OPERATOR,
        {"store": "br", "ip": "10.0.0.1", "list": "allow", "via": "command"},
    )


def test_long_duplicate_list_fits_slack_limits_and_comes_as_csv(
    slack: SlackFactory, ops_hub: Hub, shopify_sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view, "MAX_FINDINGS_SHOWN", 1)
    driver = slack(ops_hub)
    driver.command("duplicados br", user=OPERATOR, channel=CHANNEL)
    findings = report_message(driver, "Loja Chegou Brasil")
    assert "Lista completa no CSV" in str(findings.blocks)
    upload = driver.uploads()[-1]
    assert upload.filename == "duplicados-br-30d.csv"
    rows = (upload.content or b"").decode().splitlines()
    assert rows[0].startswith("confianca,criterio,telefone")
    expected = duplicates_report(ops_hub, "br").findings
    assert len(expected) > 1
    assert len(rows) - 1 == sum(len(f.duplicates) for f in expected)
    assert {r.split(",")[0] for r in rows[1:]} == {"certo", "possivel"}


def _order(n: int, when: datetime) -> OrderRef:
    return OrderRef(f"gid://shopify/Order/{n}", f"#{n}", when, False, 1.0)


def test_views_never_exceed_block_kit_limits(ops_hub: Hub) -> None:
    when = datetime(2026, 11, 1, tzinfo=UTC)
    findings = [
        Finding(
            phone="+5511999990000",
            sku=f"SKU-{i}",
            title="Produto " + "x" * 200,
            match="sku",
            confidence="certain" if i % 2 else "possible",
            kept=_order(100_000 + i, when),
            duplicates=tuple(_order(200_000 + i * 100 + j, when) for j in range(30)),
        )
        for i in range(40)
    ]
    report = DuplicateReport("br", 30, when, findings, orders_scanned=5000)
    _, blocks = view.duplicates_blocks(ops_hub, report)
    assert len(blocks) <= 50
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == view.MAX_FINDINGS_SHOWN
    assert all(len(b["elements"]) <= 25 for b in actions)
    ids = [e["action_id"] for b in actions for e in b["elements"]]
    assert len(ids) == len(set(ids))
    assert all(len(e["value"]) <= 2000 for b in actions for e in b["elements"])

    orders = [
        Order(
            id=f"gid://shopify/Order/{i}",
            name=f"#{i}",
            created_at=when,
            currency="BRL",
            total=Decimal("10"),
            customer_id=f"c{i}",
        )
        for i in range(2)
    ]
    entries = [IpEntry(f"10.0.0.{i}", orders=orders, customers={"a", "b"}) for i in range(60)]
    ip_report = IpReport("br", 30, 2, when, entries)
    _, blocks = view.ips_blocks(ops_hub, ip_report)
    assert len(blocks) <= 50
    assert sum(1 for b in blocks if b["type"] == "actions") == view.MAX_IPS_SHOWN
