"""Fixtures for the jobs tests: hubs on a shared engine and fake clock, schedulers that are
always shut down, and small helpers to declare test jobs without touching the registry."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.notify import RecordingNotifier
from bot.settings import Settings
from jobs.registry import JobContext, JobOutcome, JobSpec, Priority
from jobs.scheduler import HubScheduler
from tests.conftest import make_settings

CHANNELS = {
    "hub_channel_alerts": "C_ALERTS",
    "hub_channel_costs": "C_COSTS",
}


def spec(
    job_id: str,
    func: Callable[[JobContext], JobOutcome | None],
    *,
    priority: Priority = "normal",
    cron: dict[str, Any] | None = None,
    interval: dict[str, Any] | None = None,
    once_per_slot: bool = True,
) -> JobSpec:
    if cron is None and interval is None:
        cron = {"hour": 8, "minute": 0}
    return JobSpec(job_id, func, priority, cron, interval, f"teste {job_id}", None, once_per_slot)


def wait_all(futures: dict[str, concurrent.futures.Future[None]]) -> None:
    for future in futures.values():
        future.result(timeout=30)


@pytest.fixture
def jobs_settings(tmp_path: Any) -> Settings:
    return make_settings(
        tmp_path,
        jobs_retry_attempts=3,
        jobs_retry_base_seconds=60,
        jobs_leader_lease_seconds=30,
        alert_cooldown_seconds=3600,
        **CHANNELS,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 3, 10, 0, tzinfo=UTC))


@pytest.fixture
def make_hub(jobs_settings: Settings, clock: FakeClock) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def factory(engine: Engine, notifier: RecordingNotifier | None = None) -> Hub:
        hub = Hub.create(
            jobs_settings, engine=engine, clock=clock, notifier=notifier or RecordingNotifier()
        )
        hubs.append(hub)
        return hub

    yield factory
    for hub in hubs:
        hub.close()


@pytest.fixture
def make_scheduler() -> Iterator[Callable[..., HubScheduler]]:
    schedulers: list[HubScheduler] = []

    def factory(hub: Hub, specs: list[JobSpec], **kwargs: Any) -> HubScheduler:
        scheduler = HubScheduler(hub, specs={s.id: s for s in specs}, **kwargs)
        scheduler.start(background=False)
        schedulers.append(scheduler)
        return scheduler

    yield factory
    for scheduler in schedulers:
        scheduler.shutdown()
