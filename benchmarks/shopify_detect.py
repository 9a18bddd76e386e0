"""Shopify detectors at scale, and fetch throughput against the simulator's throttle.

1. Writes 1,000,000 deterministic orders as a bulk-operation JSONL file (order lines plus
   `__parentId` line-item lines, children not adjacent to their parent), with COD-shaped data:
   repeat customers writing their phone in other formats, processed tags in any case, the
   `cheho` substring trap, null SKUs, cancelled orders, shared IPs (IPv4 and IPv6, in the
   `IP address` attribute or in clientIp), several currencies.
2. Runs the hub's bulk pipeline (`bulk_detect.detect_file`: typed scan of each byte range
   down to grouping keys, candidates dealt out by phone block and IP, the ordinary detectors
   on the candidates; 2 worker processes like DuckDB's 2 threads), the same in one process
   (and with `--plain` the plain path that builds every order), and DuckDB computing the same
   groups from the same file, each in its own process (wall time, peak RSS: the workers'
   memory is not in the parent's figure, and RSS counts the pages of the memory-mapped file
   that were read), and checks all of them give the same certain duplicates and the same
   suspicious IPs. The hub and DuckDB runs alternate for `--rounds` rounds (this machine's
   speed drifts by tens of percent within minutes); the ratio is of the medians, and each
   round's own ratio is printed too.
   DuckDB's phone normalisation is SQL written for the formats this generator emits (the hub
   uses libphonenumber plus country fixes, which DuckDB cannot run); the hub side also pays
   for `possible` (last-9-digits) findings, which the comparison leaves out.
3. Fetches orders page by page from the simulator (real HTTP, real clock) and prints the points
   consumed as a fraction of what the leaky bucket allowed in that time (goal >= 90 %), plus
   the number of THROTTLED answers (goal: 0).

    .venv/bin/python benchmarks/shopify_detect.py [--orders 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
DUP_WINDOW_DAYS = 30
IP_DAYS = 45
SPAN_DAYS = 45
PROCESSED = ("order sent to dropi", "dropi sync error", "eh", "p cod", "prime cod")


# --- data ----------------------------------------------------------------------------------------
def generate(path: Path, n_orders: int, seed: int = 7) -> dict[str, int]:
    from integrations.shopify.sandbox import COUNTRIES, national_number, phone_variants

    rng = random.Random(seed)
    countries = ["BR"] * 5 + ["MX", "MX", "CL", "CO", "HR"]
    skus = [f"SKU-{i:03d}" for i in range(40)]
    titles = [f"Produto Ótimo nº {i}" for i in range(40)]
    customers: list[tuple[str, str, str, str]] = []  # (gid, country, national, home ip)
    favourite: dict[str, int] = {}
    cluster_ips = [
        f"187.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(2500)
    ] + [f"2804:14c:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}" for _ in range(500)]
    start = NOW - timedelta(days=SPAN_DAYS)
    step = SPAN_DAYS * 86400 / n_orders
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    pending: list[str] = []
    stats: Counter[str] = Counter()
    with path.open("w", encoding="utf-8") as out:
        for i in range(n_orders):
            created = start + timedelta(seconds=i * step + rng.random() * step)
            repeat = customers and rng.random() < 0.12
            if repeat:
                cust, country, national, home_ip = customers[
                    -1 - rng.randrange(min(len(customers), 40_000))
                ]
                stats["repeat"] += 1
            else:
                country = rng.choice(countries)
                national = national_number(country, rng)
                cust = f"gid://shopify/Customer/{len(customers) + 1}"
                favourite[cust] = len(customers) % 40
                v6 = rng.random() < 0.1
                home_ip = (
                    f"2001:db8:{rng.randrange(1, 0xFFFF):x}:{rng.randrange(1, 0xFFFF):x}::1"
                    if v6
                    else ".".join(
                        str(x)
                        for x in (
                            rng.randrange(1, 224),
                            rng.randrange(256),
                            rng.randrange(256),
                            rng.randrange(1, 255),
                        )
                    )
                )
                customers.append((cust, country, national, home_ip))
            phone: str | None = rng.choice(phone_variants(country, national))
            if rng.random() < 0.01:
                phone = rng.choice([None, "0000", "n/a"])
            elif repeat and rng.random() < 0.01:  # wrong country code typed: `possible` only
                phone = f"+1 {national[-10:]}"
            ip = rng.choice(cluster_ips) if rng.random() < 0.03 else home_ip
            if ":" in ip and rng.random() < 0.3:
                ip = ip.upper()
            attrs = []
            client_ip: str | None
            if rng.random() < 0.7:
                attrs.append({"key": rng.choice(["IP address", "ip address"]), "value": ip})
                client_ip = "35.190.21.8"
            else:
                client_ip = ip
                if rng.random() < 0.05:
                    attrs.append({"key": "IP address", "value": "unknown"})
            r = rng.random()
            tags: list[str] = []
            if r < 0.45:
                t = rng.choice(PROCESSED)
                tags = [rng.choice([t, t.upper(), t.title()])]
            elif r < 0.5:
                tags = ["cheho"]
            oid = f"gid://shopify/Order/{5_000_000 + i}"
            order = {
                "id": oid,
                "name": f"#{10_000 + i}",
                "createdAt": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "cancelledAt": (created + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                if rng.random() < 0.04
                else None,
                "tags": tags,
                "phone": None,
                "email": None,
                "clientIp": client_ip,
                "customAttributes": attrs,
                "customer": {"id": cust, "displayName": "Cliente", "defaultPhoneNumber": None},
                "shippingAddress": {"phone": phone, "countryCodeV2": country},
                "billingAddress": {"phone": None, "countryCodeV2": country},
                "totalPriceSet": {
                    "shopMoney": {
                        "amount": f"{rng.randrange(5000, 40000) / 100:.2f}",
                        "currencyCode": COUNTRIES[country]["currency"],
                    }
                },
            }
            out.write(dumps(order))
            out.write("\n")
            if pending:
                out.write("\n".join(pending))
                out.write("\n")
            n_lines = 1 if rng.random() < 0.8 else (2 if rng.random() < 0.85 else 3)
            pending = []
            # repeat buyers usually buy the same product again (the duplicates)
            base = favourite[cust] if rng.random() < 0.6 else rng.randrange(40)
            for j in range(n_lines):
                p = base if j == 0 else rng.randrange(40)
                kind = rng.random()
                line = {
                    "id": f"gid://shopify/LineItem/{(5_000_000 + i) * 4 + j}",
                    "sku": skus[p] if kind < 0.88 else (rng.choice([None, ""])),
                    "title": titles[p],
                    "quantity": 1,
                    "variant": {"id": f"gid://shopify/ProductVariant/{p}"} if kind < 0.97 else None,
                    "product": {"id": f"gid://shopify/Product/{p}"} if kind < 0.99 else None,
                    "__parentId": oid,
                }
                pending.append(dumps(line))
        if pending:
            out.write("\n".join(pending))
            out.write("\n")
    stats["orders"] = n_orders
    stats["customers"] = len(customers)
    return dict(stats)


# --- the two implementations ------------------------------------------------------------
def run_hub(path: Path, workers: int | None = None) -> dict[str, Any]:
    """The hub's bulk path (`bulk_detect.detect_file`, what the reports run for long windows)."""
    from integrations.shopify.bulk_detect import DetectParams, detect_file

    t0 = time.perf_counter()
    params = DetectParams(
        now=NOW, dup_days=DUP_WINDOW_DAYS, ip_days=IP_DAYS, min_orders=2, processed_tags=PROCESSED
    )
    dups, ips = detect_file(path, params, workers=workers)
    wall = time.perf_counter() - t0
    return _hub_result(dups, ips, wall, workers)


