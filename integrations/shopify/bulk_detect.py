"""Duplicate findings and the IP report straight from a bulk-operation JSONL file, on N cores.

Decoding a million JSONL lines is most of the work, and it parallelises by byte range; the
detectors group across the whole file, so the workers exchange keys through the parent. One
worker process per range, all reading the file through a memory map, in three rounds:

1. Each worker scans its range (`bulk_scan.scan_range`): per order only the phone block (last
   7 digits), whether it is pending (not processed), and the hashed buyer IP and customer
   key; line items are only located. It sends the line items whose parent another worker
   holds (as raw lines), its phone blocks and its (IP, customer) pairs. The parent counts them
   with numpy: a block with two orders, one of them pending, may hold duplicates; an IP with
   `min_orders` orders from two customers is suspicious.
2. Each worker says where the orders of those blocks and IPs are (line offsets); the parent
   deals them out by hash, so each block and each IP lands whole on one worker and the work
   is even whatever part of the file the candidates sit in.
3. Each worker reads the product keys of its share, builds the orders of the (block, product)
   groups that can hold a duplicate and of its IPs, and runs the ordinary detectors on them;
   the parent merges the findings in the detectors' own order. They are exactly those of the
   single-process path: a hash collision only adds an order the detector then leaves out. The
   counters (orders scanned, orders without IP) come from the scans.

With one worker (or a small file) the same rounds run in this process (`_detect_inline`):
still only candidates are built, so a one-core machine gets the same savings. Workers are
spawned (never forked: the bot has threads). `detect_every_order` is the plain way, every
order built and both detectors run on all: the reference the tests hold the fast paths to.
"""

from __future__ import annotations

import gc
import logging
import mmap
import multiprocessing
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from integrations.shopify.bulk_scan import (
    BadLine,
    RangeScan,
    ScanSpec,
    key_hash,
)
from integrations.shopify.bulk_scan import scan_range as scan_lines
from integrations.shopify.duplicates import (
    DEFAULT_PROCESSED_TAGS,
    DuplicateReport,
    find_duplicates,
    product_key,
    sort_findings,
)
from integrations.shopify.ips import DEFAULT_IP_SOURCES, IpReport, _parse_sources, sort_entries
from integrations.shopify.ips import ip_report as build_ip_report
from integrations.shopify.orders import Order, order_from_node, orders_from_jsonl, paused_gc

log = logging.getLogger(__name__)

# Below this size the process start-up costs more than it saves.
MIN_PARALLEL_BYTES = 32 * 1024 * 1024
RANGES_PER_WORKER = 8

Hashes = npt.NDArray[np.uint32]


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

    def scan_spec(self) -> ScanSpec:
        return ScanSpec.of(
            self.now,
            self.dup_days,
            self.ip_days,
            _parse_sources(self.ip_sources),
            self.processed_tags,
        )


def detect_file(
    path: Path, params: DetectParams, *, workers: int | None = None
) -> tuple[DuplicateReport, IpReport]:
    """Both reports for the orders in the JSONL at `path` (see the module docstring)."""
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    with paused_gc():
        if workers <= 1 or path.stat().st_size < MIN_PARALLEL_BYTES:
            return _detect_inline(path, params)
        return _run_workers(path, params, workers)


def detect_every_order(path: Path, params: DetectParams) -> tuple[DuplicateReport, IpReport]:
    """The plain way: every order built, the detectors run on all of them. Slow on big files;
    the reference the other paths are tested against."""
    with path.open("rb") as fh:
        orders = list(orders_from_jsonl(fh))
    return _reports(orders, orders, params)


def _detect_inline(path: Path, params: DetectParams) -> tuple[DuplicateReport, IpReport]:
    """The workers' three rounds in this process, for one core or a small file."""
    lines = _Lines(str(path))
    try:
        scan = scan_lines(str(path), 0, path.stat().st_size, params.scan_spec())
        keys = _keys(scan)
        candidates = _candidates([keys], params.min_orders)
        share = _locate(scan, *candidates, extra={})
        dups, ips = _share_reports(lines, share, params)
    finally:
        lines.close()
    return _counted(dups, ips, (scan.dup_scanned, scan.ip_scanned, scan.ip_without))


