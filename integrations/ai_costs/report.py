"""Spend reports from the daily fact table: periods, breakdowns, change, month-end forecast.

Days are UTC days, as the vendors bucket them. Money comes from the vendors' cost reports (the
invoiced figures); tokens from their usage reports. The hub's own assistant usage is shown as
its own line and never added to the vendor totals (it is already part of the Anthropic bill
when the assistant's key belongs to the same organisation).
"""

from __future__ import annotations

import calendar
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select

from bot.db import session_scope
from integrations.ai_costs.common import VENDOR_NAMES, VENDORS
from integrations.ai_costs.hub_usage import hub_usage_by_day
from integrations.ai_costs.models import AiCostDaily, AiCostSyncState
from integrations.ai_costs.sync import names

if TYPE_CHECKING:
    from bot.hub import Hub

Dimension = Literal["vendor", "project", "model", "key"]
DIMENSIONS: tuple[Dimension, ...] = ("vendor", "project", "model", "key")
DIMENSION_WORDS: dict[str, Dimension] = {
    "fornecedor": "vendor",
    "projeto": "project",
    "projetos": "project",
    "workspace": "project",
    "modelo": "model",
    "modelos": "model",
    "chave": "key",
    "chaves": "key",
}
DIMENSION_LABELS: dict[Dimension, str] = {
    "vendor": "fornecedor",
    "project": "projeto",
    "model": "modelo",
    "key": "chave",
}
ZERO = Decimal(0)
CENT = Decimal("0.01")
STALE_AFTER = timedelta(hours=36)


class PeriodError(ValueError):
    """A period text that is not understood (message in pt-BR)."""


@dataclass(frozen=True)
class Period:
    start: date  # inclusive
    end: date  # exclusive
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def previous(self) -> Period:
        length = timedelta(days=self.days)
        return Period(self.start - length, self.start, "período anterior")

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def today_utc(hub: Hub) -> date:
    return hub.clock.now().astimezone(UTC).date()


_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_DAYS = re.compile(r"^(\d{1,3})d$")


def parse_period(text: str, today: date) -> Period:
    """'7d', '30d', 'Nd' (N ≤ 400, ending today), 'mes' (month to date), 'mes-passado',
    or 'AAAA-MM-DD..AAAA-MM-DD' (both days included)."""
    value = text.strip().lower()
    if value in ("mes", "mês"):
        start = today.replace(day=1)
        return Period(start, today + timedelta(days=1), f"mês atual ({start:%m/%Y})")
    if value in ("mes-passado", "mês-passado"):
        end = today.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
        return Period(start, end, f"mês passado ({start:%m/%Y})")
    match = _DAYS.match(value)
    if match:
        n = int(match.group(1))
        if not 1 <= n <= 400:
            raise PeriodError("use de 1d a 400d")
        return Period(today - timedelta(days=n - 1), today + timedelta(days=1), f"últimos {n} dias")
    match = _RANGE.match(value)
    if match:
        try:
            first = date.fromisoformat(match.group(1))
            last = date.fromisoformat(match.group(2))
        except ValueError:
            raise PeriodError(f"data inválida em `{text}`") from None
        if last < first:
            raise PeriodError("a data final vem antes da inicial")
        if (last - first).days > 400:
            raise PeriodError("o período pode ter no máximo 400 dias")
        return Period(first, last + timedelta(days=1), f"{first:%d/%m/%Y} a {last:%d/%m/%Y}")
    raise PeriodError(
        f"período `{text}` não reconhecido: use 7d, 30d, mes ou AAAA-MM-DD..AAAA-MM-DD"
    )


@dataclass(frozen=True)
class Fact:
    vendor: str
    day: date
    project_id: str
    api_key_id: str
    item: str
    model: str
    cost: Decimal


@dataclass
class Line:
    key: str
    label: str
    cost: Decimal
    previous: Decimal
    share: Decimal  # of the total, 0–100

    @property
    def change_pct(self) -> Decimal | None:
        return pct_change(self.cost, self.previous)


@dataclass
class Forecast:
    month: str  # "2026-11"
    month_to_date: Decimal
    projected: Decimal  # month-end estimate
    days_elapsed: int
    days_in_month: int


@dataclass
class Freshness:
    vendor: str
    last_success_at: datetime | None
    last_error: str | None
    stale: bool