def run_hub_one_process(path: Path) -> dict[str, Any]:
    """The same pipeline in this process (what a one-core machine runs)."""
    return run_hub(path, workers=1)


def run_plain(path: Path) -> dict[str, Any]:
    """Every order built and both detectors on all (`detect_every_order`, the tests' reference)."""
    from integrations.shopify.bulk_detect import DetectParams, detect_every_order

    t0 = time.perf_counter()
    params = DetectParams(
        now=NOW, dup_days=DUP_WINDOW_DAYS, ip_days=IP_DAYS, min_orders=2, processed_tags=PROCESSED
    )
    dups, ips = detect_every_order(path, params)
    return _hub_result(dups, ips, time.perf_counter() - t0, 1)


def _hub_result(dups: Any, ips: Any, wall: float, workers: int | None) -> dict[str, Any]:
    pairs = sorted(
        [f.kept.id, d.id] for f in dups.findings if f.confidence == "certain" for d in f.duplicates
    )
    entries = sorted(
        [
            e.ip,
            len(e.orders),
            e.cancelled_orders,
            len(e.customers),
            sorted([c, str(v)] for c, v in e.totals.items()),
        ]
        for e in ips.entries
    )
    return {
        "wall": wall,
        "workers": workers or min(2, os.cpu_count() or 1),
        "pairs": pairs,
        "ips": entries,
        "possible": sum(1 for f in dups.findings if f.confidence == "possible"),
    }


