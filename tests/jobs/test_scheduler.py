from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from jobs.registry import JobContext
from jobs.runs import runs_of
from jobs.scheduler import PRIORITY_WORKERS, HubScheduler
from tests.jobs.conftest import spec, wait_all

MakeHub = Callable[..., Hub]
MakeScheduler = Callable[..., HubScheduler]


def test_cron_at_8_sao_paulo_fires_at_11_utc_once_per_day(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    slots: list[str] = []
    daily = spec("t.daily", lambda ctx: slots.append(ctx.slot), cron={"hour": 8, "minute": 0})
    scheduler = make_scheduler(make_hub(sqlite_engine), [daily])

    assert scheduler.tick() == {}  # 10:00 UTC = 07:00 in São Paulo
    assert scheduler.is_leader
    assert scheduler.next_run_times()["t.daily"] == datetime(2026, 11, 3, 11, 0, tzinfo=UTC)

    clock.set(datetime(2026, 11, 3, 10, 59, 59, tzinfo=UTC))
    assert scheduler.tick() == {}
    clock.set(datetime(2026, 11, 3, 11, 0, tzinfo=UTC))
    wait_all(scheduler.tick())
    assert slots == ["2026-11-03"]

    clock.advance(3600)
    assert scheduler.tick() == {}
    assert scheduler.next_run_times()["t.daily"] == datetime(2026, 11, 4, 11, 0, tzinfo=UTC)
    clock.set(datetime(2026, 11, 4, 11, 0, tzinfo=UTC))
    wait_all(scheduler.tick())
    assert slots == ["2026-11-03", "2026-11-04"]


def test_interval_slots_are_aligned_local_minutes(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 11, 3, 10, 2, 30, tzinfo=UTC))
    slots: list[str] = []
    every5 = spec(
        "t.every5", lambda ctx: slots.append(ctx.slot), interval={"minutes": 5}, priority="low"
    )
    scheduler = make_scheduler(make_hub(sqlite_engine), [every5])
    scheduler.tick()
    assert scheduler.next_run_times()["t.every5"] == datetime(2026, 11, 3, 10, 5, tzinfo=UTC)
    for _ in range(3):
        clock.advance(300)
        wait_all(scheduler.tick())
    assert slots == ["2026-11-03T07:05", "2026-11-03T07:10", "2026-11-03T07:15"]


