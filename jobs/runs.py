"""Running one job for one slot: the claim, the run record, batches, retries, dead letters.

    runner = JobRunner(hub, schedule_retry=...)
    result = runner.execute(spec, slot="2026-11-29", trigger="schedule")

- A `once_per_slot` job first claims (job, slot) with an INSERT on a unique constraint: the
  first instance (or the first run before a restart) wins, every other attempt is skipped.
  Retries and dead-letter re-runs take the claim over with a conditional UPDATE on its status,
  so two instances can never run the same retry either.
- Every attempt is a `job_runs` row (job, slot, attempt, start, end, outcome, items, error).
- A failure is retried with exponential backoff (`jobs_retry_base_seconds` · 2^(n-1)) until
  `jobs_retry_attempts` attempts in total were made; then the (job, slot, args, error) lands in
  `dead_letters` and an alert is posted through the alert engine.
- `JobContext.batches()` records each finished batch, so a retry resumes after the last one;
  `JobContext.post()` records each post the same way, so a retry does not post it twice.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.db import session_scope
from integrations.runtime.errors import IntegrationError, user_message
from jobs.models import DeadLetter, JobBatch, JobRun, JobSlot
from jobs.registry import JOBS, JobOutcome, JobSpec, Signal

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)

T = TypeVar("T")
Trigger = Literal["schedule", "retry", "manual", "dead_letter"]
Outcome = Literal["ok", "failed", "skipped", "missed"]

_INSTANCE = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
MAX_ERROR_CHARS = 1000
OUTCOME_PT = {"ok": "ok", "failed": "falhou", "skipped": "já rodou", "missed": "perdida"}
STALE_ERROR = "interrompido: a instância parou durante a execução"


def instance_id() -> str:
    """Identifies this process in claims, runs and the leader lease."""
    return _INSTANCE


class JobError(Exception):
    """A job cannot do its work for a reason an operator must fix (message in pt-BR)."""


@dataclass
class RunResult:
    job_id: str
    slot: str
    outcome: Outcome
    attempt: int = 1
    run_id: int | None = None
    items: int = 0
    summary: str = ""
    error: str | None = None
    retry_at: datetime | None = None
    dead_letter_id: int | None = None

    def __str__(self) -> str:
        """One line in pt-BR (demo console, logs)."""
        text = f"{self.job_id} ({self.slot}): {OUTCOME_PT.get(self.outcome, self.outcome)}"
        if self.outcome == "ok":
            text += f", {self.items} itens"
        if self.summary:
            text += f" — {self.summary}"
        if self.error:
            text += f" — erro: {self.error}"
        if self.dead_letter_id is not None and self.outcome == "failed":
            text += f" — fila de falhas #{self.dead_letter_id}"
        return text


# Called with (job_id, slot, next_attempt, when, args) to schedule a retry.
RetryScheduler = Callable[[str, str, int, datetime, dict[str, Any]], None]


@dataclass
class RunContext:
    """What a job function receives (implements jobs.registry.JobContext)."""

    hub: Hub
    job_id: str
    slot: str
    args: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None
    items_done: int = 0
    _done_keys: set[str] | None = None
    _post_seq: int = 0

    def post(
        self,
        route: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        file: tuple[str, bytes] | None = None,
    ) -> None:
        settings = self.hub.settings
        channel = settings.channel_for(route)
        if channel is None:
            raise JobError(
                f"nenhum canal configurado para '{route}': defina HUB_CHANNEL_ALERTS "
                f"(ou HUB_CHANNEL_{route.upper()})"
            )
        if self.hub.notifier is None:
            raise JobError("o Slack não está configurado: defina SLACK_BOT_TOKEN")
        # The n-th post of a (job, slot) is made once, even when a retry runs the job again.
        post_key = f"post:{route}:{self._next_post_seq()}"
        if post_key in self._finished():
            log.info("post already made job=%s slot=%s key=%s", self.job_id, self.slot, post_key)
            return
        if file is not None:
            self.hub.notifier.upload(channel, file[0], file[1], comment=text)
        else:
            self.hub.notifier.post(channel, text, blocks)
        self._record([post_key], items=0)

    def batches(
        self, items: Sequence[T], *, key: Callable[[T], str], size: int = 1
    ) -> Iterator[list[T]]:
        if size < 1:
            raise ValueError("size must be at least 1")
        done = self._finished()
        pending = [item for item in items if key(item) not in done]
        skipped = len(items) - len(pending)
        if skipped:
            log.info("resuming job=%s slot=%s skipped_items=%d", self.job_id, self.slot, skipped)
        for start in range(0, len(pending), size):
            batch = pending[start : start + size]
            yield batch
            # Control came back: the caller finished the batch without raising.
            self._record([key(item) for item in batch], items=len(batch))
            self.items_done += len(batch)

    def _next_post_seq(self) -> int:
        self._post_seq += 1
        return self._post_seq

    def _finished(self) -> set[str]:
        if self._done_keys is None:
            with session_scope(self.hub.engine) as session:
                rows = session.exec(
                    select(JobBatch.item_keys).where(
                        JobBatch.job_id == self.job_id, JobBatch.slot == self.slot
                    )
                ).all()
            self._done_keys = {k for row in rows for k in json.loads(row)}
        return self._done_keys

    def _record(self, keys: list[str], *, items: int) -> None:
        now = self.hub.clock.now()
        with session_scope(self.hub.engine) as session:
            session.add(
                JobBatch(
                    job_id=self.job_id,
                    slot=self.slot,
                    item_keys=json.dumps(keys),
                    items=items,
                    run_id=self.run_id,
                    finished_at=now,
                )
            )
            # Heartbeat: a claim that keeps finishing batches is not a crashed run.
            session.execute(
                update(JobSlot)
                .where(
                    col(JobSlot.job_id) == self.job_id,
                    col(JobSlot.slot) == self.slot,
                    col(JobSlot.status) == "running",
                )
                .values(updated_at=now)
            )
        self._finished().update(keys)


class JobRunner:
    def __init__(
        self,
        hub: Hub,
        specs: Mapping[str, JobSpec] | None = None,
        schedule_retry: RetryScheduler | None = None,
        instance: str | None = None,
    ) -> None:
        self.hub = hub
        self.specs = JOBS if specs is None else specs
        self.schedule_retry = schedule_retry
        self.instance = instance or instance_id()

    # --- entry points ---------------------------------------------------------------------
    def execute(
        self,
        spec: JobSpec,
        slot: str,
        *,
        attempt: int = 1,
        trigger: Trigger = "schedule",
        args: dict[str, Any] | None = None,
    ) -> RunResult:
        """Run one attempt of (job, slot) unless its claim says it ran or runs elsewhere."""
        args = dict(args or {})
        if spec.once_per_slot and not self._claim(spec.id, slot, attempt, trigger):
            log.info("slot already claimed job=%s slot=%s attempt=%d", spec.id, slot, attempt)
            return RunResult(spec.id, slot, "skipped", attempt=attempt)
        return self._run(spec, slot, attempt, trigger, args, allow_retry=True)

    def record_missed(self, spec: JobSpec, slot: str, scheduled_for: datetime) -> RunResult:
        """A run time older than the misfire grace: record it instead of running it late."""
        now = self.hub.clock.now()
        late = (now - scheduled_for).total_seconds()
        grace = self.hub.settings.jobs_misfire_grace_seconds
        with session_scope(self.hub.engine) as session:
            run = JobRun(
                job_id=spec.id,
                slot=slot,
                attempt=0,
                trigger="schedule",
                instance=self.instance,
                started_at=now,
                finished_at=now,
                outcome="missed",
                error=f"atrasado {late:.0f}s (tolerância {grace}s)",
            )
            session.add(run)
        log.warning("run missed job=%s slot=%s late_seconds=%.0f", spec.id, slot, late)
        return RunResult(spec.id, slot, "missed", attempt=0, run_id=run.id)

    def retry_dead_letter(self, dead_letter_id: int, *, by: str) -> RunResult:
        """Re-run a dead letter once (no automatic retries: an operator is watching)."""
        with session_scope(self.hub.engine) as session:
            letter = session.get(DeadLetter, dead_letter_id)
            if letter is None:
                raise LookupError(f"dead letter {dead_letter_id} not found")
            if letter.status != "open":
                return RunResult(letter.job_id, letter.slot, "skipped")
            job_id, slot, attempts = letter.job_id, letter.slot, letter.attempts
            args = json.loads(letter.args)
        spec = self.specs.get(job_id)
        if spec is None:
            raise LookupError(f"job {job_id} is no longer registered")
        attempt = attempts + 1
        if spec.once_per_slot and not self._claim(job_id, slot, attempt, "dead_letter"):
            return RunResult(job_id, slot, "skipped", attempt=attempt)
        result = self._run(spec, slot, attempt, "dead_letter", args, allow_retry=False)
        now = self.hub.clock.now()
        with session_scope(self.hub.engine) as session:
            letter = session.get(DeadLetter, dead_letter_id)
            assert letter is not None
            letter.attempts = attempt
            letter.updated_at = now
            if result.outcome == "ok":
                letter.status = "resolved"
                letter.resolved_at = now
                letter.resolved_by = by
            else:
                letter.error = result.error or letter.error
            session.add(letter)
        if result.outcome == "ok":
            _raise_alert(self.hub, _dead_letter_signal(dead_letter_id, spec, slot, "", 0, False))
        result.dead_letter_id = dead_letter_id
        return result

    def recover_stale(self) -> list[RunResult]:
        """Claims left `running` by an instance that died mid-run (no heartbeat for longer
        than the misfire grace) are treated as a failed attempt: retried, or dead-lettered."""
        now = self.hub.clock.now()
        stale_before = now - timedelta(seconds=self.hub.settings.jobs_misfire_grace_seconds)
        with session_scope(self.hub.engine) as session:
            stale = session.exec(
                select(JobSlot).where(
                    JobSlot.status == "running", col(JobSlot.updated_at) < stale_before
                )
            ).all()
        results = []
        for claim in stale:
            spec = self.specs.get(claim.job_id)
            if spec is None:
                continue
            with self.hub.engine.begin() as conn:
                taken = conn.execute(
                    update(JobSlot)
                    .where(
                        col(JobSlot.id) == claim.id,
                        col(JobSlot.status) == "running",
                        col(JobSlot.updated_at) == claim.updated_at,
                    )
                    .values(owner=self.instance, updated_at=now)
                )
                if taken.rowcount != 1:
                    continue
                conn.execute(
                    update(JobRun)
                    .where(
                        col(JobRun.job_id) == claim.job_id,
                        col(JobRun.slot) == claim.slot,
                        col(JobRun.outcome) == "running",
                    )
                    .values(outcome="failed", finished_at=now, error=STALE_ERROR)
                )
            log.warning(
                "stale run recovered job=%s slot=%s attempt=%d owner=%s",
                claim.job_id,
                claim.slot,
                claim.attempts,
                claim.owner,
            )
            result = RunResult(claim.job_id, claim.slot, "failed", claim.attempts)
            result.error = STALE_ERROR
            self._after_failure(spec, claim.slot, claim.attempts, {}, STALE_ERROR, result)
            results.append(result)
        return results

    def waiting_retries(self) -> list[JobSlot]:
        """Claims waiting for a retry (their retry job should be in the job store)."""
        with session_scope(self.hub.engine) as session:
            return list(session.exec(select(JobSlot).where(JobSlot.status == "retry_wait")).all())

    # --- internals ------------------------------------------------------------------------
    def _claim(self, job_id: str, slot: str, attempt: int, trigger: Trigger) -> bool:
        now = self.hub.clock.now()
        if attempt == 1 and trigger != "dead_letter":
            try:
                with session_scope(self.hub.engine) as session:
                    session.add(
                        JobSlot(
                            job_id=job_id,
                            slot=slot,
                            status="running",
                            attempts=1,
                            owner=self.instance,
                            claimed_at=now,
                            updated_at=now,
                        )
                    )
            except IntegrityError:
                return False
            return True
        expected = "dead" if trigger == "dead_letter" else "retry_wait"
        with self.hub.engine.begin() as conn:
            result = conn.execute(
                update(JobSlot)
                .where(
                    col(JobSlot.job_id) == job_id,
                    col(JobSlot.slot) == slot,
                    col(JobSlot.status) == expected,
                )
                .values(status="running", attempts=attempt, owner=self.instance, updated_at=now)
            )
        return result.rowcount == 1

    def _set_slot(self, job_id: str, slot: str, status: str) -> None:
        with self.hub.engine.begin() as conn:
            conn.execute(
                update(JobSlot)
                .where(col(JobSlot.job_id) == job_id, col(JobSlot.slot) == slot)
                .values(status=status, updated_at=self.hub.clock.now())
            )

    def _run(
        self,
        spec: JobSpec,
        slot: str,
        attempt: int,
        trigger: Trigger,
        args: dict[str, Any],
        *,
        allow_retry: bool,
    ) -> RunResult:
        clock = self.hub.clock
        with session_scope(self.hub.engine) as session:
            run = JobRun(
                job_id=spec.id,
                slot=slot,
                attempt=attempt,
                trigger=trigger,
                instance=self.instance,
                started_at=clock.now(),
                outcome="running",
            )
            session.add(run)
            session.flush()
            run_id = run.id
        ctx = RunContext(self.hub, spec.id, slot, dict(args), run_id=run_id)
        log.info("job start job=%s slot=%s attempt=%d trigger=%s", spec.id, slot, attempt, trigger)
        try:
            outcome = spec.func(ctx) or JobOutcome()
        except Exception as exc:
            error = _error_text(exc)
            hint = user_message(exc) if isinstance(exc, IntegrationError) else None
            log.warning(
                "job failed job=%s slot=%s attempt=%d error=%s", spec.id, slot, attempt, error
            )
            self._finish_run(run_id, "failed", ctx.items_done, None, error)
            result = RunResult(
                spec.id, slot, "failed", attempt, run_id, ctx.items_done, error=error
            )
            if allow_retry:
                self._after_failure(spec, slot, attempt, args, error, result, hint=hint)
            elif spec.once_per_slot:
                self._set_slot(spec.id, slot, "dead")
            return result
        items = outcome.items or ctx.items_done
        self._finish_run(run_id, "ok", items, outcome.summary or None, None)
        if spec.once_per_slot:
            self._set_slot(spec.id, slot, "done")
        log.info("job ok job=%s slot=%s attempt=%d items=%d", spec.id, slot, attempt, items)
        return RunResult(spec.id, slot, "ok", attempt, run_id, items, outcome.summary)

    def _after_failure(
        self,
        spec: JobSpec,
        slot: str,
        attempt: int,
        args: dict[str, Any],
        error: str,
        result: RunResult,
        *,
        hint: str | None = None,
    ) -> None:
        settings = self.hub.settings
        if attempt < settings.jobs_retry_attempts and self.schedule_retry is not None:
            delay = settings.jobs_retry_base_seconds * 2 ** (attempt - 1)
            when = self.hub.clock.now() + timedelta(seconds=delay)
            if spec.once_per_slot:
                self._set_slot(spec.id, slot, "retry_wait")
            self.schedule_retry(spec.id, slot, attempt + 1, when, args)
            result.retry_at = when
            log.info(
                "retry scheduled job=%s slot=%s attempt=%d at=%s", spec.id, slot, attempt + 1, when
            )
            return
        now = self.hub.clock.now()
        with session_scope(self.hub.engine) as session:
            letter = DeadLetter(
                job_id=spec.id,
                slot=slot,
                args=json.dumps(args, sort_keys=True, default=str),
                error=error,
                attempts=attempt,
                status="open",
                created_at=now,
                updated_at=now,
            )
            session.add(letter)
            session.flush()
            letter_id = letter.id
        assert letter_id is not None
        if spec.once_per_slot:
            self._set_slot(spec.id, slot, "dead")
        result.dead_letter_id = letter_id
        log.error("job dead-lettered job=%s slot=%s dead_letter=%d", spec.id, slot, letter_id)
        signal = _dead_letter_signal(letter_id, spec, slot, error, attempt, True, hint=hint)
        _raise_alert(self.hub, signal)

    def _finish_run(
        self, run_id: int | None, outcome: str, items: int, summary: str | None, error: str | None
    ) -> None:
        with session_scope(self.hub.engine) as session:
            run = session.get(JobRun, run_id)
            assert run is not None
            run.finished_at = self.hub.clock.now()
            run.outcome = outcome
            run.items = items
            run.summary = summary[:500] if summary else None
            run.error = error
            session.add(run)


def _error_text(exc: BaseException) -> str:
    """The error as stored and shown (alerts, /hub jobs): type and message with secrets
    scrubbed, never a traceback."""
    from bot.logging_setup import REDACTOR

    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return REDACTOR.scrub(text)[:MAX_ERROR_CHARS]


def _dead_letter_signal(
    letter_id: int,
    spec: JobSpec,
    slot: str,
    error: str,
    attempts: int,
    active: bool,
    *,
    hint: str | None = None,
) -> Signal:
    """The alert of a dead letter; `hint` is the pt-BR cause/next step of an upstream error."""
    job_id = spec.id
    if active:
        title = f"Job {job_id} falhou {attempts} vezes ({slot})"
        lines = [
            f"{spec.description or job_id}: todas as tentativas falharam e o job foi para a "
            f"fila de falhas (#{letter_id}).",
            f"Último erro: {error}",
            *([hint] if hint else []),
            f"Depois de corrigir a causa, rode `/hub jobs retry {letter_id}`.",
        ]
        text = "\n".join(lines)
    else:
        title, text = job_id, f"A falha #{letter_id} foi reprocessada com sucesso."
    return Signal(
        key=f"jobs.dead_letter:{letter_id}",
        active=active,
        title=title,
        text=text,
        severity="critical",
        route="alerts",
        details={"dead_letter_id": letter_id, "job_id": job_id, "slot": slot},
    )


def _raise_alert(hub: Hub, signal: Signal) -> None:
    from jobs.alerts import AlertEngine

    try:
        AlertEngine(hub).apply("jobs.dead_letters", signal)
    except Exception:
        # The dead letter is stored either way; the alert must not hide the job's own error.
        log.exception("dead-letter alert failed key=%s", signal.key)


# --- read side (handlers, CLI) --------------------------------------------------------------
@dataclass
class JobStatus:
    spec: JobSpec
    next_run: datetime | None
    last_run: JobRun | None


def last_runs(hub: Hub) -> dict[str, JobRun]:
    """The latest finished-or-running run of every job."""
    with session_scope(hub.engine) as session:
        latest = (
            select(JobRun.job_id, func.max(JobRun.id).label("id"))
            .group_by(col(JobRun.job_id))
            .subquery()
        )
        rows = session.exec(select(JobRun).join(latest, col(JobRun.id) == latest.c.id)).all()
    return {row.job_id: row for row in rows}


def open_dead_letters(hub: Hub, *, include_resolved: bool = False) -> list[DeadLetter]:
    with session_scope(hub.engine) as session:
        query = select(DeadLetter).order_by(col(DeadLetter.id).desc())
        if not include_resolved:
            query = query.where(DeadLetter.status == "open")
        return list(session.exec(query).all())


def runs_of(hub: Hub, job_id: str, slot: str | None = None) -> list[JobRun]:
    with session_scope(hub.engine) as session:
        query = select(JobRun).where(JobRun.job_id == job_id).order_by(col(JobRun.id))
        if slot is not None:
            query = query.where(JobRun.slot == slot)
        return list(session.exec(query).all())


def job_statuses(hub: Hub) -> list[JobStatus]:
    """Every declared job with its next run (job store, else its trigger) and last run."""
    from jobs.registry import load_jobs
    from jobs.scheduler import SERVICE_KEY, build_trigger

    load_jobs()
    scheduler = hub.services.get(SERVICE_KEY)
    stored = scheduler.next_run_times() if scheduler is not None else {}
    last = last_runs(hub)
    now = hub.clock.now()
    statuses = []
    for job_id, spec in sorted(JOBS.items()):
        next_run = stored.get(job_id) or build_trigger(spec, hub.settings.tz).get_next_fire_time(
            None, now
        )
        statuses.append(JobStatus(spec, next_run, last.get(job_id)))
    return statuses
