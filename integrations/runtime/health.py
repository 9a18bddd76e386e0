"""Integration health: call statistics and the pass / warn / fail / not_configured verdict.

`integration_stats` reads `api_calls` (plus the runtime's not-yet-flushed buffer) for one
integration over a window; `health_report` applies the rules to every registered integration
and, with `probe=True`, runs each one's live `health_check`. The web server serves the report at
`/health` (`report.http_status`: 200 when nothing fails, 503 otherwise) and the CLI prints it;
the alert detectors read the stats.

Rules (settings):
  fail  consecutive upstream failures ≥ `alert_consecutive_failures`, an invalid configuration,
        or the probe fails;
  warn  success rate < 95 %, p95 latency > `alert_latency_seconds`, or the probe warns;
  pass  otherwise (also with no calls in the window);
  not_configured  no credentials (with how to configure them).

A `client` error (400/404/422: the service answered and rejected one request) is recorded but
does not count as an upstream failure, neither in the success rate nor in consecutive failures.
Integration keys with a sub-key (`shopify:loja1`) count towards their integration (`shopify`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from bot.logging_setup import REDACTOR
from integrations.runtime.errors import IntegrationError, category_label
from integrations.runtime.recorder import CallRecord, counts_as_failure
from integrations.runtime.registry import CheckResult, HealthStatus, Integration

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)

WARN_SUCCESS_RATE = 0.95
DEFAULT_WINDOW = timedelta(hours=24)
_ORDER: dict[str, int] = {"pass": 0, "not_configured": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class IntegrationStats:
    integration: str
    window_seconds: float
    calls: int = 0
    failures: int = 0  # upstream failures (every category but `client`)
    client_errors: int = 0
    success_rate: float | None = None  # None without calls
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    consecutive_failures: int = 0
    last_error_category: str | None = None
    last_error_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_latency_ms: float | None = None
    rate_limited_at: datetime | None = None  # the last 429
    by_category: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
            elif isinstance(value, float):
                out[key] = round(value, 4 if key == "success_rate" else 1)
        return out


@dataclass(frozen=True)
class IntegrationHealth:
    name: str
    display_name: str
    status: HealthStatus
    reasons: tuple[str, ...] = ()
    stats: IntegrationStats | None = None
    probe: CheckResult | None = None
    how_to_configure: str = ""

    @property
    def detail(self) -> str:
        """One pt-BR line for people: why it is not `pass`, or how to configure it."""
        if self.status == "not_configured":
            return self.how_to_configure or "sem credenciais"
        if self.reasons:
            return "; ".join(self.reasons)
        hours = f"{(self.stats.window_seconds if self.stats else 86400) / 3600:g} h"
        if self.stats is not None and self.stats.calls:
            return f"{self.stats.calls} chamadas nas últimas {hours}, sem problemas"
        return f"sem chamadas nas últimas {hours}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "status": self.status,
            "detail": self.detail,
            "reasons": list(self.reasons),
            "stats": self.stats.to_dict() if self.stats else None,
            "probe": (
                {"status": self.probe.status, "detail": self.probe.detail} if self.probe else None
            ),
            "how_to_configure": self.how_to_configure or None,
        }


@dataclass(frozen=True)
class HealthReport:
    generated_at: datetime
    integrations: tuple[IntegrationHealth, ...]
    probed: bool = False

    @property
    def status(self) -> HealthStatus:
        worst = max((_ORDER[i.status] for i in self.integrations), default=0)
        return "fail" if worst == 2 else "warn" if worst == 1 else "pass"

    @property
    def http_status(self) -> int:
        return 503 if self.status == "fail" else 200

    def get(self, name: str) -> IntegrationHealth:
        for item in self.integrations:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "generated_at": self.generated_at.isoformat(),
            "probed": self.probed,
            "integrations": {i.name: i.to_dict() for i in self.integrations},
        }


# --- statistics -----------------------------------------------------------------------------
def _matches(record_name: str, name: str) -> bool:
    return record_name == name or record_name.startswith(name + ":")


def _rows(hub: Hub, name: str, since: datetime) -> list[CallRecord]:
    from integrations.runtime.models import ApiCall

    table = ApiCall.__table__  # type: ignore[attr-defined]
    stmt = (
        select(
            table.c.integration,
            table.c.operation,
            table.c.started_at,
            table.c.latency_ms,
            table.c.ok,
            table.c.status_code,
            table.c.category,
            table.c.error,
            table.c.attempt,
        )
        .where(
            or_(table.c.integration == name, table.c.integration.like(f"{name}:%")),
            table.c.started_at >= since,
        )
        .order_by(table.c.started_at, table.c.id)
    )
    with hub.engine.connect() as conn:
        return [CallRecord(*row) for row in conn.execute(stmt)]


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def compute_stats(
    name: str, records: Iterable[CallRecord], *, window: timedelta = DEFAULT_WINDOW
) -> IntegrationStats:
    """Statistics of `records` (already limited to the window), in time order."""
    ordered = sorted(records, key=lambda r: r.started_at)
    calls = len(ordered)
    if not calls:
        return IntegrationStats(integration=name, window_seconds=window.total_seconds())
    failures = sum(1 for r in ordered if counts_as_failure(r.ok, r.category))
    client_errors = sum(1 for r in ordered if not r.ok and r.category == "client")
    latencies = sorted(r.latency_ms for r in ordered)
    by_category: dict[str, int] = {}
    for r in ordered:
        key = r.category or "ok"
        by_category[key] = by_category.get(key, 0) + 1
    consecutive = 0
    for r in reversed(ordered):
        if counts_as_failure(r.ok, r.category):
            consecutive += 1
        else:
            break
    errors = [r for r in ordered if not r.ok]
    oks = [r for r in ordered if r.ok]
    limited = [r for r in ordered if r.category == "rate_limit"]
    return IntegrationStats(
        integration=name,
        window_seconds=window.total_seconds(),
        calls=calls,
        failures=failures,
        client_errors=client_errors,
        success_rate=(calls - failures) / calls,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        consecutive_failures=consecutive,
        last_error_category=errors[-1].category if errors else None,
        last_error_at=errors[-1].started_at if errors else None,
        last_ok_at=oks[-1].started_at if oks else None,
        last_latency_ms=ordered[-1].latency_ms,
        rate_limited_at=limited[-1].started_at if limited else None,
        by_category=by_category,
    )


def integration_stats(
    hub: Hub, name: str, *, window: timedelta = DEFAULT_WINDOW
) -> IntegrationStats:
    """Call statistics of one integration over `window` (database + unflushed buffer)."""
    since = hub.clock.now() - window
    records = _rows(hub, name, since)
    records += [
        r
        for r in hub.runtime.recorder.snapshot()
        if _matches(r.integration, name) and r.started_at >= since
    ]
    stats = compute_stats(name, records, window=window)
    # The process's own memory outlives the window and survives a failed flush.
    recorder = hub.runtime.recorder
    live = max(
        (
            recorder.live_state(key).consecutive_failures
            for key in recorder.integrations_seen()
            if _matches(key, name)
        ),
        default=0,
    )
    if live > stats.consecutive_failures:
        from dataclasses import replace

        stats = replace(stats, consecutive_failures=live)
    return stats


# --- the report -----------------------------------------------------------------------------
def _probe(hub: Hub, integration: Integration) -> CheckResult | None:
    if integration.health_check is None:
        return None
    try:
        return integration.health_check(hub)
    except Exception as exc:  # a probe must never break the report
        log.warning(
            "health probe raised integration=%s error=%s", integration.name, type(exc).__name__
        )
        if isinstance(exc, IntegrationError):  # shown in /hub status: the pt-BR category
            return CheckResult("fail", category_label(exc.category))
        return CheckResult("fail", REDACTOR.scrub(f"{type(exc).__name__}: {exc}")[:300])


def evaluate(
    hub: Hub, integration: Integration, *, probe: bool = False, window: timedelta = DEFAULT_WINDOW
) -> IntegrationHealth:
    settings = hub.settings
    try:
        configured = integration.is_configured(settings)
    except Exception as exc:
        configured = True
        config_errors = [f"configuração ilegível: {type(exc).__name__}"]
    else:
        config_errors = list(integration.config_errors(settings)) if configured else []
    if not configured:
        return IntegrationHealth(
            name=integration.name,
            display_name=integration.display_name,
            status="not_configured",
            reasons=("sem credenciais",),
            how_to_configure=integration.how_to_configure,
        )
    stats = integration_stats(hub, integration.name, window=window)
    check = _probe(hub, integration) if probe and not config_errors else None
    fails: list[str] = [f"configuração inválida: {e}" for e in config_errors]
    warns: list[str] = []
    threshold = settings.alert_consecutive_failures
    if stats.consecutive_failures >= threshold:
        fails.append(
            f"{stats.consecutive_failures} falhas seguidas "
            f"(última: {category_label(stats.last_error_category)}; limite {threshold})"
        )
    if check is not None and check.status == "fail":
        fails.append(
            f"verificação falhou: {check.detail}" if check.detail else "verificação falhou"
        )
    if stats.success_rate is not None and stats.success_rate < WARN_SUCCESS_RATE:
        warns.append(f"taxa de sucesso {stats.success_rate:.1%} (< 95%)")
    limit_ms = settings.alert_latency_seconds * 1000.0
    if stats.p95_ms is not None and stats.p95_ms > limit_ms:
        warns.append(f"latência p95 {stats.p95_ms / 1000:.1f}s (> {limit_ms / 1000:g}s)")
    if check is not None and check.status == "warn":
        warns.append(f"verificação: {check.detail}" if check.detail else "verificação com aviso")
    status: HealthStatus = "fail" if fails else "warn" if warns else "pass"
    return IntegrationHealth(
        name=integration.name,
        display_name=integration.display_name,
        status=status,
        reasons=tuple(fails + warns),
        stats=stats,
        probe=check,
    )


def health_report(
    hub: Hub,
    *,
    probe: bool = False,
    integrations: Sequence[Integration] | None = None,
    window: timedelta = DEFAULT_WINDOW,
) -> HealthReport:
    """Health of every registered integration (or of `integrations`, when given)."""
    from integrations.runtime.registry import all_integrations

    items = all_integrations() if integrations is None else list(integrations)
    results = tuple(evaluate(hub, i, probe=probe, window=window) for i in items)
    return HealthReport(generated_at=hub.clock.now(), integrations=results, probed=probe)
