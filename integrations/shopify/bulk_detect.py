"""Duplicate findings and the IP report straight from a bulk-operation JSONL file, on N cores.

Decoding a million JSONL lines into typed orders is most of the work, and it parallelises by
byte range; the detectors group across the whole file, so they do not. The split:

1. Each worker process decodes its byte range of the file (cut at line ends) with orjson and
   keeps only what the detectors group by (`_scan_range`): no Order objects yet. Line items
   whose parent is in the other range are exchanged, as raw lines, through the parent process
   and attached after the worker's own (file order).
2. Each worker hashes the only keys the detectors group by — the duplicate blocks
   (`block_keys`' last 7 phone digits + product key) and the buyer IP — and sends
   back the hashes with their local counts (arrays of integers: cheap to send).
3. The parent adds the counts up; a key seen often enough in the whole file is a candidate.
4. The workers build full orders (from the line offsets, through a memory map) only for the
   candidate keys and send them back in file order; the parent runs the
   ordinary detectors (`find_duplicates`, `ip_report`) on them, so the findings are exactly
   those of the single-process path (a hash collision only adds an order that the detector
   then leaves out). The counters (orders scanned, orders without IP) come from the workers.

With one worker (or a small file) it is the single-process path: `orders_from_jsonl` and the
two detectors. Workers are spawned (never forked: the bot has threads).
"""

from __future__ import annotations

import gc
import mmap
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
    find_duplicates,
    phone_block,
    product_key,
)
from integrations.shopify.ips import (
    DEFAULT_IP_SOURCES,
    IpReport,
    _extract_values,
    _parse_sources,
    customer_key_of,
)
from integrations.shopify.ips import ip_report as build_ip_report
from integrations.shopify.orders import Order, orders_from_jsonl, paused_gc

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
            merged: dict[str, list[bytes]] = {}
            for j, other in enumerate(orphans):
                if j != i:
                    for parent_id, items in other.items():
                        merged.setdefault(parent_id, []).extend(items)
            conn.send(merged)
        # 2–3. key counts → candidates
        scanned = [0, 0, 0]  # dup scanned, ip scanned, ip without
        pair_bytes: list[bytes] = []
        dup_parts: list[tuple[bytes, bytes]] = []
        ip_parts: list[tuple[bytes, bytes]] = []
        for conn in conns:
            dup_keys, dup_n, ip_keys, ip_n, pairs, counters = _recv(conn)
            dup_parts.append((dup_keys, dup_n))
            ip_parts.append((ip_keys, ip_n))
            pair_bytes.append(pairs)
            scanned = [a + b for a, b in zip(scanned, counters, strict=True)]
        dup_candidates = _frequent(dup_parts, 2)
        busy_ips = _frequent(ip_parts, params.min_orders)
        del dup_parts, ip_parts
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


def _frequent(parts: list[tuple[bytes, bytes]], threshold: int) -> set[int]:
    """Keys whose counts, added over the workers' (keys, counts) arrays, reach `threshold`.

    Most keys occur in one worker only: their local count is the total. Only the keys several
    workers saw are added up (set intersections, in C, instead of a dict of every key).
    """
    decoded: list[tuple[array[int], array[int]]] = []
    for keys_raw, counts_raw in parts:
        keys = array("I")
        keys.frombytes(keys_raw)
        counts = array("I")
        counts.frombytes(counts_raw)
        decoded.append((keys, counts))
    seen: set[int] = set()
    shared: set[int] = set()
    for keys, _ in decoded:
        mine = set(keys)
        shared |= seen & mine
        seen |= mine
    del seen
    found: set[int] = set()
    totals: dict[int, int] = dict.fromkeys(shared, 0)
    for keys, counts in decoded:
        if threshold <= 1:
            found.update(keys)
            continue
        local = dict(zip(keys, counts, strict=True))
        found.update(k for k, n in local.items() if n >= threshold)
        for k in shared:
            totals[k] += local.get(k, 0)
    found.update(k for k, n in totals.items() if n >= threshold)
    return found


