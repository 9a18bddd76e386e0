from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.notify import RecordingNotifier
from integrations.runtime.errors import AuthError
from jobs.alerts import open_incidents
from jobs.registry import JobContext, JobOutcome
from jobs.runs import open_dead_letters, runs_of
from jobs.scheduler import HubScheduler
from tests.jobs.conftest import spec, wait_all

MakeHub = Callable[..., Hub]
MakeScheduler = Callable[..., HubScheduler]


class Flaky:
    """A job that fails while `broken` is set, posting its report to the costs route."""

    def __init__(self) -> None:
        self.broken = True
        self.calls: list[tuple[str, int]] = []

    def __call__(self, ctx: JobContext) -> JobOutcome:
        self.calls.append((ctx.slot, len(self.calls) + 1))
        if self.broken:
            raise RuntimeError("upstream 503")
        ctx.post("costs", f"relatório {ctx.slot}")
        return JobOutcome(items=7, summary="ok")


def test_dead_letter_alert_of_an_upstream_failure_says_what_to_do_in_pt_br(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    def refused(ctx: JobContext) -> JobOutcome:
        raise AuthError("authentication failed", integration="openai", operation="costs.list")

    notifier = RecordingNotifier()
    scheduler = make_scheduler(make_hub(sqlite_engine, notifier), [spec("t.costs", refused)])
    clock.set(datetime(2026, 11, 3, 11, 0, tzinfo=UTC))
    for wait in (0, 60, 120):
        clock.advance(wait)
        wait_all(scheduler.tick())

    [alert] = notifier.posts
    assert "Último erro: AuthError: openai.costs.list: authentication failed" in alert["text"]
    assert "OpenAI (custos e uso) recusou as credenciais configuradas" in alert["text"]
    assert "/hub jobs retry" in alert["text"]


def test_a_failure_message_with_a_token_is_stored_and_alerted_scrubbed(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    def leaky(ctx: JobContext) -> JobOutcome:
        raise RuntimeError("GET https://x.test/?token=xoxb-1234-5678-abcdefgh failed")

    notifier = RecordingNotifier()
    scheduler = make_scheduler(make_hub(sqlite_engine, notifier), [spec("t.leaky", leaky)])
    clock.set(datetime(2026, 11, 3, 11, 0, tzinfo=UTC))
    for wait in (0, 60, 120):
        clock.advance(wait)
        wait_all(scheduler.tick())

    stored = [run.error for run in runs_of(scheduler.hub, "t.leaky")]
    assert stored == ["RuntimeError: GET https://x.test/?token=*** failed"] * 3
    [alert] = notifier.posts
    assert "xoxb-" not in alert["text"] and "token=***" in alert["text"]


def test_retries_with_backoff_then_dead_letter_and_alert(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    notifier = RecordingNotifier()
    job = Flaky()
    scheduler = make_scheduler(make_hub(sqlite_engine, notifier), [spec("t.report", job)])
    clock.set(datetime(2026, 11, 3, 11, 0, tzinfo=UTC))
    wait_all(scheduler.tick())
    assert len(job.calls) == 1

    # Backoff: base 60 s, then 120 s (3 attempts in total).
    clock.advance(59)
    assert scheduler.tick() == {}
    clock.advance(1)
    wait_all(scheduler.tick())
    assert len(job.calls) == 2
    clock.advance(119)
    assert scheduler.tick() == {}
    clock.advance(1)
    wait_all(scheduler.tick())
    assert len(job.calls) == 3
    clock.advance(3600)
    assert scheduler.tick() == {}  # no 4th attempt

    runs = runs_of(scheduler.hub, "t.report")
    assert [(r.attempt, r.trigger, r.outcome) for r in runs] == [
        (1, "schedule", "failed"),
        (2, "retry", "failed"),
        (3, "retry", "failed"),
    ]
    assert runs[0].error == "RuntimeError: upstream 503"
    letters = open_dead_letters(scheduler.hub)
    assert [(d.job_id, d.slot, d.attempts, d.error) for d in letters] == [
        ("t.report", "2026-11-03", 3, "RuntimeError: upstream 503")
    ]
    # One alert, in the alerts channel, telling the operator what to run.
    assert len(notifier.posts) == 1
    alert = notifier.posts[0]
    assert alert["channel"] == "C_ALERTS"
    assert "t.report falhou 3 vezes" in alert["text"]
    assert f"/hub jobs retry {letters[0].id}" in alert["text"]
    assert [i.key for i in open_incidents(scheduler.hub)] == [f"jobs.dead_letter:{letters[0].id}"]

    # Fixed: the operator re-runs the dead letter; it runs once, posts and closes the alert.
    job.broken = False
    result = scheduler.retry_dead_letter(letters[0].id, by="U_OP")
    assert (result.outcome, result.attempt, result.items) == ("ok", 4, 7)
    assert str(result) == "t.report (2026-11-03): ok, 7 itens — ok"
    assert open_dead_letters(scheduler.hub) == []
    assert open_incidents(scheduler.hub) == []
    assert [p["channel"] for p in notifier.posts[1:]] == ["C_COSTS", "C_ALERTS"]
    assert notifier.posts[2]["text"].startswith("✅ Normalizado")
    # A second retry of the same dead letter does nothing.
    assert scheduler.retry_dead_letter(letters[0].id, by="U_OP").outcome == "skipped"
    assert len(job.calls) == 4


def test_batches_resume_after_the_last_finished_batch_and_posts_are_not_repeated(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler, clock: FakeClock
) -> None:
    notifier = RecordingNotifier()
    processed: list[list[int]] = []
    fail_on = {7}

    def backfill(ctx: JobContext) -> None:
        ctx.post("alerts", "início do backfill")
        for batch in ctx.batches(list(range(10)), key=str, size=3):
            if fail_on & set(batch):
                fail_on.clear()
                raise RuntimeError("timeout no dia 7")
            processed.append(batch)

    scheduler = make_scheduler(
        make_hub(sqlite_engine, notifier), [spec("t.backfill", backfill, priority="low")]
    )
    first = scheduler.run_now("t.backfill", slot="2026-11-03")
    assert first.outcome == "failed"
    assert first.items == 6
    assert first.retry_at == clock.now() + timedelta(seconds=60)
    clock.advance(60)
    wait_all(scheduler.tick())
    assert processed == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    runs = runs_of(scheduler.hub, "t.backfill")
    assert [(r.attempt, r.outcome, r.items) for r in runs] == [(1, "failed", 6), (2, "ok", 4)]
    assert [p["text"] for p in notifier.posts] == ["início do backfill"]


def test_routes_fall_back_to_the_alerts_channel(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler
) -> None:
    notifier = RecordingNotifier()

    def post_everywhere(ctx: JobContext) -> None:
        for route in ("costs", "shopify", "novelties", "alerts"):
            ctx.post(route, route)

    scheduler = make_scheduler(make_hub(sqlite_engine, notifier), [spec("t.post", post_everywhere)])
    assert scheduler.run_now("t.post").outcome == "ok"
    assert [(p["text"], p["channel"]) for p in notifier.posts] == [
        ("costs", "C_COSTS"),
        ("shopify", "C_ALERTS"),
        ("novelties", "C_ALERTS"),
        ("alerts", "C_ALERTS"),
    ]


def test_no_channel_configured_fails_the_run_with_a_clear_error(
    sqlite_engine: Engine, make_scheduler: MakeScheduler, fake_clock: FakeClock, tmp_path: object
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)  # no HUB_CHANNEL_* at all
    hub = Hub.create(settings, engine=sqlite_engine, clock=fake_clock, notifier=RecordingNotifier())
    scheduler = make_scheduler(hub, [spec("t.post", lambda ctx: ctx.post("costs", "x"))])
    result = scheduler.run_now("t.post")
    assert result.outcome == "failed"
    assert result.error is not None and "HUB_CHANNEL_ALERTS" in result.error
    hub.close()


def test_unknown_job_is_refused(
    sqlite_engine: Engine, make_hub: MakeHub, make_scheduler: MakeScheduler
) -> None:
    from jobs.scheduler import UnknownJob

    scheduler = make_scheduler(make_hub(sqlite_engine), [])
    with pytest.raises(UnknownJob):
        scheduler.run_now("nope")
