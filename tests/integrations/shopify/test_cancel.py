"""Cancel execution: re-read, cancel, poll the job, tag, audit; single-use; partial failures."""

from __future__ import annotations

from typing import Any

import pytest

from bot.hub import Hub
from bot.security.confirmations import ExecutionContext
from integrations.runtime.harness import SimulatorServer
from integrations.shopify import cancel
from integrations.shopify.service import duplicates_report
from integrations.shopify.simulator import ShopifySimulator
from tests.integrations.shopify.fixtures import BR

Sim = tuple[ShopifySimulator, SimulatorServer]


def ctx(audit: list[tuple[str, dict[str, Any]]], action_id: str = "A1") -> ExecutionContext:
    return ExecutionContext(
        action_id=action_id,
        requester_id="U_OP",
        confirmer_id="U_OP",
        channel_id="C1",
        thread_ts=None,
        audit=lambda event, detail: audit.append((event, detail)),
    )


def certain_args(hub: Hub) -> dict[str, Any]:
    report = duplicates_report(hub, "br", 30)
    orders = [
        {
            "id": d.id,
            "name": d.name,
            "kept_id": f.kept.id,
            "kept_name": f.kept.name,
            "confidence": f.confidence,
        }
        for f in report.certain
        for d in f.duplicates
    ]
    assert len(orders) >= 3
    return cancel.validate_args(hub, {"store": "br", "orders": orders})


def test_cancel_flow_cancels_polls_tags_and_audits(shopify_sim: Sim, shop_hub: Hub) -> None:
    sim, _server = shopify_sim
    args = certain_args(shop_hub)
    audit: list[tuple[str, dict[str, Any]]] = []
    result = cancel.execute(shop_hub, ctx(audit), args)
    assert result.ok, result.text
    shop = sim.shops[BR]
    for o in args["orders"]:
        record = shop.orders[o["id"]]
        assert record["cancelledAt"] is not None
        assert "chegou-hub-duplicado-cancelado" in record["tags"]
        assert o["kept_name"] in record["_staffNote"] and "U_OP" in record["_staffNote"]
        assert len(record["_staffNote"]) <= 255
        assert shop.orders[o["kept_id"]]["cancelledAt"] is None
    events = [e for e, _ in audit]
    for step in ("start", "reread", "requested", "job", "tagged"):
        assert events.count(f"shopify.cancel.{step}") == len(args["orders"])
    assert "cancelado(s)" in result.text


def test_running_twice_never_cancels_twice(shopify_sim: Sim, shop_hub: Hub) -> None:
    sim, _server = shopify_sim
    args = certain_args(shop_hub)
    cancel.execute(shop_hub, ctx([]), args)
    calls = len(sim.shops[BR].cancel_calls)
    again = cancel.execute(shop_hub, ctx([], action_id="A2"), args)
    assert len(sim.shops[BR].cancel_calls) == calls
    assert again.details["counts"] == {"skipped": len(args["orders"])}
    assert "já foi cancelado pelo hub" in again.text


def test_order_processed_between_preview_and_confirm_is_skipped(
    shopify_sim: Sim, shop_hub: Hub
) -> None:
    sim, _server = shopify_sim
    args = certain_args(shop_hub)
    first = args["orders"][0]
    sim.shops[BR].orders[first["id"]]["tags"].append("Order Sent to Dropi")
    result = cancel.execute(shop_hub, ctx([]), args)
    assert first["id"] not in sim.shops[BR].cancel_calls
    outcome = result.details["outcomes"][0]
    assert outcome["status"] == "skipped" and "processado" in outcome["detail"]
    assert result.details["counts"]["cancelled"] == len(args["orders"]) - 1


def test_partial_failure_is_reported_per_order_and_can_be_retried(
    shopify_sim: Sim, shop_hub: Hub
) -> None:
    sim, _server = shopify_sim
    args = certain_args(shop_hub)
    bad = args["orders"][1]
    sim.shops[BR].fail_cancel.add(bad["id"])
    result = cancel.execute(shop_hub, ctx([]), args)
    assert not result.ok
    statuses = {o["name"]: o["status"] for o in result.details["outcomes"]}
    assert statuses[bad["name"]] == "failed"
    assert list(statuses.values()).count("cancelled") == len(args["orders"]) - 1
    sim.shops[BR].fail_cancel.clear()
    retry = cancel.execute(shop_hub, ctx([], action_id="A3"), args)
    retried = {o["name"]: o["status"] for o in retry.details["outcomes"]}
    assert retried[bad["name"]] == "cancelled"
    assert sim.shops[BR].cancel_calls.count(bad["id"]) == 2  # failed once, then succeeded


def test_kept_order_cancelled_meanwhile_protects_the_duplicate(
    shopify_sim: Sim, shop_hub: Hub
) -> None:
    sim, _server = shopify_sim
    args = certain_args(shop_hub)
    first = args["orders"][0]
    sim.shops[BR].orders[first["kept_id"]]["cancelledAt"] = "2026-11-02T11:00:00Z"
    result = cancel.execute(shop_hub, ctx([]), args)
    assert result.details["outcomes"][0]["status"] == "skipped"
    assert first["id"] not in sim.shops[BR].cancel_calls


def test_dry_run_changes_nothing(shopify_sim: Sim, shop_hub: Hub) -> None:
    sim, _server = shopify_sim
    args = certain_args(shop_hub)
    args["dry_run"] = True
    result = cancel.execute(shop_hub, ctx([]), args)
    assert sim.shops[BR].cancel_calls == []
    assert result.details["counts"] == {"would_cancel": len(args["orders"])}
    assert "Nada foi alterado" in result.text
    assert "Simular" in cancel.describe(shop_hub, args)


def test_job_still_running_is_reported_pending(shopify_sim: Sim, shop_hub: Hub) -> None:
    sim, _server = shopify_sim
    sim.job_seconds = 10_000
    args = certain_args(shop_hub)
    args["orders"] = args["orders"][:1]
    result = cancel.execute(shop_hub, ctx([]), args)
    assert result.details["counts"] == {"pending": 1}
    again = cancel.execute(shop_hub, ctx([], action_id="A9"), args)
    assert again.details["counts"] == {"skipped": 1}  # in flight: never re-sent
    assert len(sim.shops[BR].cancel_calls) == 1


def test_validation(shop_hub: Hub) -> None:
    good = {"id": "gid://shopify/Order/1", "kept_id": "gid://shopify/Order/2"}
    with pytest.raises(cancel.CancelArgsError):
        cancel.validate_args(shop_hub, {"store": "nope", "orders": [good]})
    with pytest.raises(cancel.CancelArgsError):
        cancel.validate_args(shop_hub, {"store": "br", "orders": []})
    with pytest.raises(cancel.CancelArgsError):
        cancel.validate_args(shop_hub, {"store": "br", "orders": [{"id": "1", "kept_id": "2"}]})
    possible = {**good, "confidence": "possible"}
    other = {"id": "gid://shopify/Order/3", "kept_id": "gid://shopify/Order/2"}
    with pytest.raises(cancel.CancelArgsError, match="um por vez"):
        cancel.validate_args(shop_hub, {"store": "br", "orders": [possible, other]})
    one = cancel.validate_args(shop_hub, {"store": "BR", "orders": [possible, possible]})
    assert one["store"] == "br" and len(one["orders"]) == 1
    assert len(cancel.staff_note("#1" * 200, "gid", "U1")) == 255
