"""AI spend jobs: the daily sync, and detectors for spikes, budgets and the sync's own health.

Detectors return `Signal`s; the alert engine (jobs.alerts) opens, posts and closes incidents.
Spike and budget signals are emitted as active exactly once (the crossing is persisted in
`ai_cost_alert_marks` before it is returned), so repeated polls never repeat an alert; a spike's
inactive signal (closing its incident) is emitted once per verdict. Both detectors only
re-evaluate when the stored data changed (a sync) or the UTC day turned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from jobs.registry import JobContext, JobOutcome, Signal, detector, scheduled

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)
ROUTE = "costs"
SYNC_STALE_AFTER = timedelta(hours=36)


def _data_version(hub: Hub) -> tuple[object, ...]:
    """Changes whenever a sync stores something or the UTC day turns: the spike and budget
    verdicts cannot change otherwise, so the once-a-minute detector polls skip the work."""
    from integrations.ai_costs.report import today_utc
    from integrations.ai_costs.sync import sync_state

    states = sorted(
        (s.vendor, s.source, s.last_success_at, s.complete_until, s.requests)
        for s in sync_state(hub)
    )
    return (today_utc(hub), tuple(states))


def _unchanged(hub: Hub, name: str) -> bool:
    """True when `name` already evaluated this data version (and records the new one)."""
    version = _data_version(hub)
    key = f"ai_costs.detector_version.{name}"
    if hub.services.get(key) == version:
        return True
    hub.services[key] = version
    return False


class CostSyncFailed(RuntimeError):
    """Some vendor stream failed; what was fetched is stored and the next attempt resumes."""


@scheduled(
    "costs.sync",
    cron={"hour": 6, "minute": 10},
    priority="low",
    description="Sincroniza custos e uso de IA (OpenAI e Anthropic)",
    route=ROUTE,
    once_per_slot=False,
)
def sync_costs(ctx: JobContext) -> JobOutcome:
    from integrations.ai_costs.sync import sync

    report = sync(ctx.hub)
    failed = [f"{s.vendor}/{s.source}" for s in report.streams if s.error]
    summary = f"{report.rows} linhas, {report.requests} requisições" + (
        f"; não configurado: {', '.join(report.skipped)}" if report.skipped else ""
    )
    if failed:
        raise CostSyncFailed(f"falha ao sincronizar {', '.join(failed)} ({summary})")
    return JobOutcome(items=report.rows, summary=summary)


@detector("costs.spike")
def cost_spikes(hub: Hub) -> Iterable[Signal]:
    from handlers.costs import spike_chart, spike_view
    from integrations.ai_costs.spikes import check_spikes

    if _unchanged(hub, "spike"):
        return
    for check in check_spikes(hub):
        key = f"costs.spike:{check.vendor}"
        if check.spike is None:
            yield Signal(key=key, active=False, title="Gasto com IA voltou ao normal", route=ROUTE)
            continue
        if not check.new:
            continue  # already reported (or inside the cooldown): nothing to add
        spike = check.spike
        text, blocks = spike_view(spike)
        try:
            chart = spike_chart(spike, hub)
        except Exception:  # a chart must never cost the alert
            log.exception("spike chart failed vendor=%s", spike.vendor)
            chart = None
        yield Signal(
            key=key,
            active=True,
            title=text,
            text=text,
            severity="warning",
            route=ROUTE,
            blocks=blocks,
            file=(f"pico-{spike.vendor}-{spike.day:%Y%m%d}.png", chart) if chart else None,
            details={
                "vendor": spike.vendor,
                "day": spike.day.isoformat(),
                "actual_usd": str(spike.actual),
                "expected_usd": str(spike.baseline.expected),
                "excess_usd": str(spike.excess),
                "z": str(spike.z),
                "contributors": {
                    dim: [c.label for c in items] for dim, items in spike.contributors.items()
                },
            },
        )


@detector("costs.budget")
def cost_budgets(hub: Hub) -> Iterable[Signal]:
    from handlers.costs import budget_view
    from integrations.ai_costs.budgets import due_alerts, previous_month_keys

    if _unchanged(hub, "budget"):
        return
    for key in previous_month_keys(hub):
        yield Signal(
            key=key, active=False, title="Novo mês: orçamento de IA reiniciado", route=ROUTE
        )
    for alert in due_alerts(hub):
        text, blocks = budget_view(alert)
        yield Signal(
            key=alert.key,
            active=True,
            title=text,
            text=text,
            severity="critical" if alert.threshold >= 100 else "warning",
            route=ROUTE,
            blocks=blocks,
            details={
                "scope": alert.status.scope,
                "month": alert.status.month,
                "threshold": alert.threshold,
                "spent_usd": str(alert.status.spent_usd),
                "budget_usd": str(alert.status.limit_usd),
            },
        )


@detector("costs.sync_health")
def cost_sync_health(hub: Hub) -> Iterable[Signal]:
    """Tracking itself failing: a stream with no success for 36 h while its vendor is set."""
    from integrations.ai_costs.common import VENDOR_NAMES
    from integrations.ai_costs.sync import configured_vendors, sync_state

    now = hub.clock.now()
    states = {(s.vendor, s.source): s for s in sync_state(hub)}
    for vendor in configured_vendors(hub):
        state = states.get((vendor, "cost"))
        if state is None or state.last_attempt_at is None:
            continue  # never ran yet: nothing to judge
        last_ok = state.last_success_at
        failing = last_ok is None or now - last_ok > SYNC_STALE_AFTER
        name = VENDOR_NAMES[vendor]
        yield Signal(
            key=f"costs.sync:{vendor}",
            active=failing,
            title=(
                f"Custos de IA da {name} sem atualização há mais de 36 h"
                if failing
                else f"Custos de IA da {name} voltaram a sincronizar"
            ),
            text=(
                "A sincronização diária está falhando; relatórios e alertas de pico e orçamento "
                "podem estar desatualizados. Confira `/hub custos validar`."
                if failing
                else ""
            ),
            severity="warning",
            route=ROUTE,
        )