def _counted(
    dups: DuplicateReport, ips: IpReport, counters: Sequence[int]
) -> tuple[DuplicateReport, IpReport]:
    """The reports with the scans' counters (the detectors only saw candidates)."""
    dups.orders_scanned, ips.orders_scanned, ips.orders_without_ip = counters
    return dups, ips


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


# --- parent ----------------------------------------------------------------------------------
def _run_workers(
    path: Path, params: DetectParams, workers: int
) -> tuple[DuplicateReport, IpReport]:
    started = time.perf_counter()
    # More ranges than workers, handed out as workers free up: where the costly orders sit in
    # the file (those inside the duplicate window) is not known in advance.
    ranges = iter(split_ranges(path, workers * RANGES_PER_WORKER))
    ctx = multiprocessing.get_context("spawn")
    conns: list[Connection] = []
    procs = []
    try:
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, str(path), params), daemon=True)
            proc.start()
            child.close()
            conns.append(parent)
            procs.append(proc)
            parent.send(next(ranges, None))
        scanning = list(conns)
        while scanning:
            for ready in wait(scanning):
                conn = cast(Connection, ready)
                _recv(conn)  # done with its range: the next one, or None (scan over)
                byte_range = next(ranges, None)
                conn.send(byte_range)
                if byte_range is None:
                    scanning.remove(conn)
        # 1. orphaned line items, phone blocks, (IP, customer) pairs
        first: list[tuple[dict[str, list[_RawItem]], _Keys]] = [_recv(c) for c in conns]
        candidates = _candidates([keys for _, keys in first], params.min_orders)
        for i, conn in enumerate(conns):
            theirs: dict[str, list[_RawItem]] = {}
            for j, (orphans, _) in enumerate(first):
                if j != i:
                    for parent_id, raws in orphans.items():
                        theirs.setdefault(parent_id, []).extend(raws)
            conn.send((theirs, candidates))
        del first
        # 2. deal the candidates out: a phone block or an IP goes whole to one worker
        located: list[Located] = []
        scanned = [0, 0, 0]  # dup scanned, ip scanned, ip without
        for conn in conns:  # in file order
            rows, counters = _recv(conn)
            located.append(rows)
            scanned = [a + b for a, b in zip(scanned, counters, strict=True)]
        for conn, share in zip(conns, deal(located, len(conns)), strict=True):
            conn.send(share)
        del located
        # 3. each worker's findings, merged in the detectors' order
        parts = [_recv(c) for c in conns]
        spent = time.perf_counter() - started
    finally:
        for conn in conns:
            conn.close()
        # Everything was received: a worker tearing down half a million objects would only
        # keep a core busy for another second.
        for proc in procs:
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=10)
    log.info(
        "bulk detection size_mb=%.0f workers=%d seconds=%.2f findings=%d stages=%s",
        path.stat().st_size / 1e6,
        len(parts),
        spent,
        sum(len(d.findings) for d, _, _ in parts),
        " | ".join(_Stages.describe(t) for _, _, t in parts),
    )
    dups, ips, _ = parts[0]
    for more_dups, more_ips, _ in parts[1:]:
        dups.findings.extend(more_dups.findings)
        ips.entries.extend(more_ips.entries)
        ips.excluded += more_ips.excluded
    dups.findings = sort_findings(dups.findings)
    ips.entries = sort_entries(ips.entries)
    return _counted(dups, ips, scanned)


_Keys = tuple[bytes, bytes, bytes, bytes]  # blocks, their pending flags, IPs, their customers
_RawItem = tuple[int, bytes]  # a line item another worker read: (offset, raw line)


def _keys(scan: RangeScan) -> _Keys:
    """What the parent counts: the phone blocks (with pending flags) and (IP, customer) pairs."""
    blocks = np.frombuffer(scan.blocks, dtype=np.uint32)
    has_block = blocks != 0
    pending = np.frombuffer(scan.pending, dtype=np.uint8)[has_block].astype(np.uint32)
    ip_hashes = np.frombuffer(scan.ip_hashes, dtype=np.uint32)
    with_ip = ip_hashes != 0
    customers = np.frombuffer(scan.customer_hashes, dtype=np.uint32)[with_ip]
    return (
        blocks[has_block].tobytes(),
        pending.tobytes(),
        ip_hashes[with_ip].tobytes(),
        customers.tobytes(),
    )


