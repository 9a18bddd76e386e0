"""The scheduler: APScheduler 3.x decides *when*, `jobs.runs` decides *whether* and records it.

    scheduler = HubScheduler(hub)
    scheduler.start()            # background: leader loop + APScheduler's own thread
    scheduler.run_now("costs.sync")
    scheduler.shutdown()

Choices, deliberately:
- **Job store**: APScheduler's SQLAlchemyJobStore on the app database (`hub.engine`; table
  `apscheduler_jobs`, excluded from Alembic). Stored jobs point at the module-level `fire`
  function by reference (`jobs.scheduler:fire`) with plain string arguments: no closures,
  nothing in the pickle that a code change could break. Pending retries live there too, so
  they survive a restart.
- **Ids**: each `JobSpec.id` is the APScheduler job id, registered with `replace_existing`. A
  re-registration keeps the stored `next_run_time` when the trigger is unchanged, so a run
  that fell due while the process was down still fires on start (within the grace) instead of
  being silently pushed to the next day.
- **Triggers** run in `settings.hub_time_zone` (`CronTrigger(..., timezone=tz)`); interval
  triggers are anchored at a fixed local midnight so their slots are aligned (10:00, 10:05…)
  and identical on every instance and restart.
- **coalesce=True**: after downtime a job runs once for the latest missed time, not once per
  missed time (a report posted five times after a restart is worse than one).
- **misfire_grace_time = settings.jobs_misfire_grace_seconds** (1 h by default): APScheduler's
  1 s default silently drops a run that starts a second late (busy executor, slow start);
  a run later than the grace is recorded as `missed` instead of posting a stale report.
- **max_instances=1**: a job never overlaps itself (a sync that outlives its interval is
  skipped, with a log line, rather than racing its own writes).
- **Executors per priority**: critical (alerts, health), normal (reports) and low (syncs,
  backfills) are separate thread pools, so a backfill filling the low pool never delays an
  alert.
- **One leader**: only the instance holding the lease (`jobs.leader`) resumes APScheduler;
  the others keep it paused and take over when the lease expires.

`HubExecutor` replaces APScheduler's `run_job` so the run receives its *scheduled* time (the
slot) and the misfire check uses the hub's clock. `tick()` is the deterministic path used by
tests on a fake clock: it does what APScheduler's `_process_jobs` does (due jobs, coalesce,
submit to the same executors, next run time) at `hub.clock.now()`.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apscheduler.executors.base import MaxInstancesReachedError
from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs.leader import LeaderLease
from jobs.registry import JOBS, JobSpec, load_jobs
from jobs.runs import JobRunner, RunResult, instance_id

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.hub import Hub

log = logging.getLogger(__name__)

# Threads per priority. Jobs are I/O bound (HTTP, database); the machine is small.
PRIORITY_WORKERS = {"critical": 4, "normal": 3, "low": 2}
INTERVAL_ANCHOR = datetime(2020, 1, 1)  # local midnight interval triggers are aligned to
SERVICE_KEY = "jobs.scheduler"

_active: HubScheduler | None = None


class UnknownJob(LookupError):
    pass


def fire(*args: str | int) -> None:
    """The reference stored with every APScheduler job (`jobs.scheduler:fire`).

    `HubExecutor` dispatches stored jobs itself (it knows the scheduled time); this is what a
    plain APScheduler executor would call, dispatching at the current time."""
    if _active is None:
        raise RuntimeError("no HubScheduler is running in this process")
    _active._dispatch(tuple(args), [_active.hub.clock.now()], None)


def build_trigger(spec: JobSpec, tz: ZoneInfo) -> CronTrigger | IntervalTrigger:
    if spec.cron is not None:
        return CronTrigger(timezone=tz, **spec.cron)
    assert spec.interval is not None
    return IntervalTrigger(
        timezone=tz, start_date=INTERVAL_ANCHOR.replace(tzinfo=tz), **spec.interval
    )


def slot_for(spec: JobSpec, run_time: datetime, tz: ZoneInfo) -> str:
    """The slot a scheduled time stands for, in local time: a date for jobs that run at one
    fixed hour of a day ("2026-11-29"), the minute otherwise ("2026-11-29T10:15")."""
    local = run_time.astimezone(tz)
    cron = spec.cron or {}
    once_a_day = all(str(cron.get(f, "0")).isdigit() for f in ("hour", "minute", "second"))
    if cron and "hour" in cron and once_a_day:
        return local.strftime("%Y-%m-%d")
    return local.strftime("%Y-%m-%dT%H:%M")


class HubExecutor(BasePoolExecutor):
    """A thread pool executor for one priority that hands runs to `HubScheduler._dispatch`."""

    def __init__(self, owner: HubScheduler, priority: str, max_workers: int) -> None:
        super().__init__(
            concurrent.futures.ThreadPoolExecutor(
                max_workers, thread_name_prefix=f"jobs-{priority}"
            )
        )
        self._owner = owner
        self.last_future: concurrent.futures.Future[None] | None = None

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        future = self._pool.submit(
            self._owner._dispatch, tuple(job.args), list(run_times), job.misfire_grace_time
        )

        def done(f: concurrent.futures.Future[None]) -> None:
            exc = f.exception()
            if exc is None:
                self._run_job_success(job.id, [])
            else:
                self._run_job_error(job.id, exc, exc.__traceback__)

        future.add_done_callback(done)
        self.last_future = future


class _APScheduler(BackgroundScheduler):
    """APScheduler's background scheduler with two guards: in manual mode (tests, CLI) its
    thread never processes jobs (`tick()` does), and it never processes once shutdown began
    (3.x only skips processing while *paused*, so a wake-up racing `shutdown()` would
    otherwise submit jobs to executors being shut down)."""

    manual = False

    def _process_jobs(self) -> float | None:
        if self.manual or self.state != STATE_RUNNING:
            return None
        return super()._process_jobs()


class HubScheduler:
    def __init__(
        self,
        hub: Hub,
        *,
        specs: Mapping[str, JobSpec] | None = None,
        instance: str | None = None,
    ) -> None:
        if specs is None:
            load_jobs()
            specs = JOBS
        self.hub = hub
        self.settings = hub.settings
        self.tz = hub.settings.tz
        self.specs = dict(specs)
        # One identity per scheduler (not per process), so two in one process stay distinct.
        self.instance = instance or f"{instance_id()}/{uuid.uuid4().hex[:4]}"
        self.runner = JobRunner(
            hub, self.specs, schedule_retry=self._schedule_retry, instance=self.instance
        )
        self.lease = LeaderLease(
            hub.engine, hub.clock, self.instance, hub.settings.jobs_leader_lease_seconds
        )
        self.executors = {
            priority: HubExecutor(self, priority, workers)
            for priority, workers in PRIORITY_WORKERS.items()
        }
        self._ap = _APScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=hub.engine)},
            executors=dict(self.executors),
            job_defaults={
                "coalesce": True,
                "misfire_grace_time": hub.settings.jobs_misfire_grace_seconds,
                "max_instances": 1,
            },
            timezone=self.tz,
        )
        self._background = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, *, background: bool = True) -> None:
        """Start paused; with `background`, a leader loop resumes APScheduler while we lead.
        Without it (tests, CLI) nothing runs until `tick()` is called."""
        global _active
        self._background = background
        self._ap.manual = not background
        self._ap.start(paused=True)
        _active = self
        self.hub.services[SERVICE_KEY] = self
        if background:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._leader_loop, name="jobs-leader", daemon=True
            )
            self._thread.start()
        log.info("scheduler started instance=%s background=%s", self.lease.holder, background)

    def shutdown(self, wait: bool = True) -> None:
        global _active
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._ap.running:
            self._ap.shutdown(wait=wait)
        try:
            self.lease.release()
        except Exception:
            log.exception("could not release the leader lease")
        if _active is self:
            _active = None
        if self.hub.services.get(SERVICE_KEY) is self:
            del self.hub.services[SERVICE_KEY]
        log.info("scheduler stopped instance=%s", self.lease.holder)

    @property
    def is_leader(self) -> bool:
        return self.lease.is_leader

    # --- running ------------------------------------------------------------------------------
    def tick(self) -> dict[str, concurrent.futures.Future[None]]:
        """Keep the lease and, when leading, submit what is due at `hub.clock.now()`.

        Returns the submitted runs' futures by APScheduler job id (tests wait on them)."""
        self._maintain()
        if not self.lease.is_leader:
            return {}
        return self._process_due(self.hub.clock.now())

    def run_now(self, job_id: str, slot: str | None = None) -> RunResult:
        """Run a job at once in the calling thread. Without a slot it gets a manual slot of
        its own, so it never takes the place of a scheduled report."""
        spec = self.specs.get(job_id)
        if spec is None:
            raise UnknownJob(job_id)
        if slot is None:
            local = self.hub.clock.now().astimezone(self.tz)
            slot = f"manual-{local:%Y-%m-%dT%H:%M:%S}-{uuid.uuid4().hex[:4]}"
        return self.runner.execute(spec, slot, trigger="manual")

    def retry_dead_letter(self, dead_letter_id: int, *, by: str) -> RunResult:
        return self.runner.retry_dead_letter(dead_letter_id, by=by)

    def next_run_times(self) -> dict[str, datetime | None]:
        """Next scheduled time per job id, from the job store."""
        return {job.id: job.next_run_time for job in self._ap.get_jobs() if job.id in self.specs}

    # --- internals ----------------------------------------------------------------------------
    def _leader_loop(self) -> None:
        while not self._stop.is_set():
            self._maintain()
            self._stop.wait(self.lease.renew_interval)

    def _maintain(self) -> None:
        with self._lock:
            was_leader = self.lease.is_leader
            try:
                leading = self.lease.maintain()
            except Exception:
                # The database is unreachable: we cannot prove we still lead, so stop.
                log.exception("leader lease check failed instance=%s", self.lease.holder)
                self.lease.generation = None
                leading = False
            if leading and not was_leader:
                self._register_jobs()
                self._recover()
                if self._background:
                    self._ap.resume()
                log.info("scheduling as leader instance=%s", self.lease.holder)
            elif was_leader and not leading:
                if self._background:
                    self._ap.pause()
                log.warning("no longer the leader instance=%s", self.lease.holder)

    def _recover(self) -> None:
        """On election: runs a dead instance left half-done are retried, and a retry whose
        job-store entry is gone (store wiped, job removed by hand) is scheduled again."""
        self.runner.recover_stale()
        stored = {job.id for job in self._ap.get_jobs()}
        now = self.hub.clock.now()
        for claim in self.runner.waiting_retries():
            if f"retry:{claim.job_id}:{claim.slot}" not in stored and claim.job_id in self.specs:
                log.warning("re-scheduling a lost retry job=%s slot=%s", claim.job_id, claim.slot)
                self._schedule_retry(claim.job_id, claim.slot, claim.attempts + 1, now, {})

    def _register_jobs(self) -> None:
        now = self.hub.clock.now()
        stored = {job.id: job for job in self._ap.get_jobs()}
        for spec in self.specs.values():
            trigger = build_trigger(spec, self.tz)
            fingerprint = f"{spec.id} {trigger!r}"
            existing = stored.get(spec.id)
            if existing is not None and existing.name == fingerprint and existing.next_run_time:
                next_run = existing.next_run_time  # keep a run that fell due while we were down
            else:
                next_run = trigger.get_next_fire_time(None, now)
            self._ap.add_job(
                fire,
                trigger=trigger,
                id=spec.id,
                name=fingerprint,
                args=["spec", spec.id],
                executor=spec.priority,
                replace_existing=True,
                next_run_time=next_run,
            )
        for job_id, job in stored.items():
            if job.args and job.args[0] == "spec" and job_id not in self.specs:
                log.info("removing job no longer declared job=%s", job_id)
                self._ap.remove_job(job_id)

    def _process_due(self, now: datetime) -> dict[str, concurrent.futures.Future[None]]:
        futures: dict[str, concurrent.futures.Future[None]] = {}
        for job in self._ap.get_jobs():
            if job.next_run_time is None or job.next_run_time > now:
                continue
            run_times: list[datetime] = []
            next_time: datetime | None = job.next_run_time
            while next_time is not None and next_time <= now:
                run_times.append(next_time)
                next_time = job.trigger.get_next_fire_time(next_time, now)
            if job.coalesce:
                run_times = run_times[-1:]
            executor = self.executors.get(job.executor)
            if executor is None:
                log.error("unknown executor job=%s executor=%s", job.id, job.executor)
            else:
                try:
                    executor.submit_job(job, run_times)
                except MaxInstancesReachedError:
                    log.warning("run skipped: previous run still going job=%s", job.id)
                else:
                    assert executor.last_future is not None
                    futures[job.id] = executor.last_future
            if next_time is None:
                self._ap.remove_job(job.id)
            else:
                self._ap.modify_job(job.id, next_run_time=next_time)
        return futures

    def _dispatch(
        self, args: tuple[Any, ...], run_times: list[datetime], grace: float | None
    ) -> None:
        kind, job_id = args[0], str(args[1])
        spec = self.specs.get(job_id)
        if spec is None:
            log.error("stored job refers to an unknown job job=%s", job_id)
            return
        if kind == "retry":
            slot, attempt, job_args = str(args[2]), int(args[3]), json.loads(str(args[4]))
            self.runner.execute(spec, slot, attempt=attempt, trigger="retry", args=job_args)
            return
        now = self.hub.clock.now()
        for run_time in run_times:
            slot = slot_for(spec, run_time, self.tz)
            if grace is not None and (now - run_time).total_seconds() > grace:
                self.runner.record_missed(spec, slot, run_time)
                continue
            self.runner.execute(spec, slot, trigger="schedule")

    def _schedule_retry(
        self, job_id: str, slot: str, attempt: int, when: datetime, args: dict[str, Any]
    ) -> None:
        spec = self.specs[job_id]
        self._ap.add_job(
            fire,
            trigger=DateTrigger(run_date=when, timezone=self.tz),
            id=f"retry:{job_id}:{slot}",
            name=f"retry {job_id} {slot} #{attempt}",
            args=["retry", job_id, slot, attempt, json.dumps(args, sort_keys=True, default=str)],
            executor=spec.priority,
            replace_existing=True,
            misfire_grace_time=None,  # a retry runs however late it is
        )


def get_scheduler(hub: Hub) -> HubScheduler:
    """The scheduler of this process; without one (jobs disabled here, the CLI) a manual one:
    it runs jobs on request and writes retries to the shared job store, where the leader
    picks them up."""
    with _get_lock:
        existing = hub.services.get(SERVICE_KEY)
        if isinstance(existing, HubScheduler):
            return existing
        scheduler = HubScheduler(hub)
        scheduler.start(background=False)
        return scheduler


_get_lock = threading.Lock()
