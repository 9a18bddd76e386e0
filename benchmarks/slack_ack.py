"""Ack latency of /hub under load: 200 slash commands from 20 concurrent senders.

The subcommand behind them calls a simulated integration that takes 5 s per call (harness
latency fault). Slack requires the ack within 3 s; the work runs after the ack in the work pool.
The reference run sends the same 200 commands to a subcommand that does nothing, so the ratio
shows what the slow work behind the ack costs the ack itself (ideally ~1x).

Requests go over real HTTP (uvicorn + Starlette + `bot.app.starlette_endpoint`), signed like
Slack's. Run: .venv/bin/python benchmarks/slack_ack.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COMMANDS = 200
SENDERS = 20
WORK_SECONDS = 5.0
WORKERS = 64
SLACK_LIMIT_S = 3.0
SIGNING_SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def main() -> int:
    import httpx
    from slack_sdk.signature import SignatureVerifier
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from bot.app import create_app, starlette_endpoint
    from bot.db import make_engine, upgrade
    from bot.hub import Hub
    from bot.sandbox.demo import DemoSettings
    from bot.sandbox.slack_sim import SlackSimulator, seed_default_workspace
    from handlers.registry import CommandContext, subcommand
    from integrations.runtime.harness import Fault, SimulatorServer

    async def slow(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    upstream = SimulatorServer(Starlette(routes=[Route("/slow", slow)]), name="slow")
    upstream.faults.add("/slow", Fault(latency=WORK_SECONDS))
    sim = SlackSimulator(bot_token=TOKEN)
    seed_default_workspace(sim)
    tmp = tempfile.TemporaryDirectory(prefix="bench-ack-")
    with upstream, sim.server():
        settings = DemoSettings(
            database_url=f"sqlite:///{Path(tmp.name) / 'bench.db'}",
            slack_bot_token=TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_base_url=sim.base_url,
            hub_worker_threads=WORKERS,
        )
        engine = make_engine(settings.database_url)
        upgrade(engine)
        hub = Hub.create(settings, engine=engine)
        client = hub.runtime.client("bench", upstream.base_url)

        @subcommand("lento", usage="/hub lento <id>", summary="benchmark: 5 s upstream call")
        def slow_command(ctx: CommandContext) -> None:
            client.json("GET", "/slow", operation="slow")
            ctx.reply(f"pronto {ctx.args[0]}")

        @subcommand("rapido", usage="/hub rapido <id>", summary="benchmark: no work")
        def fast_command(ctx: CommandContext) -> None:
            ctx.reply(f"pronto {ctx.args[0]}")

        app = create_app(settings, hub=hub)
        web = SimulatorServer(
            Starlette(routes=[Route("/slack/events", starlette_endpoint(app), methods=["POST"])]),
            name="web",
        )
        verifier = SignatureVerifier(SIGNING_SECRET)
        with web:

            def run(sub: str, tag: str) -> tuple[list[float], float]:
                latencies: list[float] = []
                lock = threading.Lock()

                def sender(index: int) -> None:
                    with httpx.Client(base_url=web.base_url, timeout=30) as http:
                        for n in range(COMMANDS // SENDERS):
                            ident = f"{tag}-{index}-{n}"
                            body = urlencode(
                                {
                                    "command": "/hub",
                                    "text": f"{sub} {ident}",
                                    "user_id": f"U0BENCH{index:03d}",
                                    "channel_id": "C0GENERAL1",
                                    "team_id": "T0CHEGOU01",
                                    "response_url": sim.response_url("C0GENERAL1", "U0X"),
                                    "trigger_id": "1.2.3",
                                }
                            )
                            ts = str(int(time.time()))
                            headers = {
                                "content-type": "application/x-www-form-urlencoded",
                                "x-slack-request-timestamp": ts,
                                "x-slack-signature": verifier.generate_signature(
                                    timestamp=ts, body=body
                                )
                                or "",
                            }
                            t0 = time.perf_counter()
                            response = http.post("/slack/events", content=body, headers=headers)
                            elapsed = time.perf_counter() - t0
                            if response.status_code != 200:
                                raise RuntimeError(f"ack failed: {response.status_code}")
                            with lock:
                                latencies.append(elapsed)

                started = time.perf_counter()
                with ThreadPoolExecutor(SENDERS) as pool:
                    list(pool.map(sender, range(SENDERS)))
                if not app.wait_idle(timeout=COMMANDS * WORK_SECONDS):
                    raise RuntimeError("work did not finish")
                return latencies, time.perf_counter() - started

            # Warm-up (imports, first auth.test, connection pools).
            run("rapido", "warm")
            ref, ref_total = run("rapido", "ref")
            load, load_total = run("lento", "load")
        replies = {m.text for m in sim.ephemerals() if m.text.startswith("pronto load-")}
        expected = {
            f"pronto load-{i}-{n}" for i in range(SENDERS) for n in range(COMMANDS // SENDERS)
        }
        app.close()
        hub.close()

    def line(name: str, values: list[float]) -> str:
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        return (
            f"{name:<34} P50 {p50:7.1f} ms   P99 {p99:7.1f} ms   max {max(values) * 1000:7.1f} ms"
        )

    print(f"{COMMANDS} commands, {SENDERS} concurrent senders, work pool {WORKERS} threads")
    print(line("reference (no work behind ack)", ref))
    print(line(f"load ({WORK_SECONDS:.0f} s upstream behind ack)", load))
    p99 = percentile(load, 99)
    print(
        f"P99 / Slack's 3 s limit: {p99 / SLACK_LIMIT_S:.3f}  (goal P99 < 300 ms: "
        f"{'met' if p99 < 0.3 else 'NOT met'})"
    )
    print(f"P99 under load / reference P99: {p99 / percentile(ref, 99):.2f}x")
    print(
        f"mean ack under load: {statistics.mean(load) * 1000:.1f} ms; all work done in "
        f"{load_total:.1f} s (ideal {COMMANDS / WORKERS * WORK_SECONDS:.1f} s); "
        f"reference run {ref_total:.1f} s"
    )
    missing = expected - replies
    print(f"full replies received: {len(expected) - len(missing)}/{len(expected)}")
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