@dataclass(frozen=True)
class _WorkerFailed:
    error: str


def _hash(text: str) -> int:
    """A cheap hash that is the same in every process (a collision only adds candidates)."""
    return crc32(text.encode()) + 1  # 0 means "no key"


ChildKeys = list[tuple[tuple[str, str] | None, int]]  # (product key, line offset) per child


def _child_key(node: dict[str, Any]) -> tuple[str, str] | None:
    """The product key of a `__parentId` line, as `line_from_node` + `product_key` give it."""
    get = node.get
    variant = get("variant")
    product = get("product")
    return product_key(
        get("sku"),
        variant.get("id") if variant else None,
        product.get("id") if product else None,
        get("title") or "",
    )


@dataclass
class _Scan:
    """One worker's byte range, read down to the grouping keys (no Order objects)."""

    offsets: array[int]  # file offset of each order line
    ids: list[str]
    blocks: list[str | None]  # last 7 phone digits; None: not in the duplicate scan or no phone
    ip_hashes: array[int]  # 0: no IP (or outside the IP window)
    customer_pairs: set[tuple[int, int]]
    children: list[ChildKeys | None]  # this range's line items of each order, in file order
    orphans: dict[str, list[bytes]]  # line items whose parent is in another range
    counters: tuple[int, int, int]  # dup scanned, ip scanned, ip without


def _scan_range(path: str, start: int, end: int, params: DetectParams) -> _Scan:
    """Decode each line of [start, end) with orjson and keep only what the detectors group by.

    Full orders are built later, and only for candidates (`_build`), from the line offsets.
    """
    import orjson

    from integrations.shopify.orders import _phone_of, attributes_of

    loads = orjson.loads
    fromiso = datetime.fromisoformat
    now = params.now
    # An end before the start: nothing falls in a window that was not asked for.
    dup_start = now - timedelta(days=params.dup_days) if params.dup_days else now
    dup_end = now if params.dup_days else now - timedelta(days=1)
    ip_start = now - timedelta(days=params.ip_days) if params.ip_days else now
    ip_end = now if params.ip_days else now - timedelta(days=1)
    sources = _parse_sources(params.ip_sources)
    offsets = array("q")
    ids: list[str] = []
    blocks: list[str | None] = []
    ip_hashes = array("I")
    customer_pairs: set[tuple[int, int]] = set()
    children: dict[str, ChildKeys] = {}
    dup_scanned = ip_scanned = ip_without = 0
    with open(path, "rb") as fh:
        fh.seek(start)
        pos = start
        for raw in fh:
            line_at = pos
            pos += len(raw)
            if raw.strip():
                node = loads(raw)
                parent = node.get("__parentId")
                if parent is not None:
                    bucket = children.get(parent)
                    if bucket is None:
                        children[parent] = [(_child_key(node), line_at)]
                    else:
                        bucket.append((_child_key(node), line_at))
                else:
                    order_id = node["id"]
                    offsets.append(line_at)
                    ids.append(order_id)
                    created = fromiso(node["createdAt"])
                    phone = _phone_of(node)
                    block = None
                    if not node.get("cancelledAt") and dup_start <= created <= dup_end:
                        dup_scanned += 1
                        block = phone_block(phone)
                    blocks.append(block)
                    ip_hash = 0
                    if ip_start <= created <= ip_end:
                        ip_scanned += 1
                        attrs = node.get("customAttributes")
                        found = _extract_values(
                            node.get("clientIp"), attributes_of(attrs) if attrs else (), sources
                        )
                        if found is None:
                            ip_without += 1
                        else:
                            ip_hash = _hash(found[0])
                            customer = node.get("customer")
                            who = customer_key_of(
                                customer.get("id") if customer else None,
                                phone,
                                node.get("email"),
                                order_id,
                            )
                            customer_pairs.add((ip_hash, _hash(who)))
                    ip_hashes.append(ip_hash)
            if pos >= end:
                break
        index = {order_id: i for i, order_id in enumerate(ids)}
        per_order: list[ChildKeys | None] = [None] * len(ids)
        orphans: dict[str, list[bytes]] = {}
        for parent_id, items in children.items():
            i = index.get(parent_id)
            if i is not None:
                per_order[i] = items
            else:
                raws = []
                for _key, at in items:
                    fh.seek(at)
                    raws.append(fh.readline())
                orphans[parent_id] = raws
    return _Scan(
        offsets,
        ids,
        blocks,
        ip_hashes,
        customer_pairs,
        per_order,
        orphans,
        (dup_scanned, ip_scanned, ip_without),
    )


