"""Spend spikes against the team's own baseline.

For the latest complete UTC day D of a vendor, the baseline is the previous 28 days (at least
14 with data). Each day is divided by its weekday factor (median of that weekday / median of
all days), so quiet weekends and busy Mondays are normal; the expected value for D is the
median of those adjusted values times D's weekday factor, and the spread is their MAD
(scaled by 1.4826, floored at 5 % of the median so a very flat history does not make every
wobble a spike). D is a spike when its robust z-score is at least 4 AND it exceeds the expected
value by at least settings.ai_spike_min_usd. A new spike for the same vendor within
settings.ai_spike_cooldown_hours of the previous one is not reported again.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from integrations.ai_costs import alert_marks
from integrations.ai_costs.report import Dimension, Fact, Labeller, load_facts, today_utc
from integrations.ai_costs.sync import configured_vendors, sync_state

if TYPE_CHECKING:
    from bot.hub import Hub

BASELINE_DAYS = 28
MIN_BASELINE_DAYS = 14
Z_THRESHOLD = Decimal(4)
MAD_SCALE = Decimal("1.4826")
MIN_SPREAD_FRACTION = Decimal("0.05")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Baseline:
    expected: Decimal
    spread: Decimal  # robust standard deviation on D's weekday scale

    def z(self, actual: Decimal) -> Decimal:
        if self.spread <= 0:
            return ZERO
        return ((actual - self.expected) / self.spread).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _median(values: list[Decimal]) -> Decimal:
    return Decimal(statistics.median(values))


def baseline(history: Mapping[date, Decimal], day: date) -> Baseline | None:
    """Weekday-aware median/MAD baseline for `day` from the BASELINE_DAYS before it."""
    window = [day - timedelta(days=n) for n in range(1, BASELINE_DAYS + 1)]
    values = {d: history[d] for d in window if d in history}
    if len([v for v in values.values() if v > 0]) < MIN_BASELINE_DAYS:
        return None
    overall = _median(list(values.values()))
    if overall <= 0:
        return None
    by_weekday: dict[int, list[Decimal]] = defaultdict(list)
    for d, v in values.items():
        by_weekday[d.weekday()].append(v)
    factor = {
        wd: (_median(vs) / overall if _median(vs) > 0 else Decimal(1))
        for wd, vs in by_weekday.items()
    }
    adjusted = [v / factor[d.weekday()] for d, v in values.items()]
    center = _median(adjusted)
    mad = _median([abs(a - center) for a in adjusted]) * MAD_SCALE
    spread = max(mad, center * MIN_SPREAD_FRACTION)
    f = factor.get(day.weekday(), Decimal(1))
    return Baseline(expected=center * f, spread=spread * f)


@dataclass(frozen=True)
class Contributor:
    label: str
    actual: Decimal
    typical: Decimal

    @property
    def delta(self) -> Decimal:
        return self.actual - self.typical


@dataclass
class Spike:
    vendor: str
    day: date
    actual: Decimal
    baseline: Baseline
    contributors: dict[Dimension, list[Contributor]] = field(default_factory=dict)
    history: dict[date, Decimal] = field(default_factory=dict)

    @property
    def excess(self) -> Decimal:
        return self.actual - self.baseline.expected

    @property
    def z(self) -> Decimal:
        return self.baseline.z(self.actual)

    @property
    def key(self) -> str:
        return f"costs.spike:{self.vendor}"


def is_spike(actual: Decimal, base: Baseline | None, min_usd: Decimal) -> bool:
    if base is None:
        return False
    return base.z(actual) >= Z_THRESHOLD and actual - base.expected >= min_usd


def top_contributors(
    facts: list[Fact], day: date, labeller: Labeller, dimension: Dimension, n: int = 3
) -> list[Contributor]:
    """Lines of `dimension` that grew most on `day` against their median of the baseline."""
    per: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for f in facts:
        per[labeller.key(f, dimension)][f.day] += f.cost
    window = [day - timedelta(days=k) for k in range(1, BASELINE_DAYS + 1)]
    out = []
    for key, series in per.items():
        if dimension != "vendor" and not key.partition(":")[2]:
            continue  # "no project/key" is not a contributor anyone can act on
        actual = series.get(day, ZERO)
        typical = _median([series.get(d, ZERO) for d in window])
        out.append(Contributor(labeller.label(key, dimension), actual, typical))
    out.sort(key=lambda c: (-c.delta, c.label))
    return [c for c in out[:n] if c.delta > 0]


def find_spike(hub: Hub, vendor: str, day: date) -> Spike | None:
    """Is `day` a spike for `vendor`? With the contributors and the chart history when it is."""
    facts = load_facts(hub, day - timedelta(days=BASELINE_DAYS), day + timedelta(days=1), [vendor])
    history: dict[date, Decimal] = {day - timedelta(days=n): ZERO for n in range(BASELINE_DAYS + 1)}
    for f in facts:
        history[f.day] += f.cost
    base = baseline(history, day)
    actual = history[day]
    if not is_spike(actual, base, hub.settings.ai_spike_min_usd):
        return None
    assert base is not None
    labeller = Labeller(hub)
    spike = Spike(vendor, day, actual, base, history=dict(sorted(history.items())))
    for dim in ("project", "model", "key"):
        spike.contributors[dim] = top_contributors(facts, day, labeller, dim)
    return spike


@dataclass
class SpikeCheck:
    vendor: str
    day: date
    spike: Spike | None
    new: bool  # True the first time this spike is reported (persisted)
    suppressed: bool = False  # a spike within the cooldown of the previous one


def check_spikes(hub: Hub) -> list[SpikeCheck]:
    """Evaluate the latest complete day of each configured vendor whose data is synced."""
    today = today_utc(hub)
    day = today - timedelta(days=1)
    synced = {
        s.vendor: s.complete_until
        for s in sync_state(hub)
        if s.source == "cost" and s.complete_until
    }
    cooldown = timedelta(hours=hub.settings.ai_spike_cooldown_hours)
    out: list[SpikeCheck] = []
    for vendor in configured_vendors(hub):
        if synced.get(vendor) is None or synced[vendor] <= day:
            continue  # the day is not stored yet: no verdict
        spike = find_spike(hub, vendor, day)
        if spike is None:
            out.append(SpikeCheck(vendor, day, None, False))
            continue
        if alert_marks.exists(hub, "spike", vendor, day.isoformat()):
            out.append(SpikeCheck(vendor, day, spike, False))
            continue
        recent = alert_marks.marks(hub, "spike", since=hub.clock.now() - cooldown)
        if any(m.scope == vendor for m in recent):
            out.append(SpikeCheck(vendor, day, spike, False, suppressed=True))
            continue
        new = alert_marks.claim(hub, "spike", vendor, day.isoformat())
        out.append(SpikeCheck(vendor, day, spike, new))
    return out