SQL_E164 = r"""
CREATE MACRO digits(p) AS regexp_replace(p, '[^0-9]', '', 'g');
CREATE MACRO e164(p, c) AS (
  CASE
    WHEN p IS NULL OR length(digits(p)) < 7 THEN NULL
    WHEN starts_with(ltrim(p), '+') OR starts_with(ltrim(p), '00') THEN (
      WITH x AS (SELECT CASE WHEN starts_with(ltrim(p), '00') THEN digits(p)[3:]
                             ELSE digits(p) END AS d)
      SELECT CASE
        WHEN d LIKE '52%' AND length(d) = 13 AND d[3] = '1' THEN '52' || d[4:]
        WHEN d LIKE '560%' THEN '56' || d[4:]
        WHEN d LIKE '5703%' AND length(d) = 14 THEN '57' || d[5:]
        WHEN d LIKE '570%' THEN '57' || d[4:]
        ELSE d END FROM x)
    ELSE (
      WITH x AS (SELECT digits(p) AS d)
      SELECT CASE c
        WHEN 'MX' THEN CASE
          WHEN length(d) = 13 AND (d LIKE '044%' OR d LIKE '045%') THEN '52' || d[4:]
          WHEN length(d) = 12 AND d LIKE '01%' THEN '52' || d[3:]
          WHEN length(d) = 11 AND d LIKE '1%' THEN '52' || d[2:]
          WHEN length(d) = 12 AND d LIKE '52%' THEN d
          ELSE '52' || d END
        WHEN 'CL' THEN CASE WHEN d LIKE '0%' THEN '56' || d[2:]
          WHEN length(d) = 11 AND d LIKE '56%' THEN d ELSE '56' || d END
        WHEN 'CO' THEN CASE WHEN d LIKE '03%' AND length(d) = 12 THEN '57' || d[3:]
          WHEN d LIKE '0%' THEN '57' || d[2:]
          WHEN length(d) = 12 AND d LIKE '57%' THEN d ELSE '57' || d END
        WHEN 'BR' THEN CASE WHEN length(d) = 13 AND d LIKE '55%' THEN d
          WHEN d LIKE '0%' THEN '55' || d[2:] ELSE '55' || d END
        WHEN 'HR' THEN CASE WHEN d LIKE '0%' THEN '385' || d[2:] ELSE '385' || d END
        ELSE NULL END FROM x)
  END);
"""

SQL_LOAD = r"""
CREATE TABLE raw AS SELECT * FROM read_ndjson(?, columns = {
  'id': 'VARCHAR', 'createdAt': 'TIMESTAMPTZ', 'cancelledAt': 'TIMESTAMPTZ', 'tags': 'VARCHAR[]',
  'phone': 'VARCHAR', 'clientIp': 'VARCHAR',
  'customAttributes': 'STRUCT(key VARCHAR, value VARCHAR)[]',
  'customer': 'STRUCT(id VARCHAR, defaultPhoneNumber STRUCT(phoneNumber VARCHAR))',
  'shippingAddress': 'STRUCT(phone VARCHAR, countryCodeV2 VARCHAR)',
  'billingAddress': 'STRUCT(phone VARCHAR, countryCodeV2 VARCHAR)',
  'totalPriceSet': 'STRUCT(shopMoney STRUCT(amount DECIMAL(18,2), currencyCode VARCHAR))',
  'sku': 'VARCHAR', 'title': 'VARCHAR', 'variant': 'STRUCT(id VARCHAR)',
  'product': 'STRUCT(id VARCHAR)', '__parentId': 'VARCHAR'
});
CREATE TABLE orders AS SELECT
  id, createdAt AS created, cancelledAt AS cancelled, customer.id AS cust,
  coalesce(nullif(trim(phone), ''), nullif(trim(shippingAddress.phone), ''),
           nullif(trim(customer.defaultPhoneNumber.phoneNumber), ''),
           nullif(trim(billingAddress.phone), '')) AS phone,
  coalesce(shippingAddress.countryCodeV2, billingAddress.countryCodeV2) AS country,
  len(list_filter(tags, lambda t: lower(trim(t)) IN ({processed}))) > 0 AS processed,
  (list_filter(customAttributes, lambda a: lower(a.key) = 'ip address'))[1].value AS attr_ip,
  clientIp, totalPriceSet.shopMoney.amount AS amount,
  totalPriceSet.shopMoney.currencyCode AS currency
FROM raw WHERE "__parentId" IS NULL;
CREATE TABLE lines AS SELECT "__parentId" AS order_id,
  CASE WHEN nullif(trim(sku), '') IS NOT NULL THEN 'sku:' || lower(trim(sku))
       WHEN variant.id IS NOT NULL THEN 'variant:' || variant.id
       WHEN product.id IS NOT NULL THEN 'product:' || product.id
       ELSE 'title:' || trim(regexp_replace(regexp_replace(lower(strip_accents(title)),
            '[^a-z0-9_\s]', ' ', 'g'), '\s+', ' ', 'g')) END AS pkey
FROM raw WHERE "__parentId" IS NOT NULL;
"""

