"""Jobs and alert detectors are declared here, in one place, by every area.

    @scheduled("costs.sync", cron={"hour": 6, "minute": 10}, priority="low",
               description="Sincroniza custos de IA")
    def sync_costs(ctx: JobContext) -> JobOutcome: ...

    @detector("costs.spike")
    def cost_spikes(hub: Hub) -> list[Signal]: ...

Triggers run in settings.hub_time_zone. The scheduler (jobs.scheduler) registers every spec
with an explicit id and replace_existing, records each run keyed by (job id, slot) so a report
for a slot is posted at most once, retries failures with backoff and dead-letters the rest.
Detectors are polled by the alert engine: an active signal opens an incident (posted once,
with a cooldown), an inactive one closes an open incident with a recovery message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from bot.hub import Hub

Priority = Literal["critical", "normal", "low"]
JobFunc = Callable[["JobContext"], "JobOutcome | None"]
Severity = Literal["critical", "warning", "info"]
T = TypeVar("T")


class JobContext(Protocol):
    hub: Hub
    job_id: str
    slot: str  # e.g. "2026-11-29" for a daily job, "2026-11-29T10:15" for an interval one
    args: dict[str, Any]

    def post(
        self,
        route: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        file: tuple[str, bytes] | None = None,
    ) -> None:
        """Post to the channel of a route (alerts, costs, shopify, novelties)."""
        ...

    def batches(
        self, items: Sequence[T], *, key: Callable[[T], str], size: int = 1
    ) -> Iterator[list[T]]:
        """Yield batches not finished in an earlier attempt of this (job, slot); each batch
        yielded and completed without error is recorded as done."""
        ...


@dataclass
class JobOutcome:
    items: int = 0
    summary: str = ""


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[JobContext], JobOutcome | None]
    priority: Priority
    cron: dict[str, Any] | None = None
    interval: dict[str, Any] | None = None
    description: str = ""
    route: str | None = None
    # False for syncs and probes whose slots may legitimately run again.
    once_per_slot: bool = True


@dataclass(frozen=True)
class Signal:
    key: str  # identifies the incident, e.g. "costs.spike:openai:proj_abc"
    active: bool
    title: str
    text: str = ""
    severity: Severity = "warning"
    route: str = "alerts"
    blocks: list[dict[str, Any]] | None = None
    file: tuple[str, bytes] | None = None
    details: dict[str, Any] = field(default_factory=dict)


JOBS: dict[str, JobSpec] = {}
DETECTORS: dict[str, Callable[[Hub], Iterable[Signal]]] = {}


def scheduled(
    job_id: str,
    *,
    priority: Priority = "normal",
    cron: dict[str, Any] | None = None,
    interval: dict[str, Any] | None = None,
    description: str = "",
    route: str | None = None,
    once_per_slot: bool = True,
) -> Callable[
    [Callable[[JobContext], JobOutcome | None]], Callable[[JobContext], JobOutcome | None]
]:
    if (cron is None) == (interval is None):
        raise ValueError(f"job {job_id}: give exactly one of cron= or interval=")

    def decorate(fn: JobFunc) -> JobFunc:
        JOBS[job_id] = JobSpec(
            job_id, fn, priority, cron, interval, description, route, once_per_slot
        )
        return fn

    return decorate


def detector(
    name: str,
) -> Callable[[Callable[[Hub], Iterable[Signal]]], Callable[[Hub], Iterable[Signal]]]:
    def decorate(fn: Callable[[Hub], Iterable[Signal]]) -> Callable[[Hub], Iterable[Signal]]:
        DETECTORS[name] = fn
        return fn

    return decorate


def load_jobs() -> None:
    """Import every jobs.<area> module so their jobs and detectors register."""
    import importlib
    import pkgutil

    import jobs

    for info in pkgutil.iter_modules(jobs.__path__):
        try:
            importlib.import_module(f"jobs.{info.name}")
        except Exception:
            # One broken area must not take the whole hub down (its commands/jobs go missing
            # and the log says why).
            logging.getLogger(__name__).exception(
                "area module failed to load module=jobs.%s", info.name
            )
