"""Bulk JSONL → reports on two worker processes: exactly the single-process findings."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.hub import Hub
from integrations.runtime.harness import SimulatorServer
from integrations.shopify import bulk_detect
from integrations.shopify.bulk_detect import (
    DetectParams,
    detect_every_order,
    detect_file,
    split_ranges,
)
from integrations.shopify.duplicates import DuplicateReport
from integrations.shopify.ips import IpReport
from integrations.shopify.service import client_for, duplicates_report, ips_report, set_ip_list
from integrations.shopify.simulator import ShopifySimulator

Sim = tuple[ShopifySimulator, SimulatorServer]


def summary(dups: DuplicateReport, ips: IpReport) -> dict[str, Any]:
    return {
        "findings": [
            (f.confidence, f.match, f.phone, f.title, f.sku, f.kept, f.duplicates)
            for f in dups.findings
        ],
        "dup_scanned": dups.orders_scanned,
        "ips": [
            (e.ip, [o.id for o in e.orders], e.sources, e.customers, e.totals, e.watching)
            for e in ips.entries
        ],
        "ip_counts": (ips.orders_scanned, ips.orders_without_ip, ips.excluded),
        "warnings": (dups.warnings, ips.warnings),
    }


def test_split_ranges_cut_at_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"".join(f'{{"n": {i}}}\n'.encode() for i in range(1000)))
    ranges = split_ranges(path, 3)
    assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    assert all(a[1] == b[0] for a, b in pairwise(ranges))
    data = path.read_bytes()
    assert all(data[end - 1 : end] == b"\n" for _, end in ranges)


def test_one_and_two_workers_give_the_plain_reports(
    shopify_sim: Sim,
    make_shop_hub: Callable[..., Hub],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = make_shop_hub()
    client = client_for(hub, "br")
    path = tmp_path / "orders.jsonl"
    now = hub.clock.now()
    search, _ = client.window_search(120, now)
    client.bulk_to_file(search, path)
    # Children after another order (not adjacent), as Shopify writes them; make the cut fall
    # between an order and its line items so the cross-worker join is exercised.
    lines = path.read_bytes().splitlines()
    assert any(b"__parentId" in line for line in lines)
    params = DetectParams(now=now, dup_days=30, ip_days=90, watched_ips=("187.45.210.77",))
    single = detect_every_order(path, params)
    assert summary(*detect_file(path, params, workers=1)) == summary(*single)  # in-process
    monkeypatch.setattr(bulk_detect, "MIN_PARALLEL_BYTES", 0)
    first_child = next(i for i, line in enumerate(lines) if b"__parentId" in line)
    monkeypatch.setattr(
        bulk_detect,
        "split_ranges",
        lambda p, parts: [
            (0, sum(len(x) + 1 for x in lines[:first_child])),
            (sum(len(x) + 1 for x in lines[:first_child]), p.stat().st_size),
        ],
    )
    parallel = detect_file(path, params, workers=2)
    assert single[0].findings and single[1].entries
    assert summary(*parallel) == summary(*single)
    # The setup really split an order (before the cut) from its line item (after it).
    parent = json.loads(lines[first_child])["__parentId"].encode()
    assert any(parent in line and b"__parentId" not in line for line in lines[:first_child])


def test_service_bulk_path_matches_the_paged_path(
    shopify_sim: Sim, make_shop_hub: Callable[..., Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    paged = make_shop_hub(shopify_bulk_threshold_days=365)
    bulk = make_shop_hub(shopify_bulk_threshold_days=10)
    set_ip_list(paged, "br", "187.45.210.77", "resolved")  # same engine: both hubs see it
    monkeypatch.setattr(bulk_detect, "MIN_PARALLEL_BYTES", 0)  # two workers even here
    by_pages = summary(duplicates_report(paged, "br", 30), ips_report(paged, "br", 60, 2))
    by_bulk = summary(duplicates_report(bulk, "br", 30), ips_report(bulk, "br", 60, 2))
    assert by_bulk == by_pages
    assert by_bulk["ip_counts"][2] == 1  # the resolved IP was left out on both paths
    downloads = [r for r in bulk.runtime.records if r.operation == "bulk.download"]
    assert len(downloads) == 2 and all(r.ok for r in downloads)


def test_candidate_blocks_need_two_orders_and_one_pending() -> None:
    keys = np.array([5, 5, 7, 7, 9, 11, 11, 11], dtype=np.uint32)
    pending = np.array([0, 1, 0, 0, 1, 0, 0, 1], dtype=np.uint32)
    # 5: two orders, one pending; 7: two processed; 9: alone; 11: three, one pending
    assert bulk_detect.with_pending(keys, pending).tolist() == [5, 11]
    assert bulk_detect.with_pending(keys[:0], pending[:0]).tolist() == []


def test_busy_ips_match_a_plain_count() -> None:
    rng = random.Random(5)
    ips = [rng.randrange(1, 60) for _ in range(3000)]
    customers = [rng.randrange(1, 4) if ip % 3 else 7 for ip in ips]  # ip % 3 == 0: one buyer
    orders: Counter[int] = Counter(ips)
    buyers: dict[int, set[int]] = defaultdict(set)
    for ip, customer in zip(ips, customers, strict=True):
        buyers[ip].add(customer)
    as_arrays = np.array(ips, dtype=np.uint32), np.array(customers, dtype=np.uint32)

    def busy(min_orders: int) -> set[int]:
        return set(bulk_detect.busy_ips(*as_arrays, min_orders).tolist())

    for min_orders in (1, 2, 50, 70):
        expected = {ip for ip in orders if orders[ip] >= min_orders and len(buyers[ip]) >= 2}
        assert busy(min_orders) == expected
    # the single-buyer IPs have many orders and are still left out; the threshold bites
    assert not {ip for ip in orders if ip % 3 == 0} & busy(2)
    assert busy(2) > busy(50)
    assert bulk_detect.busy_ips(as_arrays[0][:0], as_arrays[1][:0], 2).tolist() == []


def test_deal_sends_each_block_and_ip_whole_to_one_worker_in_file_order() -> None:
    def located(first_offset: int, blocks: list[int], ips: list[int]) -> bulk_detect.Located:
        n = len(blocks)
        return bulk_detect.Located(
            offsets=np.arange(first_offset, first_offset + n, dtype=np.int64),
            blocks=np.array(blocks, dtype=np.uint32),
            pending=np.ones(n, dtype=np.uint8),
            ips=np.array(ips, dtype=np.uint32),
            item_counts=np.array([1] * n, dtype=np.int64),
            item_offsets=np.arange(1000 + first_offset, 1000 + first_offset + n, dtype=np.int64),
            raw_items={n - 1: [(5000, b'{"late": true}')]},
        )

    # worker 0's rows, then worker 1's: blocks 4 and 6 (even), 5 (odd); IPs 8 (even), 9 (odd)
    parts = [located(0, [4, 5, 0], [9, 8, 8]), located(10, [6, 4, 5], [0, 9, 0])]
    even, odd = bulk_detect.deal(parts, 2)
    assert even.offsets.tolist() == [0, 1, 2, 10, 11]  # file order kept
    assert even.blocks.tolist() == [4, 0, 0, 6, 4]  # block 5 went to the odd worker
    assert even.ips.tolist() == [0, 8, 8, 0, 0]
    assert even.item_offsets.tolist() == [1000, 1001, 1002, 1010, 1011]
    assert even.raw_items == {2: [(5000, b'{"late": true}')]}
    assert odd.offsets.tolist() == [0, 1, 11, 12]
    assert odd.blocks.tolist() == [0, 5, 0, 5] and odd.ips.tolist() == [9, 0, 9, 0]
    assert odd.raw_items == {3: [(5000, b'{"late": true}')]}
    starts = odd.starts().tolist()
    assert [odd.item_offsets[s] for s in starts] == [1000, 1001, 1011, 1012]


def test_a_corrupt_bulk_export_is_reported_as_a_shopify_failure(
    shopify_sim: Sim, make_shop_hub: Callable[..., Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.runtime.errors import BadResponse, user_message
    from integrations.shopify.client import ShopifyClient

    download = ShopifyClient.bulk_to_file

    def truncated(self: ShopifyClient, search: str, path: Path) -> Any:
        result = download(self, search, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])  # the connection dropped mid-file
        return result

    monkeypatch.setattr(ShopifyClient, "bulk_to_file", truncated)
    hub = make_shop_hub(shopify_bulk_threshold_days=10)
    with pytest.raises(BadResponse) as failure:
        duplicates_report(hub, "br", 30)
    assert failure.value.integration == "shopify" and failure.value.category == "bad_response"
    assert "respondeu de forma inesperada" in user_message(failure.value)
