from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FakeClock
from bot.db import session_scope
from bot.hub import Hub
from jobs.leader import LeaderLease
from jobs.models import JobRun
from jobs.registry import JobContext
from jobs.scheduler import HubScheduler
from tests.jobs.conftest import spec, wait_all

MakeHub = Callable[..., Hub]
MakeScheduler = Callable[..., HubScheduler]


def test_lease_is_exclusive_renewed_and_taken_over_after_expiry(
    db_engine: Engine, clock: FakeClock
) -> None:
    a = LeaderLease(db_engine, clock, "a", lease_seconds=30)
    b = LeaderLease(db_engine, clock, "b", lease_seconds=30)
    assert a.maintain() and not b.maintain()
    for _ in range(10):  # a renews every 10 s: b never gets in
        clock.advance(a.renew_interval)
        assert a.maintain() and not b.maintain()
    clock.advance(30)  # a stops renewing (crashed) — exactly at expiry it still holds
    assert not b.maintain()
    clock.advance(0.001)
    assert b.maintain()
    assert b.generation == (a.generation or 0) + 1
    assert not a.maintain()  # a comes back: its generation is stale, it is a follower now
    assert not a.is_leader
    b.release()
    assert a.maintain()  # a released lease is free at once


def test_two_schedulers_run_each_slot_once_and_fail_over_within_the_bound(
    db_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    lock = threading.Lock()
    slots: list[str] = []

    def report(ctx: JobContext) -> None:
        with lock:
            slots.append(ctx.slot)

    minutely = spec("t.minutely", report, interval={"minutes": 1}, priority="normal")
    a = make_scheduler(make_hub(db_engine), [minutely], instance="A")
    b = make_scheduler(make_hub(db_engine), [minutely], instance="B")
    bound = a.lease.failover_bound
    assert bound == 40  # lease 30 s + one renewal interval
    alive = [a, b]
    died_at: datetime | None = None
    took_over_at: datetime | None = None
    step = 5.0
    for i in range(int(900 / step)):
        clock.advance(step)
        if i == int(300 / step):  # A crashes: no shutdown, no lease release
            alive.remove(a)
            died_at = clock.now()
        for scheduler in alive:
            wait_all(scheduler.tick())
        assert sum(s.is_leader for s in alive) <= 1
        if died_at and took_over_at is None and b.is_leader:
            took_over_at = clock.now()

    assert died_at is not None and took_over_at is not None
    assert (took_over_at - died_at).total_seconds() <= bound
    # 10:00:05 → 10:15:00 UTC: every minute 07:01…07:15 local ran exactly once, including the
    # minute that fell due while nobody led (B ran it late, within the misfire grace).
    assert sorted(slots) == [f"2026-11-03T07:{m:02d}" for m in range(1, 16)]
    assert len(slots) == len(set(slots))
    assert _owners(a.hub.engine) == {"A", "B"}


def _owners(engine: Engine) -> set[str]:
    with session_scope(engine) as session:
        return {run.instance for run in session.exec(select(JobRun)).all()}
