from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.clock import FakeClock
from bot.hub import Hub
from bot.notify import RecordingNotifier
from integrations.runtime.errors import UpstreamUnavailable
from integrations.runtime.harness import Fault, SimulatorServer
from integrations.runtime.health import IntegrationStats
from jobs.alerts import AlertEngine, open_incidents
from jobs.health_alerts import health_signals, runtime_health
from jobs.registry import JOBS, Signal
from jobs.scheduler import HubScheduler
from tests.jobs.conftest import wait_all

MakeHub = Callable[..., Hub]


class Switch:
    """A detector whose signal the test turns on and off."""

    def __init__(self) -> None:
        self.active = False
        self.calls = 0

    def __call__(self, hub: Hub) -> Iterable[Signal]:
        self.calls += 1
        yield Signal(
            key="test.balance:smmraja",
            active=self.active,
            title="Saldo baixo na SMMRaja",
            text="Saldo US$ 3,20 (mínimo US$ 10)" if self.active else "Saldo recomposto",
            severity="warning",
            route="costs",
        )


def test_incident_opens_once_reminds_after_cooldown_and_closes_with_recovery(
    db_engine: Engine, make_hub: MakeHub, clock: FakeClock
) -> None:
    notifier = RecordingNotifier()
    hub = make_hub(db_engine, notifier)
    switch = Switch()
    engine = AlertEngine(hub, {"test.balance": switch})

    assert engine.poll().actions == {"test.balance:smmraja": "unchanged"}
    assert notifier.posts == []

    switch.active = True
    assert engine.poll().actions == {"test.balance:smmraja": "opened"}
    assert len(notifier.posts) == 1
    opened = notifier.posts[0]
    assert opened["channel"] == "C_COSTS"
    assert "Saldo baixo na SMMRaja" in opened["text"]
    [incident] = open_incidents(hub)
    assert incident.message_ts == opened["ts"]

    # Still active inside the cooldown (1 h): nothing posted.
    for _ in range(5):
        clock.advance(600)
        assert engine.poll().actions == {"test.balance:smmraja": "unchanged"}
    assert len(notifier.posts) == 1

    clock.advance(600)  # 1 h since the post
    assert engine.poll().actions == {"test.balance:smmraja": "reminded"}
    assert len(notifier.posts) == 2
    assert notifier.posts[1]["text"].startswith("🟠 Ainda em aberto")

    clock.advance(1500)
    switch.active = False
    assert engine.poll().actions == {"test.balance:smmraja": "closed"}
    assert len(notifier.posts) == 3
    recovery = notifier.posts[2]
    assert recovery["channel"] == "C_COSTS"
    assert recovery["text"].startswith(
        "✅ Normalizado: *Saldo baixo na SMMRaja* (durou 1 h 25 min)"
    )
    assert open_incidents(hub) == []

    assert engine.poll().actions == {"test.balance:smmraja": "unchanged"}
    switch.active = True  # a new occurrence is a new incident
    assert engine.poll().actions == {"test.balance:smmraja": "opened"}
    assert len(notifier.posts) == 4


def test_two_instances_polling_post_each_transition_once(
    db_engine: Engine, make_hub: MakeHub, clock: FakeClock
) -> None:
    notifier = RecordingNotifier()
    switch = Switch()
    a = AlertEngine(make_hub(db_engine, notifier), {"test.balance": switch})
    b = AlertEngine(make_hub(db_engine, notifier), {"test.balance": switch})
    switch.active = True
    assert [a.poll().actions, b.poll().actions] == [
        {"test.balance:smmraja": "opened"},
        {"test.balance:smmraja": "unchanged"},
    ]
    clock.advance(3600)
    assert {*a.poll().actions.values(), *b.poll().actions.values()} == {"reminded", "unchanged"}
    switch.active = False
    assert {*a.poll().actions.values(), *b.poll().actions.values()} == {"closed", "unchanged"}
    assert len(notifier.posts) == 3