def test_blocked_low_executor_does_not_delay_a_critical_job(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow_backfill(ctx: JobContext) -> None:
        started.release()
        assert release.wait(30)

    critical_done = threading.Event()
    low_specs = [
        spec(f"t.backfill{i}", slow_backfill, priority="low", interval={"minutes": 1})
        for i in range(PRIORITY_WORKERS["low"] + 1)  # more backfills than low threads
    ]
    critical = spec(
        "t.alert", lambda ctx: critical_done.set(), priority="critical", interval={"minutes": 1}
    )
    clock.set(datetime(2026, 11, 3, 10, 0, 30, tzinfo=UTC))
    scheduler = make_scheduler(make_hub(sqlite_engine), [*low_specs, critical])
    assert scheduler.tick() == {}
    clock.advance(30)
    futures: dict[str, concurrent.futures.Future[None]] = {}
    try:
        futures = scheduler.tick()
        assert set(futures) == {s.id for s in [*low_specs, critical]}
        for _ in range(PRIORITY_WORKERS["low"]):
            assert started.acquire(timeout=30)  # every low-priority thread is now blocked
        # The critical run completes while the backfills still hold (and queue on) the low pool.
        futures["t.alert"].result(timeout=30)
        assert critical_done.is_set()
        assert not any(futures[s.id].done() for s in low_specs)
    finally:
        release.set()
    wait_all(futures)


def test_restart_keeps_a_due_run_and_never_repeats_a_slot(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    slots: list[str] = []
    daily = spec("t.report", lambda ctx: slots.append(ctx.slot), cron={"hour": 8, "minute": 0})
    first = make_scheduler(make_hub(sqlite_engine), [daily])
    first.tick()  # 07:00 local: registered, nothing due
    first.shutdown()

    # Down over 08:00; back at 08:20 (inside the 1 h grace): the stored next run fires once.
    clock.set(datetime(2026, 11, 3, 11, 20, tzinfo=UTC))
    second = make_scheduler(make_hub(sqlite_engine), [daily])
    wait_all(second.tick())
    assert slots == ["2026-11-03"]
    second.shutdown()

    # A third start the same day, and an explicit re-run of the slot: both refused by the claim.
    third = make_scheduler(make_hub(sqlite_engine), [daily])
    assert third.tick() == {}
    assert third.run_now("t.report", slot="2026-11-03").outcome == "skipped"
    assert slots == ["2026-11-03"]
    runs = runs_of(third.hub, "t.report")
    assert [(r.slot, r.outcome) for r in runs] == [("2026-11-03", "ok")]


def test_run_later_than_the_grace_is_recorded_as_missed(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    slots: list[str] = []
    daily = spec("t.report", lambda ctx: slots.append(ctx.slot), cron={"hour": 8, "minute": 0})
    first = make_scheduler(make_hub(sqlite_engine), [daily])
    first.tick()
    first.shutdown()
    clock.set(datetime(2026, 11, 3, 13, 0, tzinfo=UTC))  # 2 h late, grace is 1 h
    second = make_scheduler(make_hub(sqlite_engine), [daily])
    wait_all(second.tick())
    assert slots == []
    assert [r.outcome for r in runs_of(second.hub, "t.report")] == ["missed"]
    assert second.next_run_times()["t.report"] == datetime(2026, 11, 4, 11, 0, tzinfo=UTC)


def test_downtime_over_several_runs_coalesces_into_one(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    slots: list[str] = []
    every = spec(
        "t.sync", lambda ctx: slots.append(ctx.slot), interval={"minutes": 10}, once_per_slot=False
    )
    scheduler = make_scheduler(make_hub(sqlite_engine), [every])
    wait_all(scheduler.tick())  # 07:00 is a fire time itself
    clock.advance(timedelta(minutes=35).total_seconds())  # 07:10, 07:20, 07:30 fell due
    wait_all(scheduler.tick())
    assert slots == ["2026-11-03T07:00", "2026-11-03T07:30"]


def test_run_now_uses_its_own_manual_slot(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler
) -> None:
    slots: list[str] = []
    daily = spec("t.report", lambda ctx: slots.append(ctx.slot))
    scheduler = make_scheduler(make_hub(sqlite_engine), [daily])
    result = scheduler.run_now("t.report")
    assert result.outcome == "ok"
    assert scheduler.run_now("t.report").outcome == "ok"  # a second one in the same second
    assert [s[:-5] for s in slots] == ["manual-2026-11-03T07:00:00"] * 2
    assert slots[0] != slots[1]


def test_a_run_interrupted_by_a_crash_is_retried_by_the_next_leader(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    from bot.db import session_scope
    from jobs.models import JobRun, JobSlot

    slots: list[str] = []
    daily = spec("t.report", lambda ctx: slots.append(ctx.slot))
    hub = make_hub(sqlite_engine)
    # What a crashed instance leaves behind: a claim and a run still "running".
    with session_scope(sqlite_engine) as session:
        session.add(
            JobSlot(
                job_id="t.report",
                slot="2026-11-02",
                status="running",
                attempts=1,
                owner="dead",
                claimed_at=clock.now() - timedelta(hours=2),
                updated_at=clock.now() - timedelta(hours=2),
            )
        )
        session.add(
            JobRun(
                job_id="t.report",
                slot="2026-11-02",
                attempt=1,
                trigger="schedule",
                instance="dead",
                started_at=clock.now() - timedelta(hours=2),
                outcome="running",
            )
        )
    scheduler = make_scheduler(hub, [daily])
    scheduler.tick()  # elected: the stale claim becomes a failed attempt with a retry
    clock.advance(60)
    wait_all(scheduler.tick())
    assert slots == ["2026-11-02"]
    runs = runs_of(hub, "t.report")
    assert [(r.attempt, r.outcome, r.error) for r in runs] == [
        (1, "failed", "interrompido: a instância parou durante a execução"),
        (2, "ok", None),
    ]


def test_a_retry_lost_from_the_job_store_is_rescheduled_on_election(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    from sqlalchemy import text

    attempts: list[int] = []

    def flaky(ctx: JobContext) -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise RuntimeError("primeira falha")

    daily = spec("t.report", flaky)
    first = make_scheduler(make_hub(sqlite_engine), [daily])
    assert first.run_now("t.report", slot="2026-11-03").retry_at is not None
    first.shutdown()
    with sqlite_engine.begin() as conn:  # the job store loses the pending retry
        conn.execute(text("DELETE FROM apscheduler_jobs WHERE id LIKE 'retry:%'"))
    second = make_scheduler(make_hub(sqlite_engine), [daily])
    wait_all(second.tick())  # elected: the retry is due at once
    wait_all(second.tick())
    assert attempts == [1, 2]
    assert [r.outcome for r in runs_of(second.hub, "t.report")] == ["failed", "ok"]


@pytest.mark.parametrize(
    ("cron", "slot"),
    [
        ({"hour": 8, "minute": 0}, "2026-11-03"),
        ({"day_of_week": "mon", "hour": "8"}, "2026-11-03"),
        ({"hour": 8, "minute": "*/15"}, "2026-11-03T08:15"),
        ({"hour": "8,14", "minute": 0}, "2026-11-03T08:15"),
        ({"minute": 15}, "2026-11-03T08:15"),
    ],
)
def test_slot_is_a_date_only_for_jobs_that_run_once_a_day(
    cron: dict[str, object], slot: str
) -> None:
    from zoneinfo import ZoneInfo

    from jobs.scheduler import slot_for

    tz = ZoneInfo("America/Sao_Paulo")
    when = datetime(2026, 11, 3, 11, 15, tzinfo=UTC)  # 08:15 in São Paulo
    assert slot_for(spec("t.x", lambda ctx: None, cron=cron), when, tz) == slot