def _candidates(keys: Sequence[_Keys], min_orders: int) -> tuple[Hashes, Hashes]:
    """(phone blocks that may hold duplicates, suspicious IPs) over every range's keys."""
    blocks = with_pending(_arrays(k[0] for k in keys), _arrays(k[1] for k in keys))
    ips = busy_ips(_arrays(k[2] for k in keys), _arrays(k[3] for k in keys), min_orders)
    return blocks, ips


def _locate(
    scan: RangeScan,
    candidate_blocks: Hashes,
    ip_candidates: Hashes,
    extra: dict[int, list[_RawItem]],
) -> Located:
    """The orders of the range in a candidate block or with a candidate IP, as rows."""
    blocks = np.frombuffer(scan.blocks, dtype=np.uint32)
    ip_hashes = np.frombuffer(scan.ip_hashes, dtype=np.uint32)
    in_blocks = np.isin(blocks, candidate_blocks)
    in_ips = np.isin(ip_hashes, ip_candidates)
    chosen = np.flatnonzero(in_blocks | in_ips)
    item_counts, item_offsets = scan.items_of(chosen)
    return Located(
        offsets=np.frombuffer(scan.offsets, dtype=np.int64)[chosen],
        blocks=np.where(in_blocks, blocks, 0).astype(np.uint32)[chosen],
        pending=np.frombuffer(scan.pending, dtype=np.uint8)[chosen],
        ips=np.where(in_ips, ip_hashes, 0).astype(np.uint32)[chosen],
        item_counts=item_counts,
        item_offsets=item_offsets,
        raw_items={row: extra[i] for row, i in enumerate(chosen.tolist()) if i in extra},
    )


def _recv(conn: Connection) -> Any:
    try:
        message = conn.recv()
    except EOFError:
        raise RuntimeError("bulk detection worker exited without an answer") from None
    if isinstance(message, _WorkerFailed):
        if message.bad_file:
            raise BadLine(message.error)
        raise RuntimeError(f"bulk detection worker failed: {message.error}")
    return message


def _arrays(parts: Iterable[bytes]) -> Hashes:
    """The workers' uint32 arrays (sent as bytes), one after the other."""
    arrays = [np.frombuffer(p, dtype=np.uint32) for p in parts]
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.uint32)


def with_pending(keys: Hashes, pending: Hashes) -> Hashes:
    """Keys seen at least twice in all, once at least with `pending` set (an unprocessed
    order): a phone block without one cannot hold a duplicate."""
    if not len(keys):
        return np.empty(0, dtype=np.uint32)
    unique, inverse, seen = np.unique(keys, return_inverse=True, return_counts=True)
    waiting = np.bincount(inverse, weights=pending)
    return unique[(seen >= 2) & (waiting >= 1)]


def busy_ips(ips: Hashes, customers: Hashes, min_orders: int) -> Hashes:
    """IPs with at least `min_orders` orders (one entry each) from two or more customers.

    One sort of the (IP, customer) pairs: runs of equal IPs are the orders per IP, and the
    changes of pair inside a run count its distinct customers.
    """
    if not len(ips):
        return np.empty(0, dtype=np.uint32)
    pairs = (ips.astype(np.uint64) << np.uint64(32)) | customers
    pairs.sort()
    ip = pairs >> np.uint64(32)
    new_ip = np.empty(len(pairs), dtype=bool)
    new_pair = np.empty(len(pairs), dtype=bool)
    new_ip[0] = new_pair[0] = True
    np.not_equal(ip[1:], ip[:-1], out=new_ip[1:])
    np.not_equal(pairs[1:], pairs[:-1], out=new_pair[1:])
    starts = np.flatnonzero(new_ip)
    orders = np.diff(starts, append=len(pairs))
    distinct = np.add.reduceat(new_pair.astype(np.int64), starts)
    return ip[starts][(orders >= min_orders) & (distinct >= 2)].astype(np.uint32)


