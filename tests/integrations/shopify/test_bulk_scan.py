"""The bulk workers' first pass: typed decoding, odd lines, and the same reports as one process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations.shopify import bulk_detect
from integrations.shopify.bulk_detect import DetectParams, detect_every_order, detect_file
from integrations.shopify.bulk_scan import (
    BadLine,
    ScanSpec,
    decode_line,
    phone_of,
    scan_range,
)
from integrations.shopify.ips import _parse_sources
from tests.integrations.shopify.test_bulk_detect import summary

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def order(n: int, phone: Any, *, days_ago: float, ip: str, **extra: Any) -> dict[str, Any]:
    created = NOW - timedelta(days=days_ago)
    node: dict[str, Any] = {
        "id": f"gid://shopify/Order/{n}",
        "name": f"#{1000 + n}",
        "createdAt": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cancelledAt": None,
        "tags": [],
        "phone": None,
        "email": None,
        "clientIp": "35.190.21.8",
        "customAttributes": [{"key": "IP address", "value": ip}],
        "customer": {"id": f"gid://shopify/Customer/{n}", "defaultPhoneNumber": None},
        "shippingAddress": {"phone": phone, "countryCodeV2": "BR"},
        "billingAddress": None,
        "totalPriceSet": {"shopMoney": {"amount": "99.90", "currencyCode": "BRL"}},
    }
    node.update(extra)
    return node


def item(n: int, parent: int, sku: str | None = "SKU-1", **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": f"gid://shopify/LineItem/{n}",
        "sku": sku,
        "title": "Produto Ótimo",
        "quantity": 1,
        "variant": {"id": "gid://shopify/ProductVariant/1"},
        "product": {"id": "gid://shopify/Product/1"},
        "__parentId": f"gid://shopify/Order/{parent}",
    }
    node.update(extra)
    return node


def dumps(node: dict[str, Any]) -> str:
    return json.dumps(node, separators=(",", ":"), ensure_ascii=False)


def odd_file(path: Path) -> int:
    """A JSONL file full of what a bulk export may hold; returns the byte offset of the cut."""
    lines: list[str] = []
    # ordinary duplicates: one phone written three ways, one processed order
    lines += [dumps(order(1, "+55 11 98765-4321", days_ago=9, ip="187.1.1.1", tags=["EH"]))]
    lines += [dumps(item(1, 1)), ""]  # a blank line
    lines += [dumps(order(2, "(11) 98765-4321", days_ago=5, ip="187.1.1.1"))]
    lines += [dumps(item(2, 2)), "   "]  # a whitespace-only line
    # an order with odd shapes: numbers where Shopify sends strings (read leniently)
    lines += [
        dumps(
            order(
                3,
                5511987654321,
                days_ago=4,
                ip="187.1.1.1",
                tags=["cheho", 7],
                customAttributes=[{"key": "ip ADDRESS", "value": "187.1.1.1"}, {"key": "n"}],
            )
        )
    ]
    # its line item with an escaped parent id (JSON allows "\/"): decoded properly
    escaped = dumps(item(3, 3)).replace("gid://shopify/Order/3", "gid:\\/\\/shopify\\/Order\\/3")
    lines += [escaped]
    # a line item written before its own order, inside the same range
    lines += [dumps(item(5, 5, sku=None))]
    lines += [dumps(order(5, "11 98765 4321", days_ago=3, ip="2001:DB8::1"))]
    cut_at = sum(len(x.encode()) + 1 for x in lines)
    # second range: an order whose line item sits in the first range was above (#5 is local);
    # here an order from this range and one whose items follow, plus IPv6 written two ways
    lines += [dumps(order(6, "+55 (11) 98765-4321", days_ago=2, ip="2001:db8:0::1"))]
    lines += [dumps(order(7, "+52 1 55 1234 5678", days_ago=1, ip="2001:db8::1"))]
    lines += [dumps(item(6, 6)), dumps(item(7, 7, sku="", title="Outro"))]
    lines += [dumps(order(8, "55 1234 5678", days_ago=1, ip="10.0.0.8", cancelledAt=None))]
    lines += [dumps(item(8, 7, sku=" sku-1 "))]  # a second item of #7, far from it
    lines += [dumps(item(9, 8, sku="SKU-1"))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cut_at


def test_odd_lines_give_the_plain_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "odd.jsonl"
    cut = odd_file(path)
    params = DetectParams(now=NOW, dup_days=30, ip_days=30, processed_tags=("eh",))
    single = detect_every_order(path, params)
    assert summary(*detect_file(path, params, workers=1)) == summary(*single)
    monkeypatch.setattr(bulk_detect, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(
        bulk_detect, "split_ranges", lambda p, parts: [(0, cut), (cut, p.stat().st_size)]
    )
    parallel = detect_file(path, params, workers=2)
    assert summary(*parallel) == summary(*single)
    # one range per line, handed out as the workers ask: every order's items come from
    # ranges read by either worker, in any order, and still attach in file order
    data = path.read_bytes()
    starts = [0, *[i + 1 for i, byte in enumerate(data) if byte == 10][:-1]]
    per_line = list(zip(starts, [*starts[1:], len(data)], strict=True))
    monkeypatch.setattr(bulk_detect, "split_ranges", lambda p, parts: per_line)
    assert summary(*detect_file(path, params, workers=2)) == summary(*single)
    dups, ips = single
    certain = [f for f in dups.findings if f.confidence == "certain"]
    assert {d.id.rsplit("/", 1)[1] for f in certain for d in f.duplicates} >= {"2", "3", "6"}
    assert {e.ip for e in ips.entries} == {"187.1.1.1", "2001:db8::1"}


def test_scan_reads_odd_lines_and_places_early_items(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    cut = odd_file(path)
    spec = ScanSpec.of(NOW, 30, 30, _parse_sources(("attribute:IP address", "clientIp")), ["eh"])
    scan = scan_range(str(path), 0, cut, spec)
    assert list(scan.index) == [f"gid://shopify/Order/{n}" for n in (1, 2, 3, 5)]
    assert scan.orphans == {}  # #5's item came first but #5 is in this range
    assert -1 not in scan.child_orders
    # the processed order (#1) is not pending; #3's tags (cheho, 7) are not processed ones
    assert list(scan.pending) == [0, 1, 1, 1]
    second = scan_range(str(path), cut, path.stat().st_size, spec)
    assert set(second.orphans) == set()
    assert second.dup_scanned == 3 and second.ip_scanned == 3 and second.ip_without == 0


def test_decode_line_falls_back_to_a_lenient_read() -> None:
    raw = dumps(order(3, 5511987654321, days_ago=1, ip="1.2.3.4", tags=[1])).encode()
    line = decode_line(raw)
    assert phone_of(line) == "5511987654321"
    assert line.tags == ["1"] and line.createdAt is not None
    child = decode_line(dumps(item(1, 3, sku=None, variant={"id": 9})).encode())
    assert child.parentId == "gid://shopify/Order/3" and child.variant is not None
    assert child.variant.id == "9"


def test_line_items_are_told_apart_by_their_parent_key_only(tmp_path: Path) -> None:
    # an order quoting the key in a string value stays an order (the quotes are escaped);
    # a line item whose parent id carries a JSON escape ("\/") is decoded properly
    note = [{"key": "obs", "value": 'say "__parentId":"gid://shopify/Order/1"'}]
    escaped = dumps(item(2, 1)).replace("gid://shopify/Order/1", "gid:\\/\\/shopify\\/Order\\/1")
    lines = [
        dumps(order(1, "+55 11 98765-4321", days_ago=1, ip="1.2.3.4", customAttributes=note)),
        dumps(item(1, 1)),
        escaped,
    ]
    path = tmp_path / "quoted.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = ScanSpec.of(NOW, 30, 30, _parse_sources(("attribute:IP address",)), [])
    scan = scan_range(str(path), 0, path.stat().st_size, spec)
    assert list(scan.index) == ["gid://shopify/Order/1"]
    assert list(scan.child_orders) == [0, 0] and scan.orphans == {}


def test_an_unreadable_export_raises_bad_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "odd.jsonl"
    cut = odd_file(path)
    good = path.read_bytes()
    params = DetectParams(now=NOW, dup_days=30, ip_days=30)
    monkeypatch.setattr(bulk_detect, "MIN_PARALLEL_BYTES", 0)  # two workers even here
    truncated = good[: cut - 40] + b"\n" + good[cut:]  # an order line cut short
    not_an_order = good + b'{"name": "#1", "createdAt": "2026-11-01T00:00:00Z"}\n'
    bad_item = good + b'{"id":"gid://shopify/LineItem/99","__parentId":"gid://shopify/Order/6"\n'
    for data, why in (
        (truncated, "not valid JSON"),
        (not_an_order, "has no id"),
        (bad_item, "line item"),  # only decoded once its order is a candidate
    ):
        path.write_bytes(data)
        for workers in (1, 2):
            with pytest.raises(BadLine, match=why):
                detect_file(path, params, workers=workers)
