"""Monthly budgets per vendor (and optionally per project/workspace) from settings.ai_budgets.

Alerts at 50 / 75 / 90 / 100 % of the month's budget, each once per month: the crossing is
persisted as a mark before it is reported, so restarts and repeated polls never repeat it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from integrations.ai_costs import alert_marks
from integrations.ai_costs.common import VENDOR_NAMES
from integrations.ai_costs.report import Forecast, Labeller, forecast, load_facts, today_utc

if TYPE_CHECKING:
    from bot.hub import Hub

THRESHOLDS = (50, 75, 90, 100)
ZERO = Decimal(0)


@dataclass(frozen=True)
class BudgetStatus:
    vendor: str
    project_id: str | None  # None = the vendor's whole budget
    label: str
    month: str  # "2026-11"
    limit_usd: Decimal
    spent_usd: Decimal
    projected_usd: Decimal | None  # month-end forecast (vendor budgets only)

    @property
    def pct(self) -> Decimal:
        if self.limit_usd <= 0:
            return ZERO
        return (self.spent_usd / self.limit_usd * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def crossed(self) -> list[int]:
        return [t for t in THRESHOLDS if self.pct >= t]

    @property
    def scope(self) -> str:
        return f"{self.vendor}:{self.project_id or '*'}"


@dataclass(frozen=True)
class BudgetAlert:
    status: BudgetStatus
    threshold: int

    @property
    def key(self) -> str:
        return f"costs.budget:{self.status.scope}:{self.status.month}:{self.threshold}"


def budget_statuses(hub: Hub, today: date | None = None) -> list[BudgetStatus]:
    budgets = hub.settings.ai_budgets
    if not budgets:
        return []
    today = today or today_utc(hub)
    month_start = today.replace(day=1)
    month = f"{today:%Y-%m}"
    vendors = [v for v in budgets if v in VENDOR_NAMES]
    facts = load_facts(
        hub, min(month_start, today - timedelta(days=28)), today + timedelta(days=1), vendors
    )
    spent_vendor: dict[str, Decimal] = defaultdict(lambda: ZERO)
    spent_project: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for f in facts:
        if f.day >= month_start:
            spent_vendor[f.vendor] += f.cost
            spent_project[(f.vendor, f.project_id)] += f.cost
    labeller = Labeller(hub)
    out: list[BudgetStatus] = []
    for vendor in vendors:
        budget = budgets[vendor]
        fc: Forecast = forecast(hub, [vendor], today, [f for f in facts if f.vendor == vendor])
        out.append(
            BudgetStatus(
                vendor,
                None,
                VENDOR_NAMES[vendor],
                month,
                budget.monthly_usd,
                spent_vendor[vendor],
                fc.projected,
            )
        )
        for project_id, limit in sorted(budget.projects.items()):
            out.append(
                BudgetStatus(
                    vendor,
                    project_id,
                    labeller.label(f"{vendor}:{project_id}", "project"),
                    month,
                    limit,
                    spent_project[(vendor, project_id)],
                    None,
                )
            )
    return out


def due_alerts(hub: Hub, today: date | None = None) -> list[BudgetAlert]:
    """Thresholds newly crossed this month, marked as sent. When several are crossed at once
    (e.g. 40 % → 95 %), only the highest is reported; the lower ones are marked too."""
    alerts: list[BudgetAlert] = []
    for status in budget_statuses(hub, today):
        fresh = [
            t
            for t in status.crossed
            if alert_marks.claim(hub, "budget", status.scope, f"{status.month}:{t}")
        ]
        if fresh:
            alerts.append(BudgetAlert(status, max(fresh)))
    return alerts


def previous_month_keys(hub: Hub, today: date | None = None) -> list[str]:
    """Alert keys of last month's crossings (closed at the start of a new month)."""
    today = today or today_utc(hub)
    last_month = f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}"
    return [
        f"costs.budget:{m.scope}:{m.mark}"
        for m in alert_marks.marks(hub, "budget")
        if m.mark.startswith(f"{last_month}:")
    ]
