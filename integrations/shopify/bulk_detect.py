"""Duplicate findings and the IP report straight from a bulk-operation JSONL file, on N cores.

Decoding a million JSONL lines into typed orders is most of the work, and it parallelises by
byte range; the detectors group across the whole file, so they do not. The split:

1. Each worker process decodes its byte range of the file (cut at line ends) into orders,
   joining the `__parentId` line items it can; line items whose parent is in the other range
   are exchanged through the parent process and attached in file order.
2. Each worker hashes the only keys the detectors group by — the duplicate blocks
   (`duplicates.block_keys`: last 7 phone digits + product key) and the buyer IP — and sends
   back the hashes with their local counts (arrays of integers: cheap to send).
3. The parent adds the counts up; a key seen often enough in the whole file is a candidate.
4. The workers send back only the orders of candidate keys, in file order; the parent runs the
   ordinary detectors (`find_duplicates`, `ip_report`) on them, so the findings are exactly
   those of the single-process path (a hash collision only adds an order that the detector
   then leaves out). The counters (orders scanned, orders without IP) come from the workers.

With one worker (or a small file) it is the single-process path: `orders_from_jsonl` and the
two detectors. Workers are spawned (never forked: the bot has threads).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zlib import crc32

from integrations.shopify.duplicates import (
    DEFAULT_PROCESSED_TAGS,
    DuplicateReport,
    block_keys,
    find_duplicates,
)
from integrations.shopify.ips import (
    DEFAULT_IP_SOURCES,
    IpReport,
    _extract,
    _parse_sources,
    customer_key,
)
from integrations.shopify.ips import ip_report as build_ip_report
from integrations.shopify.orders import LineItem, Order, orders_from_jsonl, paused_gc

# Below this size the process start-up costs more than it saves.
MIN_PARALLEL_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class DetectParams:
    now: datetime
    dup_days: int | None  # None: no duplicate report (an empty one is returned)
    ip_days: int | None  # None: no IP report (an empty one is returned)
    min_orders: int = 2
    processed_tags: tuple[str, ...] = DEFAULT_PROCESSED_TAGS
    ip_sources: tuple[str, ...] = DEFAULT_IP_SOURCES
    excluded_ips: tuple[str, ...] = ()
    watched_ips: tuple[str, ...] = ()
    store: str = ""


def detect_file(
    path: Path, params: DetectParams, *, workers: int | None = None
) -> tuple[DuplicateReport, IpReport]:
    """Both reports for the orders in the JSONL at `path` (see the module docstring)."""
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    if workers <= 1 or path.stat().st_size < MIN_PARALLEL_BYTES:
        with path.open("rb") as fh:
            orders = list(orders_from_jsonl(fh))
        return _reports(orders, orders, params)
    return _detect_parallel(path, params, workers)


def _reports(
    dup_orders: Sequence[Order], ip_orders: Sequence[Order], params: DetectParams
) -> tuple[DuplicateReport, IpReport]:
    if params.dup_days is None:
        dup_orders = ()
    if params.ip_days is None:
        ip_orders = ()
    dups = find_duplicates(
        dup_orders,
        now=params.now,
        window_days=params.dup_days or 1,
        processed_tags=params.processed_tags,
        store=params.store,
    )
    ips = build_ip_report(
        ip_orders,
        now=params.now,
        days=params.ip_days or 1,
        min_orders=params.min_orders,
        sources=params.ip_sources,
        excluded_ips=params.excluded_ips,
        watched_ips=params.watched_ips,
        store=params.store,
    )
    return dups, ips


def split_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """Byte ranges of `path` cut right after a newline (every line in exactly one range)."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as fh:
        for i in range(1, parts):
            fh.seek(max(size * i // parts, cuts[-1]))
            if fh.tell() > 0:
                fh.readline()  # finish the line the cut fell into
            cuts.append(min(fh.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in pairwise(cuts) if b > a]


def _detect_parallel(
    path: Path, params: DetectParams, workers: int
) -> tuple[DuplicateReport, IpReport]:
    with paused_gc():
        return _run_workers(path, params, workers)


def _run_workers(
    path: Path, params: DetectParams, workers: int
) -> tuple[DuplicateReport, IpReport]:
    ranges = split_ranges(path, workers)
    ctx = multiprocessing.get_context("spawn")
    conns: list[Connection] = []
    procs = []
    try:
        for start, end in ranges:
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker, args=(child, str(path), start, end, params), daemon=True
            )
            proc.start()
            child.close()
            conns.append(parent)
            procs.append(proc)
        # 1. line items whose parent another worker holds
        orphans = [_recv(c) for c in conns]
        for i, conn in enumerate(conns):
            merged: dict[str, list[LineItem]] = {}
            for j, other in enumerate(orphans):
                if j != i:
                    for parent_id, items in other.items():
                        merged.setdefault(parent_id, []).extend(items)
            conn.send(merged)
        # 2–3. key counts → candidates
        dup_counts: dict[int, int] = {}
        ip_counts: dict[int, int] = {}
        scanned = [0, 0, 0]  # dup scanned, ip scanned, ip without
        pair_bytes: list[bytes] = []
        for conn in conns:
            dup_keys, dup_n, ip_keys, ip_n, pairs, counters = _recv(conn)
            _add_counts(dup_counts, dup_keys, dup_n)
            _add_counts(ip_counts, ip_keys, ip_n)
            pair_bytes.append(pairs)
            scanned = [a + b for a, b in zip(scanned, counters, strict=True)]
        dup_candidates = {k for k, n in dup_counts.items() if n >= 2}
        busy_ips = {k for k, n in ip_counts.items() if n >= params.min_orders}
        del dup_counts, ip_counts
        # Suspicious needs more than one customer: keep busy IPs with two customer hashes.
        first_customer: dict[int, int] = {}
        ip_candidates: set[int] = set()
        for raw in pair_bytes:
            flat = array("I")
            flat.frombytes(raw)
            for ip_hash, customer_hash in zip(flat[::2], flat[1::2], strict=True):
                if ip_hash not in busy_ips:
                    continue
                seen = first_customer.setdefault(ip_hash, customer_hash)
                if seen != customer_hash:
                    ip_candidates.add(ip_hash)
        for conn in conns:
            conn.send((dup_candidates, ip_candidates))
        # 4. the candidates' orders, in file order
        dup_orders: list[Order] = []
        ip_orders: list[Order] = []
        for conn in conns:
            orders, dup_idx, ip_idx = _recv(conn)
            dup_orders.extend(orders[i] for i in dup_idx)
            ip_orders.extend(orders[i] for i in ip_idx)
    finally:
        for conn in conns:
            conn.close()
        # Everything was received: a worker tearing down half a million objects would only
        # keep a core busy for another second.
        for proc in procs:
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=10)
    dups, ips = _reports(dup_orders, ip_orders, params)
    dups.orders_scanned = scanned[0]
    ips.orders_scanned = scanned[1]
    ips.orders_without_ip = scanned[2]
    return dups, ips


def _recv(conn: Connection) -> Any:
    try:
        message = conn.recv()
    except EOFError:
        raise RuntimeError("bulk detection worker exited without an answer") from None
    if isinstance(message, _WorkerFailed):
        raise RuntimeError(f"bulk detection worker failed: {message.error}")
    return message


def _add_counts(counts: dict[int, int], keys: bytes, ns: bytes) -> None:
    k = array("I")
    k.frombytes(keys)
    n = array("I")
    n.frombytes(ns)
    get = counts.get
    for key, count in zip(k, n, strict=True):
        counts[key] = get(key, 0) + count


@dataclass(frozen=True)
class _WorkerFailed:
    error: str


def _hash(text: str) -> int:
    """A cheap hash that is the same in every process (a collision only adds candidates)."""
    return crc32(text.encode()) + 1  # 0 means "no key"


def _read_range(path: str, start: int, end: int) -> tuple[list[Order], dict[str, list[LineItem]]]:
    """Orders of the lines in [start, end) and the line items whose parent is not there."""
    import orjson

    from integrations.shopify.orders import line_from_node, order_from_node

    parents: list[Order] = []
    by_id: dict[str, Order] = {}
    children: dict[str, list[LineItem]] = {}
    with open(path, "rb") as fh, paused_gc():
        fh.seek(start)
        pos = start
        for raw in fh:
            pos += len(raw)
            if raw.strip():
                obj = orjson.loads(raw)
                parent = obj.get("__parentId")
                if parent is None:
                    order = order_from_node(obj, ())
                    parents.append(order)
                    by_id[order.id] = order
                else:
                    children.setdefault(parent, []).append(line_from_node(obj))
            if pos >= end:
                break
        orphans: dict[str, list[LineItem]] = {}
        for parent_id, items in children.items():
            order_ = by_id.get(parent_id)
            if order_ is None:
                orphans[parent_id] = items
            else:
                order_.lines = tuple(items)
    return parents, orphans


def _worker(conn: Connection, path: str, start: int, end: int, params: DetectParams) -> None:
    # A short-lived process building only acyclic objects: the cyclic collector would just
    # re-scan the half million orders it holds after every allocation burst.
    gc.disable()
    try:
        orders, orphans = _read_range(path, start, end)
        conn.send(orphans)
        received: dict[str, list[LineItem]] = conn.recv()
        if received:
            for order in orders:
                extra = received.get(order.id)
                if extra:
                    order.lines = (*order.lines, *extra)
        now = params.now
        # An end before the start: nothing falls in a window that was not asked for.
        dup_start = now - timedelta(days=params.dup_days) if params.dup_days else now
        dup_end = now if params.dup_days else now - timedelta(days=1)
        ip_start = now - timedelta(days=params.ip_days) if params.ip_days else now
        ip_end = now if params.ip_days else now - timedelta(days=1)
        sources = _parse_sources(params.ip_sources)
        dup_hashes: list[list[int]] = []
        ip_hashes: list[int] = []
        dup_counts: dict[int, int] = {}
        ip_counts: dict[int, int] = {}
        ip_customers: set[tuple[int, int]] = set()
        dup_scanned = ip_scanned = ip_without = 0
        with paused_gc():
            for order in orders:
                hashes: list[int] = []
                keys = block_keys(order, dup_start, dup_end)
                if keys is not None:
                    dup_scanned += 1
                    for (block, (criterion, value)), _title in keys:
                        h = _hash(f"{block}\x1f{criterion}\x1f{value}")
                        hashes.append(h)
                        dup_counts[h] = dup_counts.get(h, 0) + 1
                dup_hashes.append(hashes)
                ip_hash = 0
                if ip_start <= order.created_at <= ip_end:
                    ip_scanned += 1
                    found = _extract(order, sources)
                    if found is None:
                        ip_without += 1
                    else:
                        ip_hash = _hash(found[0])
                        ip_counts[ip_hash] = ip_counts.get(ip_hash, 0) + 1
                        ip_customers.add((ip_hash, _hash(customer_key(order))))
                ip_hashes.append(ip_hash)
        # Only IPs seen more than once here can reach min_orders with few orders elsewhere;
        # their (ip, customer) pairs let the parent drop single-customer IPs before asking
        # for any order.
        pairs = array("I")
        for ip_hash, customer_hash in ip_customers:
            pairs.append(ip_hash)
            pairs.append(customer_hash)
        conn.send(
            (
                array("I", dup_counts.keys()).tobytes(),
                array("I", dup_counts.values()).tobytes(),
                array("I", ip_counts.keys()).tobytes(),
                array("I", ip_counts.values()).tobytes(),
                pairs.tobytes(),
                (dup_scanned, ip_scanned, ip_without),
            )
        )
        del dup_counts, ip_counts
        dup_candidates, ip_candidates = conn.recv()
        wanted: list[Order] = []
        dup_idx: list[int] = []
        ip_idx: list[int] = []
        for i, order in enumerate(orders):
            in_dups = any(h in dup_candidates for h in dup_hashes[i])
            in_ips = ip_hashes[i] in ip_candidates
            if in_dups or in_ips:
                if in_dups:
                    dup_idx.append(len(wanted))
                if in_ips:
                    ip_idx.append(len(wanted))
                wanted.append(order)
        conn.send((wanted, dup_idx, ip_idx))
    except Exception as exc:  # reported to the parent, which raises it
        conn.send(_WorkerFailed(f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