SQL_DUPS = """
WITH base AS (
  SELECT id, created, processed, e164(phone, country) AS e164 FROM orders
  WHERE cancelled IS NULL AND created >= ?::TIMESTAMPTZ - INTERVAL {days} DAY
    AND created <= ?::TIMESTAMPTZ
), pairs AS (
  SELECT DISTINCT b.id, b.created, b.processed, b.e164, l.pkey
  FROM base b JOIN lines l ON l.order_id = b.id
  WHERE b.e164 IS NOT NULL AND l.pkey <> 'title:'
), grp AS (
  SELECT e164, pkey, count(*) AS n,
    bool_or(processed) AS anyp,
    count(*) FILTER (WHERE NOT processed) AS npending,
    arg_max(id, (created, id)) FILTER (WHERE processed) AS kp,
    max(created) FILTER (WHERE processed) AS kpc,
    arg_min(id, (created, id)) FILTER (WHERE NOT processed) AS ku,
    min(created) FILTER (WHERE NOT processed) AS kuc
  FROM pairs GROUP BY e164, pkey HAVING count(*) >= 2 AND npending >= 1
), kept AS (
  SELECT e164, pkey, CASE WHEN anyp THEN kp ELSE ku END AS kid,
         CASE WHEN anyp THEN kpc ELSE kuc END AS kc FROM grp
)
SELECT k.kid, p.id FROM pairs p JOIN kept k USING (e164, pkey)
WHERE NOT p.processed AND p.id <> k.kid
  AND abs(epoch(p.created) - epoch(k.kc)) <= {days} * 86400
"""

SQL_IPS = """
WITH src AS (
  SELECT *, CASE
    WHEN regexp_full_match(attr_ip, '\\d{{1,3}}(\\.\\d{{1,3}}){{3}}')
      OR (contains(attr_ip, ':') AND regexp_full_match(attr_ip, '[0-9A-Fa-f:]+')) THEN attr_ip
    ELSE clientIp END AS raw_ip
  FROM orders
  WHERE created >= ?::TIMESTAMPTZ - INTERVAL {days} DAY AND created <= ?::TIMESTAMPTZ
), o AS (
  SELECT lower(raw_ip) AS ip, * EXCLUDE (raw_ip) FROM src WHERE raw_ip IS NOT NULL
), s AS (
  SELECT ip, count(*) AS n, count(cancelled) AS nc, count(DISTINCT cust) AS nd
  FROM o GROUP BY ip HAVING count(*) >= 2 AND count(DISTINCT cust) >= 2
), t AS (
  SELECT ip, currency, sum(amount) AS total FROM o
  WHERE cancelled IS NULL AND ip IN (SELECT ip FROM s) GROUP BY ip, currency
)
SELECT s.ip, s.n, s.nc, s.nd,
  coalesce((SELECT list([t.currency, t.total::VARCHAR] ORDER BY t.currency)
            FROM t WHERE t.ip = s.ip), []) AS totals
FROM s
"""