@dataclass
class Located:
    """Candidate orders, one row each in file order, as columns (cheap to send and to deal).

    `block` is the order's phone block hash when it takes part in duplicate detection, `ip`
    its IP hash when it takes part in the IP report (0: not for that report). Row r's line
    items are `item_offsets[starts[r]:starts[r] + item_counts[r]]` and `raw_items[r]` (items
    another worker read, sent as (offset, raw line)), in the order of their offsets.
    """

    offsets: npt.NDArray[np.int64]
    blocks: Hashes
    pending: npt.NDArray[np.uint8]
    ips: Hashes
    item_counts: npt.NDArray[np.int64]
    item_offsets: npt.NDArray[np.int64]
    raw_items: dict[int, list[_RawItem]]

    def __len__(self) -> int:
        return len(self.offsets)

    def starts(self) -> npt.NDArray[np.int64]:
        return np.cumsum(self.item_counts) - self.item_counts

    def take(self, dup: npt.NDArray[np.bool_], ip: npt.NDArray[np.bool_]) -> Located:
        """The rows where `dup` or `ip` holds, with the other report's hash zeroed."""
        keep = dup | ip
        rows = np.flatnonzero(keep)
        new_row = np.cumsum(keep) - 1
        return Located(
            offsets=self.offsets[rows],
            blocks=np.where(dup, self.blocks, 0).astype(np.uint32)[rows],
            pending=self.pending[rows],
            ips=np.where(ip, self.ips, 0).astype(np.uint32)[rows],
            item_counts=self.item_counts[rows],
            item_offsets=self.item_offsets[np.repeat(keep, self.item_counts)],
            raw_items={int(new_row[r]): raws for r, raws in self.raw_items.items() if keep[r]},
        )

    @staticmethod
    def join(parts: Sequence[Located]) -> Located:
        raw_items: dict[int, list[_RawItem]] = {}
        base = 0
        for part in parts:
            raw_items.update({base + r: raws for r, raws in part.raw_items.items()})
            base += len(part)
        return Located(
            offsets=np.concatenate([p.offsets for p in parts]),
            blocks=np.concatenate([p.blocks for p in parts]),
            pending=np.concatenate([p.pending for p in parts]),
            ips=np.concatenate([p.ips for p in parts]),
            item_counts=np.concatenate([p.item_counts for p in parts]),
            item_offsets=np.concatenate([p.item_offsets for p in parts]),
            raw_items=raw_items,
        )


def deal(located: Sequence[Located], workers: int) -> list[Located]:
    """Each worker's share: the rows whose block (for duplicates) or IP hashes to it."""
    shares = []
    for w in range(workers):
        parts = [
            part.take(
                (part.blocks != 0) & (part.blocks % workers == w),
                (part.ips != 0) & (part.ips % workers == w),
            )
            for part in located
        ]
        shares.append(Located.join(parts))
    return shares


# --- worker ----------------------------------------------------------------------------------
class _Stages:
    """Seconds a worker spent per stage, for the parent's log line (where the time went)."""

    def __init__(self) -> None:
        self.spent: list[tuple[str, float]] = []
        self._last = time.perf_counter()

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.spent.append((stage, now - self._last))
        self._last = now

    @staticmethod
    def describe(spent: list[tuple[str, float]]) -> str:
        return " ".join(f"{stage}={seconds:.2f}" for stage, seconds in spent)


@dataclass(frozen=True)
class _WorkerFailed:
    error: str
    bad_file: bool = False


