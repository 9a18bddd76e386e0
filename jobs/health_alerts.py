"""Built-in detectors over the runtime's call statistics: API down, high latency, rate limit.

For every watched integration (configured ones, those this process has called, and those
with an open runtime incident, so a recovery is always seen) the detector reads
`integrations.runtime.health.integration_stats` and emits three signals:

- `runtime.down:<name>`      critical, active with more than `alert_consecutive_failures`
                             upstream failures in a row (client errors such as 404 don't count);
- `runtime.latency:<name>`   warning, active while the last call took more than
                             `alert_latency_seconds`;
- `runtime.rate_limit:<name>` warning, active for `RATE_LIMIT_WINDOW` after the last 429.

An inactive signal closes the matching incident with a recovery message (the alert engine).

Organic traffic alone would leave an integration nobody used tonight unwatched, so the
critical job `integrations.probe` runs every configured integration's `health_check` (one
cheap upstream call, recorded by the runtime like any other) every five minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import col, select

from bot.db import session_scope
from integrations.runtime.errors import category_label
from jobs.models import Incident
from jobs.registry import JobContext, JobOutcome, Signal, detector, scheduled

if TYPE_CHECKING:
    from bot.hub import Hub
    from bot.settings import Settings
    from integrations.runtime.health import IntegrationStats

RATE_LIMIT_MINUTES = 15
RATE_LIMIT_WINDOW = timedelta(minutes=RATE_LIMIT_MINUTES)
PREFIXES = ("runtime.down:", "runtime.latency:", "runtime.rate_limit:")


def health_signals(
    stats: IntegrationStats, settings: Settings, now: datetime, display_name: str
) -> list[Signal]:
    name = stats.integration
    tz = settings.tz

    def hhmm(when: datetime | None) -> str:
        return when.astimezone(tz).strftime("%d/%m %H:%M") if when else "?"

    limit = settings.alert_consecutive_failures
    down = stats.consecutive_failures > limit
    category = category_label(stats.last_error_category)
    down_text = (
        f"{stats.consecutive_failures} falhas seguidas (limite {limit}); último erro: "
        f"{category} em {hhmm(stats.last_error_at)}. Última resposta boa: "
        f"{hhmm(stats.last_ok_at)}. Comandos e relatórios que usam {display_name} podem falhar; "
        f"o hub continua tentando."
        if down
        else f"{display_name} voltou a responder normalmente."
    )

    threshold = settings.alert_latency_seconds
    last_s = (stats.last_latency_ms or 0.0) / 1000.0
    slow = stats.last_latency_ms is not None and last_s > threshold
    p95 = f"{stats.p95_ms / 1000:.1f} s" if stats.p95_ms is not None else "?"
    slow_text = (
        f"A última chamada levou {last_s:.1f} s (limite {threshold:.0f} s); p95 nas últimas "
        f"24 h: {p95}. Respostas do hub que dependem de {display_name} vão demorar."
        if slow
        else f"{display_name} voltou a responder em {last_s:.1f} s."
    )

    limited_at = stats.rate_limited_at
    limited = limited_at is not None and now - limited_at < RATE_LIMIT_WINDOW
    limited_text = (
        f"{display_name} respondeu 429 (limite de requisições) em {hhmm(limited_at)}. O hub "
        "espaça as chamadas sozinho; se repetir, reduza a frequência dos relatórios."
        if limited
        else f"Nenhum 429 de {display_name} nos últimos {RATE_LIMIT_MINUTES} min."
    )

    def signal(kind: str, active: bool, title: str, text: str, **details: object) -> Signal:
        return Signal(
            key=f"runtime.{kind}:{name}",
            active=active,
            title=f"{display_name} {title}",
            text=text,
            severity="critical" if kind == "down" else "warning",
            details={"integration": name, **details},
        )

    return [
        signal(
            "down",
            down,
            "fora do ar",
            down_text,
            consecutive_failures=stats.consecutive_failures,
        ),
        signal("latency", slow, "lento", slow_text, last_latency_ms=stats.last_latency_ms),
        signal("rate_limit", limited, "limitou as requisições", limited_text),
    ]


def watched_integrations(hub: Hub) -> list[str]:
    from integrations.runtime.recorder import base_name
    from integrations.runtime.registry import all_integrations

    names = {i.name for i in all_integrations() if i.is_configured(hub.settings)}
    names |= {base_name(key) for key in hub.runtime.recorder.integrations_seen()}
    with session_scope(hub.engine) as session:
        keys = session.exec(
            select(Incident.key).where(
                Incident.status == "open", col(Incident.key).startswith("runtime.")
            )
        ).all()
    names |= {key.split(":", 1)[1] for key in keys if key.startswith(PREFIXES)}
    return sorted(names)


@detector("runtime.health")
def runtime_health(hub: Hub) -> list[Signal]:
    from integrations.runtime.health import integration_stats
    from integrations.runtime.registry import display_name

    now = hub.clock.now()
    signals: list[Signal] = []
    for name in watched_integrations(hub):
        stats = integration_stats(hub, name)
        signals += health_signals(stats, hub.settings, now, display_name(name))
    return signals


@scheduled(
    "integrations.probe",
    priority="critical",
    interval={"minutes": 5},
    description="Testa cada integração configurada com uma chamada leve (alimenta os alertas)",
    once_per_slot=False,
)
def probe_integrations(ctx: JobContext) -> JobOutcome:
    from integrations.runtime.registry import all_integrations

    checked: list[str] = []
    failing: list[str] = []
    for integration in all_integrations():
        if integration.health_check is None or not integration.is_configured(ctx.hub.settings):
            continue
        checked.append(integration.name)
        try:
            result = integration.health_check(ctx.hub)
            status, detail = result.status, result.detail
        except Exception as exc:
            # The failure is already in the call records; one probe must not stop the others.
            status, detail = "fail", type(exc).__name__
        if status == "fail":
            failing.append(f"{integration.name} ({detail[:200]})" if detail else integration.name)
    summary = f"com falha: {'; '.join(failing)}" if failing else "todas responderam"
    return JobOutcome(items=len(checked), summary=summary if checked else "nenhuma configurada")