def run_duckdb(path: Path) -> dict[str, Any]:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(SQL_E164)
    processed = ", ".join(f"'{t}'" for t in PROCESSED)
    for statement in SQL_LOAD.replace("{processed}", processed).split(";"):
        if statement.strip():
            params = [str(path)] if "read_ndjson" in statement else []
            con.execute(statement, params)
    now = NOW.isoformat()
    pairs = sorted(
        [k, d] for k, d in con.execute(SQL_DUPS.format(days=DUP_WINDOW_DAYS), [now, now]).fetchall()
    )
    ips = sorted(
        [ip, n, nc, nd, [list(x) for x in totals]]
        for ip, n, nc, nd, totals in con.execute(
            SQL_IPS.format(days=IP_DAYS), [now, now]
        ).fetchall()
    )
    return {"wall": time.perf_counter() - t0, "pairs": pairs, "ips": ips}


def _child(phase: str, path: Path, out: Path) -> None:
    if phase == "hub":
        result = run_hub(path)
    elif phase == "hub1":
        result = run_hub_one_process(path)
    elif phase == "plain":
        result = run_plain(path)
    else:
        result = run_duckdb(path)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the largest worker process (0 when there were none)
    result["worker_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out.write_text(json.dumps(result))


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (the upper one of an even count)."""
    return sorted(results, key=lambda r: r["wall"])[len(results) // 2]


def _spawn(phase: str, path: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / f"{phase}.json"
    subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--file", str(path), "--out", str(out)],
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.read_text())


# --- fetch throughput ------------------------------------------------------------
def fetch_throughput(n_orders: int, restore_rate: float, bucket: float) -> dict[str, float]:
    import random as _random

    from bot.clock import SYSTEM_CLOCK
    from bot.hub import Hub
    from bot.settings import Settings
    from integrations.runtime.harness import SimulatorServer
    from integrations.shopify.client import ShopifyClient
    from integrations.shopify.sandbox import DEMO_TOKEN, StoreBuilder
    from integrations.shopify.simulator import Bucket, Shop, ShopifySimulator

    sim = ShopifySimulator(clock=SYSTEM_CLOCK)
    shop = sim.add_shop(
        Shop(
            domain="bench.myshopify.com",
            name="Bench",
            access_tokens={DEMO_TOKEN},
            bucket=Bucket(maximum=bucket, restore_rate=restore_rate, available=bucket),
        )
    )
    builder = StoreBuilder(shop, "BR", SYSTEM_CLOCK.now(), 11)
    builder.rng = _random.Random(11)
    builder.background(n_orders, days=20)
    with (
        SimulatorServer(sim.app, name="shopify-bench") as server,
        tempfile.TemporaryDirectory(prefix="shopify-fetch-") as db_dir,
    ):
        sim.base_url = server.base_url
        db_url = f"sqlite:///{db_dir}/hub.db"
        settings = Settings(
            _env_file=None,
            database_url=db_url,
            shopify_stores={
                "bench": {
                    "shop_url": "bench.myshopify.com",
                    "access_token": DEMO_TOKEN,
                    "api_base_url": f"{server.base_url}/bench.myshopify.com",
                }
            },
        )
        from bot.db import make_engine, upgrade

        engine = make_engine(db_url)
        upgrade(engine)  # the runtime records every call in api_calls
        hub = Hub.create(settings, engine=engine)
        client = ShopifyClient(hub, "bench", settings.shopify_stores["bench"])
        t0 = time.monotonic()
        points0 = shop.points_charged
        result = client.fetch_orders(25)
        elapsed = time.monotonic() - t0
        used = shop.points_charged - points0
        left = shop.bucket.refill(SYSTEM_CLOCK.monotonic())
        hub.close()
    allowed = bucket + restore_rate * elapsed
    return {
        "orders": len(result.orders),
        "seconds": elapsed,
        "points_used": used,
        "points_allowed": allowed,
        "fraction": used / allowed,
        # the points still in the bucket at the end could only have been used by fetching
        # more; without them the fraction shows the restore capacity lost while pacing
        "fraction_paced": used / (allowed - left),
        "left": left,
        "throttled": shop.throttled,
        "requests": shop.requests,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fetch-orders", type=int, default=800)
    parser.add_argument("--restore-rate", type=float, default=250.0)
    parser.add_argument("--bucket", type=float, default=1000.0)
    parser.add_argument("--phase", choices=["hub", "hub1", "plain", "duckdb"])
    parser.add_argument(
        "--plain", action="store_true", help="also time the plain path (every order built)"
    )
    parser.add_argument("--file")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.phase:
        _child(args.phase, Path(args.file), Path(args.out))
        return 0
    ok = True
    with tempfile.TemporaryDirectory(prefix="shopify-bench-") as tmpdir:
        tmp = Path(tmpdir)
        path = tmp / "bulk.jsonl"
        t0 = time.perf_counter()
        stats = generate(path, args.orders)
        size_mb = os.path.getsize(path) / 1e6
        print(
            f"generated {stats['orders']:,} orders ({stats['customers']:,} customers, "
            f"{stats.get('repeat', 0):,} repeat orders) as {size_mb:,.0f} MB JSONL "
            f"in {time.perf_counter() - t0:.1f}s"
        )
        hubs: list[dict[str, Any]] = []
        ducks: list[dict[str, Any]] = []
        for _ in range(args.rounds):
            hubs.append(_spawn("hub", path, tmp))
            ducks.append(_spawn("duckdb", path, tmp))
        hub1 = _spawn("hub1", path, tmp)
        plain = _spawn("plain", path, tmp) if args.plain else None
    hub, duck = _median(hubs), _median(ducks)
    hub_walls = ", ".join(f"{r['wall']:.2f}" for r in hubs)
    duck_walls = ", ".join(f"{r['wall']:.2f}" for r in ducks)
    others = [hub1] if plain is None else [hub1, plain]
    same_pairs = all(r["pairs"] == duck["pairs"] for r in (*hubs, *ducks, *others))
    same_ips = all(r["ips"] == duck["ips"] for r in (*hubs, *ducks, *others))
    ratio = hub["wall"] / duck["wall"]
    print(
        f"hub pipeline : {hub['wall']:.2f}s median of {len(hubs)} "
        f"({hub_walls}) on {hub['workers']} worker "
        f"process(es), peak RSS {hub['peak_rss_mb']:,.0f} MB (parent) + "
        f"{hub['worker_rss_mb']:,.0f} MB (largest worker); "
        f"{len(hub['pairs']):,} certain duplicates, "
        f"{hub['possible']:,} possible findings, {len(hub['ips']):,} suspicious IPs"
    )
    print(
        f"hub, 1 process: {hub1['wall']:.2f}s, peak RSS {hub1['peak_rss_mb']:,.0f} MB "
        f"({hub1['wall'] / duck['wall']:.2f}x DuckDB)"
    )
    if plain is not None:
        print(
            f"plain path   : {plain['wall']:.2f}s (every order built), peak RSS "
            f"{plain['peak_rss_mb']:,.0f} MB ({plain['wall'] / duck['wall']:.2f}x DuckDB)"
        )
    print(
        f"duckdb       : {duck['wall']:.2f}s median of {len(ducks)} "
        f"({duck_walls}), peak RSS "
        f"{duck['peak_rss_mb']:,.0f} MB; "
        f"{len(duck['pairs']):,} certain duplicates, {len(duck['ips']):,} suspicious IPs"
    )
    rounds = ", ".join(f"{h['wall'] / d['wall']:.2f}x" for h, d in zip(hubs, ducks, strict=True))
    print(f"ratio hub/duckdb: {ratio:.2f}x of the medians (goal <= 2x); per round: {rounds}")
    print(f"same duplicate pairs: {same_pairs}; same IP groups: {same_ips}")
    if not (same_pairs and same_ips):
        ok = False
        for name in ("pairs", "ips"):
            a = {json.dumps(x) for x in hub[name]}
            b = {json.dumps(x) for x in duck[name]}
            print(f"  {name}: only hub {sorted(a - b)[:3]} only duckdb {sorted(b - a)[:3]}")
    fetch = fetch_throughput(args.fetch_orders, args.restore_rate, args.bucket)
    print(
        f"fetch: {fetch['orders']:,} orders in {fetch['seconds']:.1f}s over "
        f"{fetch['requests']:.0f} "
        f"requests; points used {fetch['points_used']:,.0f} of {fetch['points_allowed']:,.0f} "
        f"allowed by the bucket ({args.bucket:.0f} + {args.restore_rate:.0f}/s) = "
        f"{fetch['fraction']:.1%} of the theoretical maximum (goal >= 90%); "
        f"{fetch['fraction_paced']:.1%} not counting the {fetch['left']:,.0f} points left in "
        f"the bucket at the end; THROTTLED answers: {fetch['throttled']:.0f}"
    )
    if fetch["throttled"]:
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