def test_a_failing_detector_is_skipped_and_the_others_still_run(
    sqlite_engine: Engine, make_hub: MakeHub
) -> None:
    def broken(hub: Hub) -> list[Signal]:
        raise RuntimeError("bug")

    switch = Switch()
    switch.active = True
    result = AlertEngine(make_hub(sqlite_engine), {"a.broken": broken, "b.ok": switch}).poll()
    assert result.failed_detectors == ["a.broken"]
    assert result.actions == {"test.balance:smmraja": "opened"}


def test_a_failed_post_is_retried_at_the_next_poll(
    sqlite_engine: Engine, make_hub: MakeHub
) -> None:
    class Flaky(RecordingNotifier):
        fail = True

        def post(self, channel: str, text: str, blocks=None, thread_ts=None):  # type: ignore[no-untyped-def]
            if self.fail:
                raise ConnectionError("slack down")
            return super().post(channel, text, blocks, thread_ts)

    notifier = Flaky()
    switch = Switch()
    switch.active = True
    engine = AlertEngine(make_hub(sqlite_engine, notifier), {"t": switch})
    assert engine.poll().actions == {"test.balance:smmraja": "opened"}
    assert notifier.posts == []
    notifier.fail = False
    assert engine.poll().actions == {"test.balance:smmraja": "reminded"}
    assert len(notifier.posts) == 1
    assert notifier.posts[0]["text"].startswith("🟠 *Saldo baixo na SMMRaja*")  # the opening


def test_an_incident_never_posted_closes_without_a_recovery_message(
    sqlite_engine: Engine, make_hub: MakeHub
) -> None:
    attempts: list[str] = []

    class Down(RecordingNotifier):
        def post(self, channel: str, text: str, blocks=None, thread_ts=None):  # type: ignore[no-untyped-def]
            attempts.append(text)
            raise ConnectionError("slack down")

    switch = Switch()
    switch.active = True
    engine = AlertEngine(make_hub(sqlite_engine, Down()), {"t": switch})
    assert engine.poll().actions == {"test.balance:smmraja": "opened"}
    switch.active = False
    assert engine.poll().actions == {"test.balance:smmraja": "closed"}
    assert len(attempts) == 1  # the failed opening only; no "Normalizado" for an unseen alert


def _stats(**kw: object) -> IntegrationStats:
    return IntegrationStats(integration="openai", window_seconds=86400, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stats", "active"),
    [
        (_stats(consecutive_failures=5, last_latency_ms=200.0), set()),
        (_stats(consecutive_failures=6, last_error_category="server"), {"down"}),
        (_stats(last_latency_ms=10_000.0), set()),
        (_stats(last_latency_ms=10_001.0, p95_ms=9000.0), {"latency"}),
        (_stats(rate_limited_at=datetime(2026, 11, 3, 9, 50, tzinfo=UTC)), {"rate_limit"}),
        (_stats(rate_limited_at=datetime(2026, 11, 3, 9, 40, tzinfo=UTC)), set()),
    ],
)
def test_health_thresholds(
    stats: IntegrationStats, active: set[str], jobs_settings: object, clock: FakeClock
) -> None:
    from bot.settings import Settings

    assert isinstance(jobs_settings, Settings)
    signals = health_signals(stats, jobs_settings, clock.now(), "OpenAI")
    assert {s.key.split(":")[0].removeprefix("runtime.") for s in signals if s.active} == active
    assert {s.key for s in signals} == {
        "runtime.down:openai",
        "runtime.latency:openai",
        "runtime.rate_limit:openai",
    }


def _vendor_app() -> Starlette:
    async def balance(request: Request) -> JSONResponse:
        return JSONResponse({"balance": "12.50", "currency": "USD"})

    return Starlette(routes=[Route("/api/balance", balance)])


