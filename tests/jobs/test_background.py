"""The production path: APScheduler's own thread, real clock, leader loop (no fake clock here,
and no sleeping: the test waits on an event the job sets)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from bot.clock import SystemClock
from bot.hub import Hub
from bot.notify import RecordingNotifier
from bot.settings import Settings
from jobs.registry import JobContext
from jobs.runs import runs_of
from jobs.scheduler import SERVICE_KEY, HubScheduler
from tests.jobs.conftest import spec


def test_background_scheduler_leads_and_runs_stored_jobs(
    sqlite_engine: Engine, jobs_settings: Settings
) -> None:
    ran = threading.Event()

    def job(ctx: JobContext) -> None:
        assert ctx.args == {"store": "loja1"}
        ran.set()

    hub = Hub.create(
        jobs_settings, engine=sqlite_engine, clock=SystemClock(), notifier=RecordingNotifier()
    )
    probe = spec("t.probe", job, interval={"hours": 1}, once_per_slot=False)
    scheduler = HubScheduler(hub, specs={probe.id: probe})
    scheduler.start()
    try:
        assert hub.services[SERVICE_KEY] is scheduler
        # A due one-off (what a retry is), processed by APScheduler's thread once we lead.
        scheduler._schedule_retry(
            "t.probe", "2026-11-29T10:00", 2, datetime.now(UTC), {"store": "loja1"}
        )
        assert ran.wait(timeout=30)
    finally:
        scheduler.shutdown()
    assert scheduler.is_leader is False  # released at shutdown
    assert SERVICE_KEY not in hub.services
    [run] = runs_of(hub, "t.probe")
    assert (run.slot, run.attempt, run.trigger, run.outcome) == (
        "2026-11-29T10:00",
        2,
        "retry",
        "ok",
    )
    hub.close()
