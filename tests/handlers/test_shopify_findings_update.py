"""The findings message after a cancel: buttons of cancelled orders become context lines.

`findings_after_cancel` is a pure rewrite of the blocks; `update_findings_after_cancel` reads
the ledger, sends chat.update and re-reads the ledger so a cancel finishing at the same time
(another card, another instance) is never dropped by a late write.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.db import session_scope
from bot.hub import Hub
from bot.security.confirmations import Executed, ExecutionResult, Origin
from handlers import shopify as view
from integrations.shopify.duplicates import DuplicateReport, Finding, OrderRef
from integrations.shopify.models import ShopifyCancellation

WHEN = datetime(2026, 11, 1, tzinfo=UTC)


def _order(n: int) -> OrderRef:
    return OrderRef(f"gid://shopify/Order/{n}", f"#{n}", WHEN, False, 1.0)


def _report(findings: int, per_finding: int) -> DuplicateReport:
    return DuplicateReport(
        "br",
        30,
        WHEN,
        [
            Finding(
                phone="+5511999990000",
                sku=f"SKU-{i}",
                title="Produto",
                match="sku",
                confidence="certain",
                kept=_order(100_000 + i),
                duplicates=tuple(_order(200_000 + i * 100 + j) for j in range(per_finding)),
            )
            for i in range(findings)
        ],
        orders_scanned=500,
    )


def _lines(blocks: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {
        b["block_id"]: [e["text"] for e in b["elements"]]
        for b in blocks
        if b["type"] == "context" and str(b.get("block_id", "")).endswith(".done")
    }


def test_cancelled_buttons_become_lines_and_a_second_pass_changes_nothing(hub: Hub) -> None:
    _, blocks = view.duplicates_blocks(hub, _report(2, 3))
    first = {"gid://shopify/Order/200000": "U1", "gid://shopify/Order/200002": None}
    once = view.findings_after_cancel(blocks, first)
    assert view.button_order_ids(once) == [
        "gid://shopify/Order/200001",
        "gid://shopify/Order/200100",
        "gid://shopify/Order/200101",
        "gid://shopify/Order/200102",
    ]
    assert _lines(once) == {
        "shopify.dup.0.done": [
            ":white_check_mark: #200000 cancelado por <@U1>",
            ":white_check_mark: #200002 cancelado pelo Chegou Hub",
        ]
    }
    ids = [b.get("block_id") for b in once]
    assert ids.index("shopify.dup.0.done") == ids.index("shopify.dup.0") + 1
    assert view.findings_after_cancel(once, first) == once
    assert blocks == view.duplicates_blocks(hub, _report(2, 3))[1]  # the input is not mutated

    # A later cancel merges into the same line block (in order-number order); starting from the
    # original blocks gives the very same message.
    more = {**first, "gid://shopify/Order/200001": "U2", "gid://shopify/Order/200100": "U2"}
    twice = view.findings_after_cancel(once, more)
    assert twice == view.findings_after_cancel(blocks, more)
    assert "shopify.dup.0" not in [b.get("block_id") for b in twice]  # no button left there
    assert _lines(twice) == {
        "shopify.dup.0.done": [
            ":white_check_mark: #200000 cancelado por <@U1>",
            ":white_check_mark: #200001 cancelado por <@U2>",
            ":white_check_mark: #200002 cancelado pelo Chegou Hub",
        ],
        "shopify.dup.1.done": [":white_check_mark: #200100 cancelado por <@U2>"],
    }
    assert view.findings_after_cancel(blocks, {}) is blocks


def test_a_fully_cancelled_largest_report_stays_within_block_kit_limits(hub: Hub) -> None:
    _, blocks = view.duplicates_blocks(hub, _report(40, 30))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "job note"}]})
    everything = dict.fromkeys(view.button_order_ids(blocks), "U1")
    partly = {k: v for i, (k, v) in enumerate(everything.items()) if i % 5 != 4}
    for cancelled in (partly, everything):
        out = view.findings_after_cancel(blocks, cancelled)
        assert len(out) <= 50
        assert all(len(b["elements"]) <= 10 for b in out if b["type"] == "context")
        assert len({b.get("block_id") for b in out if b.get("block_id")}) == len(
            [b for b in out if b.get("block_id")]
        )
    assert view.button_order_ids(view.findings_after_cancel(blocks, everything)) == []


class _Client:
    """chat.update recorder; `on_update` runs before the nth update is 'delivered'."""

    def __init__(self, on_update: Any = None) -> None:
        self.updates: list[dict[str, Any]] = []
        self.on_update = on_update

    def chat_update(self, **kwargs: Any) -> dict[str, Any]:
        if self.on_update is not None:
            self.on_update(len(self.updates))
        self.updates.append(kwargs)
        return {"ok": True}


def _cancelled(hub: Hub, order: OrderRef, by: str, store: str = "br") -> None:
    with session_scope(hub.engine) as session:
        session.add(
            ShopifyCancellation(
                order_id=order.id,
                store=store,
                order_name=order.name,
                status="cancelled",
                requested_by=by,
                created_at=WHEN,
                updated_at=WHEN,
            )
        )


def _done(blocks: list[dict[str, Any]], cancelled: int = 1) -> Executed:
    return Executed(
        action_id="a1",
        kind="shopify.cancel_duplicates",
        requester_id="U1",
        confirmer_id="U1",
        args={"store": "br", "orders": []},
        result=ExecutionResult(text="ok", details={"counts": {"cancelled": cancelled}}),
        origin=Origin("C1", "1.1", "Loja br", blocks),
    )


def test_update_uses_the_ledger_and_stops_once_written(hub: Hub) -> None:
    _, blocks = view.duplicates_blocks(hub, _report(1, 3))
    _cancelled(hub, _order(200_001), "U1")
    _cancelled(hub, _order(200_002), "U7", store="mx")  # same id in another store: not ours
    client = _Client()
    view.update_findings_after_cancel(hub, client, _done(blocks))
    [update] = client.updates
    assert (update["channel"], update["ts"], update["text"]) == ("C1", "1.1", "Loja br")
    assert _lines(update["blocks"]) == {
        "shopify.dup.0.done": [":white_check_mark: #200001 cancelado por <@U1>"]
    }
    assert view.button_order_ids(update["blocks"]) == [
        "gid://shopify/Order/200000",
        "gid://shopify/Order/200002",
    ]


def test_a_cancel_landing_during_the_update_is_not_lost(hub: Hub) -> None:
    """Another card's cancel is recorded while this write is in flight (and its own update
    reached Slack first): the ledger is read again and the message rewritten with both."""
    _, blocks = view.duplicates_blocks(hub, _report(1, 3))
    _cancelled(hub, _order(200_000), "U1")

    def concurrent(n: int) -> None:
        if n == 0:
            _cancelled(hub, _order(200_002), "U2")

    client = _Client(concurrent)
    view.update_findings_after_cancel(hub, client, _done(blocks))
    assert len(client.updates) == 2
    assert _lines(client.updates[-1]["blocks"]) == {
        "shopify.dup.0.done": [
            ":white_check_mark: #200000 cancelado por <@U1>",
            ":white_check_mark: #200002 cancelado por <@U2>",
        ]
    }


def test_nothing_to_update_means_no_call(hub: Hub) -> None:
    _, blocks = view.duplicates_blocks(hub, _report(1, 2))
    client = _Client()
    view.update_findings_after_cancel(hub, client, _done(blocks, cancelled=0))  # none cancelled
    _cancelled(hub, _order(999), "U1")  # cancelled, but it has no button in this message
    view.update_findings_after_cancel(hub, client, _done(blocks))
    no_origin = Executed(**{**_done(blocks).__dict__, "origin": None})
    _cancelled(hub, _order(200_000), "U1")
    view.update_findings_after_cancel(hub, client, no_origin)
    assert client.updates == []
    assert json.dumps(blocks)  # untouched input stays serialisable
