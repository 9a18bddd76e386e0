from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.settings import Settings
from integrations.runtime.errors import UpstreamUnavailable
from integrations.runtime.health import (
    compute_stats,
    health_report,
    integration_stats,
    percentile,
)
from integrations.runtime.models import ApiCall
from integrations.runtime.recorder import CallRecord
from integrations.runtime.registry import CheckResult, Integration


def _record(
    hub: Hub,
    name: str,
    *,
    ok: bool = True,
    latency_ms: float = 100.0,
    category: str | None = None,
    status: int | None = 200,
    error: str | None = None,
) -> None:
    hub.runtime.record(
        CallRecord(
            integration=name,
            operation="op",
            started_at=hub.clock.now(),
            latency_ms=latency_ms,
            ok=ok,
            status_code=status,
            category=category,
            error=error,
        )
    )
    assert isinstance(hub.clock, FakeClock)
    hub.clock.advance(1)


def _fail(hub: Hub, name: str, category: str = "server", status: int | None = 503) -> None:
    _record(hub, name, ok=False, category=category, status=status, error="upstream unavailable")


def _integration(
    name: str,
    *,
    configured: bool = True,
    probe: CheckResult | Exception | None = None,
    errors: list[str] | None = None,
) -> Integration:
    def check(_hub: Hub) -> CheckResult:
        if isinstance(probe, Exception):
            raise probe
        assert probe is not None
        return probe

    return Integration(
        name=name,
        display_name=name.title(),
        is_configured=lambda _s: configured,
        config_errors=lambda _s: list(errors or []),
        how_to_configure=f"Defina {name.upper()}_API_KEY no .env",
        health_check=check if probe is not None else None,
    )


def _rows_in_db(hub: Hub) -> int:
    with hub.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ApiCall)).scalar_one())


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_stats_combine_database_rows_and_the_unflushed_buffer(hub: Hub) -> None:
    for latency in (10, 20, 30, 40):
        _record(hub, "alpha", latency_ms=latency)
    hub.runtime.flush()
    assert _rows_in_db(hub) == 4
    for latency in (50, 60, 70, 80, 90, 100):
        _record(hub, "alpha", latency_ms=latency)
    _record(hub, "beta", latency_ms=5000)  # another integration is not mixed in
    assert _rows_in_db(hub) == 4  # recording does not write per call

    stats = integration_stats(hub, "alpha")
    assert stats.calls == 10
    assert stats.success_rate == 1.0
    assert stats.p50_ms == pytest.approx(55.0)
    assert stats.p95_ms == pytest.approx(95.5)
    assert stats.p99_ms == pytest.approx(99.1)
    assert stats.last_latency_ms == 100
    assert stats.consecutive_failures == 0
    assert stats.last_ok_at is not None and stats.last_error_at is None


def test_stats_track_failures_errors_and_the_last_429(hub: Hub) -> None:
    _record(hub, "alpha")
    ok_at = hub.clock.now() - timedelta(seconds=1)
    _fail(hub, "alpha", "rate_limit", 429)
    limited_at = hub.clock.now() - timedelta(seconds=1)
    _fail(hub, "alpha", "timeout", None)
    _fail(hub, "alpha", "network", None)
    error_at = hub.clock.now() - timedelta(seconds=1)
    stats = integration_stats(hub, "alpha")
    assert stats.calls == 4
    assert stats.failures == 3
    assert stats.success_rate == pytest.approx(0.25)
    assert stats.consecutive_failures == 3
    assert stats.last_error_category == "network"
    assert stats.last_error_at == error_at
    assert stats.last_ok_at == ok_at
    assert stats.rate_limited_at == limited_at
    assert stats.by_category == {"ok": 1, "rate_limit": 1, "timeout": 1, "network": 1}


def test_client_errors_do_not_count_against_health(hub: Hub) -> None:
    for _ in range(10):
        _fail(hub, "alpha", "client", 404)
    stats = integration_stats(hub, "alpha")
    assert stats.client_errors == 10
    assert stats.failures == 0
    assert stats.success_rate == 1.0
    assert stats.consecutive_failures == 0
    report = health_report(hub, integrations=[_integration("alpha")])
    assert report.get("alpha").status == "pass"


def test_window_excludes_old_calls(hub: Hub, fake_clock: FakeClock) -> None:
    for _ in range(3):
        _fail(hub, "alpha")
    hub.runtime.flush()
    fake_clock.advance(25 * 3600)
    _record(hub, "alpha")
    assert integration_stats(hub, "alpha").calls == 1
    assert integration_stats(hub, "alpha", window=timedelta(days=2)).calls == 4


def test_sub_keys_count_towards_their_integration(hub: Hub) -> None:
    _record(hub, "shopify:loja1")
    _fail(hub, "shopify:loja2")
    _record(hub, "shopifyish")  # only "name" or "name:<sub>" match
    hub.runtime.flush()
    stats = integration_stats(hub, "shopify")
    assert stats.calls == 2
    assert stats.failures == 1