def test_api_down_is_raised_from_real_calls_and_recovers(
    sqlite_engine: Engine, make_hub: MakeHub, clock: FakeClock
) -> None:
    notifier = RecordingNotifier()
    hub = make_hub(sqlite_engine, notifier)
    engine = AlertEngine(hub, {"runtime.health": runtime_health})
    with SimulatorServer(_vendor_app(), name="vendor") as sim:
        client = hub.runtime.client("vendor", sim.base_url)
        client.json("GET", "/api/balance", operation="balance", retry=False)
        engine.poll()
        assert notifier.posts == []

        sim.faults.add("/api/balance", Fault(status=503), times=6)
        for _ in range(6):
            with pytest.raises(UpstreamUnavailable):
                client.request("GET", "/api/balance", operation="balance", retry=False)
        actions = engine.poll().actions
        assert actions["runtime.down:vendor"] == "opened"
        assert [p["channel"] for p in notifier.posts] == ["C_ALERTS"]
        assert "vendor fora do ar" in notifier.posts[0]["text"]
        assert "6 falhas seguidas" in notifier.posts[0]["text"]
        assert "último erro: erro no servidor (5xx)" in notifier.posts[0]["text"]

        clock.advance(60)
        client.json("GET", "/api/balance", operation="balance", retry=False)
        assert engine.poll().actions["runtime.down:vendor"] == "closed"
        assert notifier.posts[-1]["text"].startswith("✅ Normalizado: *vendor fora do ar*")
        assert open_incidents(hub) == []


def test_alert_poll_is_a_critical_job_run_by_the_scheduler(
    sqlite_engine: Engine, make_hub: MakeHub, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jobs.alerts

    switch = Switch()
    switch.active = True
    monkeypatch.setattr(jobs.alerts, "DETECTORS", {"test.balance": switch})
    notifier = RecordingNotifier()
    poll = JOBS["alerts.poll"]
    assert (poll.priority, poll.interval, poll.once_per_slot) == (
        "critical",
        {"seconds": 60},
        False,
    )
    scheduler = HubScheduler(make_hub(sqlite_engine, notifier), specs={poll.id: poll})
    scheduler.start(background=False)
    try:
        wait_all(scheduler.tick())  # 10:00:00 is a fire time
        clock.advance(60)
        wait_all(scheduler.tick())
    finally:
        scheduler.shutdown()
    assert switch.calls == 2
    assert len(notifier.posts) == 1  # opened once, no reminder inside the cooldown


def test_probe_job_calls_each_configured_integration_and_feeds_the_down_alert(
    sqlite_engine: Engine, make_hub: MakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.runtime import registry
    from integrations.runtime.registry import CheckResult, Integration
    from jobs.health_alerts import probe_integrations
    from jobs.runs import RunContext

    notifier = RecordingNotifier()
    hub = make_hub(sqlite_engine, notifier)
    with SimulatorServer(_vendor_app(), name="vendor") as sim:

        def check(h: Hub) -> CheckResult:
            client = h.runtime.client("vendor", sim.base_url)
            client.json("GET", "/api/balance", operation="health", retry=False)
            return CheckResult("pass")

        monkeypatch.setattr(registry, "_loaded", True)
        monkeypatch.setattr(
            registry,
            "_REGISTRY",
            {
                "vendor": Integration("vendor", "Vendor", lambda s: True, health_check=check),
                "off": Integration("off", "Off", lambda s: False, health_check=check),
            },
        )
        ctx = RunContext(hub, "integrations.probe", "2026-11-03T07:00")
        sim.faults.add("/api/balance", Fault(status=500), times=6)
        outcomes = [probe_integrations(ctx) for _ in range(6)]
        summaries = {(o.items, o.summary) for o in outcomes}
        assert summaries == {(1, "com falha: vendor (UpstreamUnavailable)")}
        engine = AlertEngine(hub, {"runtime.health": runtime_health})
        assert engine.poll().actions["runtime.down:vendor"] == "opened"
        assert "Vendor fora do ar" in notifier.posts[-1]["text"]
        assert probe_integrations(ctx).summary == "todas responderam"
        assert engine.poll().actions["runtime.down:vendor"] == "closed"