class _Lines:
    """Whole lines of the file by offset, through a memory map (a seek would drop a buffer)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self._find = self._map.find

    def at(self, offset: int) -> bytes:
        stop = self._find(b"\n", offset)
        return self._map[offset : stop if stop >= 0 else len(self._map)]

    def close(self) -> None:
        self._map.close()
        self._file.close()


def _worker(conn: Connection, path: str, params: DetectParams) -> None:
    # A short-lived process building only acyclic objects: the cyclic collector would just
    # re-scan everything it holds after every allocation burst.
    gc.disable()
    lines = _Lines(path)
    try:
        clock = _Stages()
        spec = params.scan_spec()
        scan = RangeScan()
        while (byte_range := conn.recv()) is not None:
            start, end = byte_range
            scan_lines(path, start, end, spec, into=scan)
            conn.send(None)  # ready for another range
        scan.finish()
        clock.mark("scan")
        _work(conn, lines, scan, params, clock)
    except BadLine as exc:  # the export, not the code: the parent says so
        conn.send(_WorkerFailed(str(exc), bad_file=True))
    except Exception as exc:  # reported to the parent, which raises it
        conn.send(_WorkerFailed(f"{type(exc).__name__}: {exc}"))
    finally:
        lines.close()
        conn.close()


def _work(
    conn: Connection, lines: _Lines, scan: RangeScan, params: DetectParams, clock: _Stages
) -> None:
    # 1. orphaned line items (as raw lines), phone blocks, (IP, customer) pairs
    orphans = {pid: [(at, lines.at(at)) for at in offsets] for pid, offsets in scan.orphans.items()}
    conn.send((orphans, _keys(scan)))
    del orphans
    clock.mark("keys")
    received, (candidate_blocks, ip_candidates) = conn.recv()
    clock.mark("wait")
    extra: dict[int, list[_RawItem]] = {}  # line items another worker read
    for parent_id, raws in received.items():
        i = scan.index.get(parent_id)
        if i is not None:
            extra[i] = raws
    del received

    # 2. where the candidates are: orders in a candidate phone block or with a candidate IP
    located = _locate(scan, candidate_blocks, ip_candidates, extra)
    conn.send((located, (scan.dup_scanned, scan.ip_scanned, scan.ip_without)))
    del located, extra, scan
    clock.mark("locate")

    # 3. the share dealt to this worker: whole phone blocks and whole IPs
    share: Located = conn.recv()
    clock.mark("wait")
    dups, ips = _share_reports(lines, share, params, clock)
    clock.mark("detect")
    conn.send((dups, ips, clock.spent))


def _share_reports(
    lines: _Lines, share: Located, params: DetectParams, clock: _Stages | None = None
) -> tuple[DuplicateReport, IpReport]:
    """The detectors on one worker's share (every order of its blocks and IPs is in it).

    Within a phone block only the (block, product) groups with two orders, one of them
    pending, can hold a duplicate: the other orders of the block are left out before any
    order is built.
    """
    try:
        return _detect_share(lines, share, params, clock)
    except orjson.JSONDecodeError:
        # Line items are first decoded here (the scan only located them).
        raise BadLine("a line item of the export is not valid JSON") from None


def _detect_share(
    lines: _Lines, share: Located, params: DetectParams, clock: _Stages | None
) -> tuple[DuplicateReport, IpReport]:
    loads = orjson.loads
    at = lines.at
    item_offsets = share.item_offsets.tolist()
    items: list[list[Any]] = []  # each row's line items, decoded
    keys: list[list[int]] = []  # each row's (block, product) group hashes
    counts: dict[int, list[int]] = {}  # group → [orders, pending orders]
    for row, (start, count, block, waiting) in enumerate(
        zip(
            share.starts().tolist(),
            share.item_counts.tolist(),
            share.blocks.tolist(),
            share.pending.tolist(),
            strict=True,
        )
    ):
        mine = item_offsets[start : start + count]
        others = share.raw_items.get(row)
        if others:  # in file order, whoever read them
            merged = sorted([(c, b"") for c in mine] + others)
            nodes = [loads(raw or at(c)) for c, raw in merged]
        else:
            nodes = [loads(at(c)) for c in mine]
        items.append(nodes)
        groups = []
        if block:
            for key in dict.fromkeys(_key_text(node) for node in nodes):
                if key is not None:
                    h = key_hash(key, block)
                    groups.append(h)
                    counted = counts.get(h)
                    if counted is None:
                        counts[h] = [1, waiting]
                    else:
                        counted[0] += 1
                        counted[1] += waiting
        keys.append(groups)
    if clock is not None:
        clock.mark("products")
    dup_orders: list[Order] = []
    ip_orders: list[Order] = []
    for offset, nodes, groups, ip in zip(
        share.offsets.tolist(), items, keys, share.ips.tolist(), strict=True
    ):
        dup = any(counts[h][0] >= 2 and counts[h][1] >= 1 for h in groups)
        if dup or ip:
            order = order_from_node(loads(at(offset)), nodes)
            if dup:
                dup_orders.append(order)
            if ip:
                ip_orders.append(order)
    if clock is not None:
        clock.mark("build")
    return _reports(dup_orders, ip_orders, params)


def _key_text(node: dict[str, Any]) -> str | None:
    """A line item node's product key as one string (`line_from_node` + `product_key`)."""
    get = node.get
    variant = get("variant")
    product = get("product")
    key = product_key(
        get("sku"),
        variant.get("id") if variant else None,
        product.get("id") if product else None,
        get("title") or "",
    )
    return None if key is None else f"{key[0]}\x1f{key[1]}"
