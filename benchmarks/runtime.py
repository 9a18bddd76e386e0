"""Integration runtime benchmark, against one local simulator (the harness).

1. Per-call overhead: median latency of `ServiceClient.request` (rate limiter, retry wrapper,
   call record into the batched buffer, Prometheus) vs a bare `httpx.Client.get` with the same
   pooling, against the same server in the same run. Printed as a ratio (runtime / bare).
2. Single-flight: 50 threads make the same cacheable call at once; the collapse factor is
   50 / upstream calls (reference: the same 50 calls without `cache=True`).

    .venv/bin/python benchmarks/runtime.py [--calls 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.db import make_engine, upgrade
from bot.settings import Settings
from integrations.runtime.client import Runtime
from integrations.runtime.harness import SimulatorServer

CONCURRENT = 50


class Upstream:
    def __init__(self) -> None:
        self.slow_calls = 0
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/ping", self.ping), Route("/report", self.report)])

    async def ping(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "items": list(range(20))})

    async def report(self, request: Request) -> Response:
        with self._lock:
            self.slow_calls += 1
        await asyncio.sleep(0.05)  # a slow vendor report: concurrent callers overlap
        return JSONResponse({"total": "123.45", "currency": "USD"})


def _median_ms(fn: Callable[[], object], n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def _concurrent(fn: Callable[[], object], n: int) -> None:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            fn()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} concurrent calls failed: {errors[0]!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=400, help="calls per measurement block")
    parser.add_argument("--rounds", type=int, default=5, help="alternating blocks per side")
    args = parser.parse_args(argv)

    upstream = Upstream()
    with tempfile.TemporaryDirectory() as tmp, SimulatorServer(upstream.app, name="bench") as sim:
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            hub_rate_limits={"bench": {"rate": 1e9, "burst": 1e9}},
            hub_cache_ttls={"bench": 300},
        )
        engine = make_engine(settings.database_url)
        upgrade(engine)
        runtime = Runtime(settings, engine)
        client = runtime.client("bench", sim.base_url, headers={"Authorization": "Bearer x" * 3})
        timeout = httpx.Timeout(
            settings.http_read_timeout_seconds, connect=settings.http_connect_timeout_seconds
        )
        bare = httpx.Client(
            base_url=sim.base_url, headers={"Authorization": "Bearer x" * 3}, timeout=timeout
        )
        try:
            # Warm up both connection pools and the server.
            for _ in range(50):
                bare.get("/ping").json()
                client.json("GET", "/ping", operation="ping")

            bare_req, rt_req, bare_json, rt_json = [], [], [], []
            for _ in range(args.rounds):  # alternate blocks so drift hits both sides alike
                bare_req.append(_median_ms(lambda: bare.get("/ping"), args.calls))
                rt_req.append(
                    _median_ms(lambda: client.request("GET", "/ping", operation="ping"), args.calls)
                )
                bare_json.append(_median_ms(lambda: bare.get("/ping").json(), args.calls))
                rt_json.append(
                    _median_ms(lambda: client.json("GET", "/ping", operation="ping"), args.calls)
                )
            b, r = statistics.median(bare_req), statistics.median(rt_req)
            bj, rj = statistics.median(bare_json), statistics.median(rt_json)
            runtime.flush()
            calls = args.rounds * args.calls * 2
            print(f"== per-call overhead ({calls} calls per side, median of block medians)")
            print(f"bare httpx GET          {b * 1000:8.1f} µs")
            print(f"runtime request()       {r * 1000:8.1f} µs   ratio {r / b:5.2f}x")
            print(f"bare httpx GET + json   {bj * 1000:8.1f} µs")
            print(f"runtime json()          {rj * 1000:8.1f} µs   ratio {rj / bj:5.2f}x")
            print(f"absolute overhead       {(r - b) * 1000:8.1f} µs per call")
            print(
                f"api_calls rows written  {runtime.recorder.rows_written} "
                f"in {runtime.recorder.flushes} batch(es)"
            )

            print(f"\n== single-flight ({CONCURRENT} concurrent identical calls, 50 ms upstream)")
            factors = []
            for _ in range(args.rounds):
                runtime.cache("bench").invalidate()
                before = upstream.slow_calls
                _concurrent(
                    lambda: client.json("GET", "/report", operation="report", cache=True),
                    CONCURRENT,
                )
                factors.append(CONCURRENT / (upstream.slow_calls - before))
            before = upstream.slow_calls
            _concurrent(lambda: client.json("GET", "/report", operation="report"), CONCURRENT)
            reference = upstream.slow_calls - before
            print(f"without cache: {reference} upstream calls for {CONCURRENT} callers")
            print(
                "with cache=True: collapse factor per round "
                + ", ".join(f"{f:g}" for f in factors)
                + f" (median {statistics.median(factors):g}x)"
            )
        finally:
            bare.close()
            runtime.close()
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