@dataclass
class Report:
    period: Period
    vendors: tuple[str, ...]
    dimension: Dimension
    total: Decimal
    previous_total: Decimal
    by_vendor: dict[str, Decimal]
    lines: list[Line]
    daily: list[tuple[date, dict[str, Decimal]]]  # per day, cost per line label (top + Outros)
    forecast: Forecast
    hub_cost: Decimal
    hub_responses: int
    input_tokens: int
    output_tokens: int
    includes_today: bool
    freshness: list[Freshness] = field(default_factory=list)

    @property
    def change_pct(self) -> Decimal | None:
        return pct_change(self.total, self.previous_total)


def pct_change(current: Decimal, previous: Decimal) -> Decimal | None:
    if previous == 0:
        return None
    return ((current - previous) / previous * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """US$ 1.234,56 (Brazilian separators)."""
    q = value.quantize(CENT, ROUND_HALF_UP)
    text = f"{q:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"US$ {text}"


def load_facts(hub: Hub, start: date, end: date, vendors: Sequence[str]) -> list[Fact]:
    t = AiCostDaily.__table__  # type: ignore[attr-defined]
    query = (
        select(
            t.c.vendor, t.c.day, t.c.project_id, t.c.api_key_id, t.c.item, t.c.model, t.c.cost_usd
        )
        .where(t.c.source == "cost", t.c.day >= start, t.c.day < end)
        .where(t.c.vendor.in_(list(vendors)))
    )
    with hub.engine.connect() as conn:
        return [Fact(*row) for row in conn.execute(query)]


def _tokens(hub: Hub, period: Period, vendors: Sequence[str]) -> tuple[int, int]:
    t = AiCostDaily.__table__  # type: ignore[attr-defined]
    from sqlalchemy import func

    query = (
        select(
            func.coalesce(
                func.sum(t.c.input_tokens + t.c.cache_read_tokens + t.c.cache_write_tokens), 0
            ),
            func.coalesce(func.sum(t.c.output_tokens), 0),
        )
        .where(t.c.source == "usage", t.c.day >= period.start, t.c.day < period.end)
        .where(t.c.vendor.in_(list(vendors)))
    )
    with hub.engine.connect() as conn:
        row = conn.execute(query).one()
    return int(row[0]), int(row[1])


class Labeller:
    """Human labels for a dimension's keys, from the names cache."""

    def __init__(self, hub: Hub) -> None:
        self.names = names(hub)

    def key(self, fact: Fact, dimension: Dimension) -> str:
        if dimension == "vendor":
            return fact.vendor
        if dimension == "project":
            return f"{fact.vendor}:{fact.project_id}"
        if dimension == "model":
            return f"{fact.vendor}:{fact.model or fact.item}"
        return f"{fact.vendor}:{fact.api_key_id}"

    def label(self, key: str, dimension: Dimension) -> str:
        if dimension == "vendor":
            return VENDOR_NAMES.get(key, key)
        vendor, _, ref = key.partition(":")
        vname = VENDOR_NAMES.get(vendor, vendor)
        if dimension == "project":
            if not ref:
                return f"{vname} · " + (
                    "workspace padrão" if vendor == "anthropic" else "sem projeto"
                )
            return f"{vname} · {self.names.get((vendor, 'project', ref), ref)}"
        if dimension == "key":
            if not ref:
                return f"{vname} · " + (
                    "sem detalhe por chave" if vendor == "anthropic" else "sem chave"
                )
            return f"{vname} · {self.names.get((vendor, 'api_key', ref), ref)}"
        return f"{vname} · {ref or 'outros'}"


def _sum_by(facts: Iterable[Fact], keyfn: Callable[[Fact], str]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for f in facts:
        out[keyfn(f)] += f.cost
    return out


def forecast(
    hub: Hub, vendors: Sequence[str], today: date, facts: list[Fact] | None = None
) -> Forecast:
    """Month-to-date and a weekday-aware month-end projection.

    Days of the month before today count as spent; today (partial) and the rest of the month
    are each projected as the mean of the same weekday over the last four complete weeks
    (falling back to the mean of the last 7 complete days).
    """
    month_start = today.replace(day=1)
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    baseline_start = today - timedelta(days=28)
    lo = min(month_start, baseline_start)
    if facts is None:
        facts = load_facts(hub, lo, today + timedelta(days=1), vendors)
    per_day: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for f in facts:
        if f.vendor in vendors:
            per_day[f.day] += f.cost
    spent = sum((per_day[d] for d in per_day if month_start <= d < today), ZERO)
    mtd = spent + per_day.get(today, ZERO)
    last7 = [per_day.get(today - timedelta(days=n), ZERO) for n in range(1, 8)]
    fallback = sum(last7, ZERO) / 7
    projected = spent
    day = today
    month_end = month_start + timedelta(days=days_in_month)
    while day < month_end:
        same = [
            per_day[d]
            for d in (day - timedelta(days=7 * k) for k in range(1, 5))
            if baseline_start <= d < today and d in per_day
        ]
        expected = sum(same, ZERO) / len(same) if same else fallback
        projected += max(expected, per_day.get(day, ZERO)) if day == today else expected
        day += timedelta(days=1)
    return Forecast(
        month=f"{today:%Y-%m}",
        month_to_date=mtd,
        projected=projected.quantize(CENT, ROUND_HALF_UP),
        days_elapsed=(today - month_start).days + 1,
        days_in_month=days_in_month,
    )


def freshness(hub: Hub, vendors: Sequence[str]) -> list[Freshness]:
    now = hub.clock.now()
    out: list[Freshness] = []
    with session_scope(hub.engine) as session:
        for vendor in vendors:
            state = session.get(AiCostSyncState, (vendor, "cost"))
            last = state.last_success_at if state else None
            out.append(
                Freshness(
                    vendor,
                    last,
                    state.last_error if state else None,
                    stale=last is None or now - last > STALE_AFTER,
                )
            )
    return out


def build_report(
    hub: Hub,
    period: Period,
    *,
    vendors: Sequence[str] = VENDORS,
    dimension: Dimension = "project",
    top: int = 8,
) -> Report:
    vendors = tuple(vendors)
    today = today_utc(hub)
    prev = period.previous()
    facts = load_facts(hub, prev.start, period.end, vendors)
    current = [f for f in facts if period.contains(f.day)]
    previous = [f for f in facts if prev.contains(f.day)]
    # the forecast needs this month and the 4 weeks before today, whatever the period is
    fc_start = min(today.replace(day=1), today - timedelta(days=28))
    if prev.start <= fc_start and period.end > today:
        fc_facts = facts
    else:
        fc_facts = load_facts(hub, fc_start, today + timedelta(days=1), vendors)
    labeller = Labeller(hub)

    total = sum((f.cost for f in current), ZERO)
    previous_total = sum((f.cost for f in previous), ZERO)
    by_vendor = dict.fromkeys(vendors, ZERO)
    by_vendor.update(_sum_by(current, lambda f: f.vendor))

    cur = _sum_by(current, lambda f: labeller.key(f, dimension))
    old = _sum_by(previous, lambda f: labeller.key(f, dimension))
    ranked = sorted(cur.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [
        Line(
            key=k,
            label=labeller.label(k, dimension),
            cost=v,
            previous=old.get(k, ZERO),
            share=(v / total * 100).quantize(Decimal("0.1"), ROUND_HALF_UP) if total else ZERO,
        )
        for k, v in ranked
    ]

    chart_keys = {line.key: line.label for line in lines[:top]}
    daily_map: dict[date, dict[str, Decimal]] = {}
    day = period.start
    while day < min(period.end, today + timedelta(days=1)):
        daily_map[day] = {}
        day += timedelta(days=1)
    for f in current:
        label = chart_keys.get(labeller.key(f, dimension), "Outros")
        bucket = daily_map.setdefault(f.day, {})
        bucket[label] = bucket.get(label, ZERO) + f.cost

    hub_days = hub_usage_by_day(hub, period.start, period.end)
    input_tokens, output_tokens = _tokens(hub, period, vendors)
    return Report(
        period=period,
        vendors=vendors,
        dimension=dimension,
        total=total,
        previous_total=previous_total,
        by_vendor=by_vendor,
        lines=lines,
        daily=sorted(daily_map.items()),
        forecast=forecast(hub, vendors, today, fc_facts),
        hub_cost=sum((d.cost_usd for d in hub_days), ZERO),
        hub_responses=sum(d.responses for d in hub_days),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        includes_today=period.contains(today),
        freshness=freshness(hub, vendors),
    )


def daily_totals(hub: Hub, start: date, end: date, vendors: Sequence[str]) -> dict[date, Decimal]:
    """Cost per day for [start, end) (days without data are 0)."""
    out = {start + timedelta(days=n): ZERO for n in range((end - start).days)}
    for f in load_facts(hub, start, end, vendors):
        out[f.day] += f.cost
    return out


def median(values: Sequence[Decimal]) -> Decimal:
    return Decimal(statistics.median(values)) if values else ZERO
