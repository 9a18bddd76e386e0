"""Bulk JSONL → typed orders: orjson decoding, the `__parentId` join, the paused collector."""

from __future__ import annotations

import gc
import json
from decimal import Decimal

import pytest

from integrations.shopify.orders import orders_from_jsonl, paused_gc


def _order(n: int) -> dict[str, object]:
    return {
        "id": f"gid://shopify/Order/{n}",
        "name": f"#{n}",
        "createdAt": "2026-11-01T12:00:00Z",
        "cancelledAt": None,
        "tags": ["EH"],
        "customAttributes": [{"key": "IP address", "value": "187.45.210.77"}],
        "shippingAddress": {"phone": "(11) 98765-4321", "countryCodeV2": "BR"},
        "totalPriceSet": {"shopMoney": {"amount": "199.90", "currencyCode": "BRL"}},
    }


def _line(n: int, parent: int, sku: str | None) -> dict[str, object]:
    return {
        "id": f"gid://shopify/LineItem/{n}",
        "sku": sku,
        "title": "Cinta Modeladora",
        "quantity": 1,
        "variant": {"id": "gid://shopify/ProductVariant/9"},
        "product": None,
        "__parentId": f"gid://shopify/Order/{parent}",
    }


def test_children_are_joined_to_their_parent_wherever_they_come() -> None:
    rows = [_order(1), _order(2), _line(10, 1, "CINTA"), _line(11, 2, None), _line(12, 1, " ")]
    raw = [json.dumps(r).encode() for r in rows]
    raw.insert(2, b"")  # a blank line (e.g. between chunks) is skipped
    orders = list(orders_from_jsonl([*raw, b"\n"]))
    assert [o.id for o in orders] == ["gid://shopify/Order/1", "gid://shopify/Order/2"]
    first, second = orders
    assert [line.sku for line in first.lines] == ["CINTA", None]  # blank SKU is no SKU
    assert [line.variant_id for line in second.lines] == ["gid://shopify/ProductVariant/9"]
    assert first.total == Decimal("199.90") and first.currency == "BRL"
    assert first.phone == "(11) 98765-4321" and first.attribute("ip address") == "187.45.210.77"


def test_str_lines_are_accepted_and_broken_json_is_an_error() -> None:
    text = [json.dumps(_order(3)), json.dumps(_line(30, 3, "X"))]
    (order,) = orders_from_jsonl(text)
    assert order.lines[0].sku == "X"
    with pytest.raises(ValueError):
        list(orders_from_jsonl([b'{"id": "gid://shopify/Order/4", "name": ']))


def test_paused_gc_restores_the_collector_state() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off before: stays off
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("boom")
    assert gc.isenabled()
