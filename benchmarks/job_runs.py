"""Jobs: what a run's bookkeeping costs, and that a saturated low-priority pool does not slow a
critical job.

    .venv/bin/python benchmarks/job_runs.py

1. Per-run overhead: a no-op `once_per_slot` job run through `JobRunner.execute` (claim INSERT,
   run INSERT, finish UPDATE, claim UPDATE) on a SQLite file, against one INSERT + COMMIT.
2. Critical latency: time from `tick()` to an alert job's completion while more backfills than
   low threads run (each holds its thread 0.5 s), on the critical pool, against the reference
   of the same alert queued in the low pool.
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bot.clock import FakeClock
from bot.db import make_engine, upgrade
from bot.hub import Hub
from bot.notify import RecordingNotifier
from bot.settings import Settings
from jobs.registry import JobContext, JobSpec, Priority
from jobs.runs import JobRunner
from jobs.scheduler import PRIORITY_WORKERS, HubScheduler

RUNS = 300
BACKFILL_SECONDS = 0.5


def _hub(tmp: Path, clock: FakeClock) -> Hub:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        hub_channel_alerts="C1",
        jobs_leader_lease_seconds=86400,  # the fake clock jumps a minute per round
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return Hub.create(settings, engine=engine, clock=clock, notifier=RecordingNotifier())


def run_overhead(tmp: Path) -> None:
    hub = _hub(tmp, FakeClock())
    calls = 0

    def noop(ctx: JobContext) -> None:
        nonlocal calls
        calls += 1

    spec = JobSpec("bench.noop", noop, "normal", {"hour": 8})
    runner = JobRunner(hub, {spec.id: spec})
    t0 = time.perf_counter()
    for i in range(RUNS):
        runner.execute(spec, f"slot-{i}")
    recorded = (time.perf_counter() - t0) / RUNS
    # Reference: one durable write (INSERT + COMMIT) on the same database.
    with hub.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_ref (id INTEGER PRIMARY KEY, v TEXT)"))
    t0 = time.perf_counter()
    for i in range(RUNS):
        with hub.engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_ref (v) VALUES (:v)"), {"v": str(i)})
    write = (time.perf_counter() - t0) / RUNS
    assert calls == RUNS
    print(
        f"run bookkeeping (claim, run record, finish): {recorded * 1000:.2f} ms per run "
        f"({1 / recorded:.0f} runs/s) on SQLite; one INSERT+COMMIT {write * 1000:.2f} ms; "
        f"ratio {recorded / write:.1f} durable writes per run"
    )
    hub.close()


def critical_latency(tmp: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 3, 10, 0, 30, tzinfo=UTC))
    hub = _hub(tmp, clock)
    done = threading.Event()

    def backfill(ctx: JobContext) -> None:
        time.sleep(BACKFILL_SECONDS)  # a slow sync holding its thread

    n_low = PRIORITY_WORKERS["low"] + 2
    backfills = [
        JobSpec(f"bench.low{i}", backfill, "low", None, {"minutes": 1}) for i in range(n_low)
    ]

    def measure(priority: Priority, rounds: int) -> float:
        alert = JobSpec("bench.alert", lambda ctx: done.set(), priority, None, {"minutes": 1})
        scheduler = HubScheduler(
            hub, specs={s.id: s for s in [*backfills, alert]}, instance=f"bench-{priority}"
        )
        scheduler.start(background=False)
        scheduler.tick()
        samples = []
        for _ in range(rounds):
            done.clear()
            clock.advance(60)
            t0 = time.perf_counter()
            futures = scheduler.tick()
            futures["bench.alert"].result(30)
            samples.append(time.perf_counter() - t0)
            for future in futures.values():  # let the backfills end before the next round
                future.result(30)
        scheduler.shutdown()
        return statistics.median(samples)

    separate = measure("critical", 10)
    shared = measure("low", 5)  # reference: the alert queued in the backfills' pool
    print(
        f"alert job tick→done beside {n_low} backfills of {BACKFILL_SECONDS:.1f} s on "
        f"{PRIORITY_WORKERS['low']} low threads: {separate * 1000:.1f} ms on the critical pool, "
        f"{shared * 1000:.0f} ms if it shared the low pool; ratio {separate / shared:.3f}"
    )
    hub.close()


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        run_overhead(Path(a))
        critical_latency(Path(b))


if __name__ == "__main__":
    main()