def test_health_rules_pass_warn_fail_not_configured(hub: Hub) -> None:
    # pass: all good
    for _ in range(20):
        _record(hub, "good")
    # warn: 1 failure in 10 calls (90 % < 95 %), but not consecutive
    _fail(hub, "flaky")
    for _ in range(9):
        _record(hub, "flaky")
    # warn: slow p95 (> alert_latency_seconds = 10 s)
    for _ in range(10):
        _record(hub, "slow", latency_ms=12_000)
    # fail: 5 consecutive failures (alert_consecutive_failures = 5)
    _record(hub, "down")
    for _ in range(5):
        _fail(hub, "down")
    integrations = [
        _integration("good"),
        _integration("flaky"),
        _integration("slow"),
        _integration("down"),
        _integration("absent", configured=False),
    ]

    report = health_report(hub, integrations=integrations)

    assert {i.name: i.status for i in report.integrations} == {
        "good": "pass",
        "flaky": "warn",
        "slow": "warn",
        "down": "fail",
        "absent": "not_configured",
    }
    assert report.status == "fail"
    assert report.http_status == 503
    assert "5 falhas seguidas" in report.get("down").reasons[0]
    assert "latência p95" in report.get("slow").reasons[0]
    assert report.get("absent").how_to_configure == "Defina ABSENT_API_KEY no .env"
    assert report.get("absent").stats is None

    data = json.loads(json.dumps(report.to_dict()))
    assert data["status"] == "fail"
    assert data["integrations"]["good"]["detail"] == "20 chamadas nas últimas 24 h, sem problemas"
    assert data["integrations"]["absent"]["detail"] == "Defina ABSENT_API_KEY no .env"
    assert data["integrations"]["flaky"]["detail"] == "taxa de sucesso 90.0% (< 95%)"
    down = data["integrations"]["down"]
    assert down["stats"]["consecutive_failures"] == 5
    assert down["stats"]["last_error_category"] == "server"
    assert down["stats"]["success_rate"] == pytest.approx(1 / 6, abs=1e-4)
    assert {"p50_ms", "p95_ms", "p99_ms", "last_error_at"} <= set(down["stats"])


def test_report_is_200_when_nothing_fails(hub: Hub) -> None:
    _fail(hub, "flaky")
    _record(hub, "flaky")
    report = health_report(
        hub, integrations=[_integration("flaky"), _integration("absent", configured=False)]
    )
    assert report.get("flaky").status == "warn"
    assert report.status == "warn"
    assert report.http_status == 200


def test_recovery_resets_consecutive_failures(hub: Hub) -> None:
    for _ in range(6):
        _fail(hub, "alpha")
    assert health_report(hub, integrations=[_integration("alpha")]).http_status == 503
    _record(hub, "alpha")
    stats = integration_stats(hub, "alpha")
    assert stats.consecutive_failures == 0
    assert health_report(hub, integrations=[_integration("alpha")]).get("alpha").status == "warn"


def test_probe_results_and_probe_exceptions(hub: Hub) -> None:
    integrations = [
        _integration("ok", probe=CheckResult("pass", "chave válida")),
        _integration("meh", probe=CheckResult("warn", "quota quase no fim")),
        _integration("bad", probe=CheckResult("fail", "chave inválida")),
        _integration("boom", probe=RuntimeError("kaput")),
        _integration("down", probe=UpstreamUnavailable("503 sk-live-x", status_code=503)),
        _integration("never", probe=CheckResult("fail"), configured=False),
    ]
    without = health_report(hub, integrations=integrations)
    assert without.http_status == 200  # probes only run when asked
    assert all(i.probe is None for i in without.integrations)

    report = health_report(hub, probe=True, integrations=integrations)
    statuses = {i.name: i.status for i in report.integrations}
    assert statuses == {
        "ok": "pass",
        "meh": "warn",
        "bad": "fail",
        "boom": "fail",
        "down": "fail",
        "never": "not_configured",
    }
    assert report.get("boom").probe == CheckResult("fail", "RuntimeError: kaput")
    # an upstream error reads as its pt-BR category, not the exception's text
    assert report.get("down").probe == CheckResult("fail", "erro no servidor (5xx)")
    assert report.to_dict()["integrations"]["bad"]["probe"]["detail"] == "chave inválida"
    assert report.http_status == 503


def test_invalid_configuration_fails_without_probing(hub: Hub) -> None:
    called: list[str] = []

    def check(_hub: Hub) -> CheckResult:
        called.append("probe")
        return CheckResult("pass")

    integration = Integration(
        name="shop",
        display_name="Shop",
        is_configured=lambda _s: True,
        config_errors=lambda _s: ["SHOPIFY_STORES não é JSON válido"],
        health_check=check,
    )
    report = health_report(hub, probe=True, integrations=[integration])
    assert report.get("shop").status == "fail"
    assert "SHOPIFY_STORES" in report.get("shop").reasons[0]
    assert called == []


def test_registry_is_used_by_default(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.runtime import registry

    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_loaded", True)
    registry.register(_integration("zeta"))
    registry.register(_integration("alpha", configured=False))
    report = health_report(hub)
    assert [i.name for i in report.integrations] == ["alpha", "zeta"]


def test_compute_stats_of_nothing() -> None:
    stats = compute_stats("x", [])
    assert stats.calls == 0
    assert stats.success_rate is None
    assert stats.p95_ms is None


def test_stats_from_flushed_rows_on_each_backend(
    db_engine: Engine, settings: Settings, fake_clock: FakeClock
) -> None:
    hub = Hub.create(settings, engine=db_engine, clock=fake_clock)
    try:
        _record(hub, "alpha:one", latency_ms=10)
        _fail(hub, "alpha:two", "auth", 401)
        hub.runtime.flush()
        assert hub.runtime.recorder.snapshot() == []
        stats = integration_stats(hub, "alpha")
        assert (stats.calls, stats.failures, stats.last_error_category) == (2, 1, "auth")
        assert stats.last_error_at is not None and stats.last_error_at.tzinfo is not None
    finally:
        hub.close()