def _worker(conn: Connection, path: str, start: int, end: int, params: DetectParams) -> None:
    # A short-lived process building only acyclic objects: the cyclic collector would just
    # re-scan everything it holds after every allocation burst.
    gc.disable()
    try:
        import orjson

        from integrations.shopify.orders import order_from_node

        scan = _scan_range(path, start, end, params)
        conn.send(scan.orphans)
        received: dict[str, list[bytes]] = conn.recv()
        extra: dict[int, list[bytes]] = {}
        if received:
            for i, order_id in enumerate(scan.ids):
                raws = received.get(order_id)
                if raws:
                    extra[i] = raws
        dup_hashes: list[list[int] | None] = []
        dup_counts: dict[int, int] = {}
        blocks = scan.blocks
        for i, block in enumerate(blocks):
            if block is None:
                dup_hashes.append(None)
                continue
            keys: list[tuple[str, str] | None] = [k for k, _ in scan.children[i] or ()]
            if i in extra:
                keys.extend(_child_key(orjson.loads(r)) for r in extra[i])
            hashes = []
            for key in dict.fromkeys(keys):
                if key is not None:
                    h = _hash(f"{block}\x1f{key[0]}\x1f{key[1]}")
                    hashes.append(h)
                    dup_counts[h] = dup_counts.get(h, 0) + 1
            dup_hashes.append(hashes)
        ip_counts: dict[int, int] = {}
        for ip_hash in scan.ip_hashes:
            if ip_hash:
                ip_counts[ip_hash] = ip_counts.get(ip_hash, 0) + 1
        # Only IPs seen more than once here can reach min_orders with few orders elsewhere;
        # their (ip, customer) pairs let the parent drop single-customer IPs before asking
        # for any order.
        pairs = array("I")
        for ip_hash, customer_hash in scan.customer_pairs:
            pairs.append(ip_hash)
            pairs.append(customer_hash)
        conn.send(
            (
                array("I", dup_counts.keys()).tobytes(),
                array("I", dup_counts.values()).tobytes(),
                array("I", ip_counts.keys()).tobytes(),
                array("I", ip_counts.values()).tobytes(),
                pairs.tobytes(),
                scan.counters,
            )
        )
        del dup_counts, ip_counts
        dup_candidates, ip_candidates = conn.recv()
        wanted: list[Order] = []
        dup_idx: list[int] = []
        ip_idx: list[int] = []
        loads = orjson.loads
        # A seek on a buffered file throws its buffer away: slice a memory map instead.
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            find = mm.find

            def read(at: int) -> Any:
                stop = find(b"\n", at)
                return loads(mm[at : stop if stop >= 0 else len(mm)])

            for i, order_hashes in enumerate(dup_hashes):
                in_dups = any(h in dup_candidates for h in order_hashes or ())
                in_ips = scan.ip_hashes[i] in ip_candidates
                if not (in_dups or in_ips):
                    continue
                if in_dups:
                    dup_idx.append(len(wanted))
                if in_ips:
                    ip_idx.append(len(wanted))
                line_nodes = [read(at) for _, at in scan.children[i] or ()]
                line_nodes.extend(loads(r) for r in extra.get(i, ()))
                wanted.append(order_from_node(read(scan.offsets[i]), line_nodes))
        conn.send((wanted, dup_idx, ip_idx))
    except Exception as exc:  # reported to the parent, which raises it
        conn.send(_WorkerFailed(f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
