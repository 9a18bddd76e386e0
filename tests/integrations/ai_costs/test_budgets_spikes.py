from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from bot.clock import FakeClock
from bot.settings import Budget
from integrations.ai_costs.budgets import budget_statuses, due_alerts, previous_month_keys
from integrations.ai_costs.report import daily_totals
from integrations.ai_costs.spikes import baseline, check_spikes, is_spike
from integrations.ai_costs.sync import sync
from tests.integrations.ai_costs.conftest import CostsHubFactory, Sims

TODAY = date(2026, 11, 2)
MIN = Decimal(20)


def _weekly(days: int, end: date, level: float = 100.0) -> dict[date, Decimal]:
    """A normal history: busy weekdays, quiet weekends, a little deterministic noise."""
    pattern = (1.0, 1.08, 1.0, 0.95, 0.9, 0.5, 0.4)
    out = {}
    for n in range(days):
        d = end - timedelta(days=n)
        wobble = 1 + ((n * 37) % 11 - 5) / 100  # ±5 %
        out[d] = Decimal(str(round(level * pattern[d.weekday()] * wobble, 2)))
    return out


def test_weekly_pattern_is_quiet_every_day_of_two_months() -> None:
    history = _weekly(120, TODAY)
    for n in range(60):
        day = TODAY - timedelta(days=n)
        assert not is_spike(history[day], baseline(history, day), MIN), day


def test_a_monday_after_a_quiet_weekend_is_not_a_spike_but_a_real_spike_is() -> None:
    history = _weekly(60, TODAY)
    monday = TODAY - timedelta(days=TODAY.weekday())
    base = baseline(history, monday)
    assert base is not None
    assert history[monday] > 2 * history[monday - timedelta(days=1)]  # vs Sunday: doubles
    assert not is_spike(history[monday], base, MIN)
    history[monday] += Decimal(80)  # +80 % on a Monday
    assert is_spike(history[monday], base, MIN)
    assert base.z(history[monday]) >= 4


def test_a_weekend_spike_is_found_even_below_a_weekday_level() -> None:
    history = _weekly(60, TODAY)
    sunday = TODAY - timedelta(days=TODAY.weekday() + 1)
    history[sunday] = Decimal(95)  # a normal Monday amount, but on a Sunday (normally ~40)
    assert is_spike(history[sunday], baseline(history, sunday), MIN)


def test_minimum_dollar_impact_and_short_history() -> None:
    small = _weekly(60, TODAY, level=5.0)
    day = TODAY - timedelta(days=3)
    small[day] *= 3  # tripled, but only ~US$ 10 more
    assert not is_spike(small[day], baseline(small, day), MIN)
    assert is_spike(small[day], baseline(small, day), Decimal(5))
    assert baseline(_weekly(10, TODAY), TODAY) is None


def test_simulated_history_spike_is_flagged_once_and_weekly_pattern_is_quiet(
    make_costs_hub: CostsHubFactory, sims: Sims
) -> None:
    hub = make_costs_hub(ai_spike_min_usd=Decimal(2))
    assert sync(hub).ok
    # the seeded history: a spike yesterday (day 1) and 60 days ago, nothing else
    series = daily_totals(hub, TODAY - timedelta(days=60), TODAY, ["anthropic"])
    flagged = [
        d
        for d in series
        if d >= TODAY - timedelta(days=30) and is_spike(series[d], baseline(series, d), Decimal(2))
    ]
    assert flagged == [TODAY - timedelta(days=1)]

    checks = {c.vendor: c for c in check_spikes(hub)}
    spike = checks["anthropic"].spike
    assert spike is not None and checks["anthropic"].new
    assert spike.day == TODAY - timedelta(days=1) and spike.excess >= 2
    top = spike.contributors["project"][0]
    ws_name = {w or "": n for w, n in sims.anthropic.data.workspaces}[
        sims.anthropic.data.spike_workspace or ""
    ]
    assert ws_name in top.label and top.delta > 0
    assert spike.contributors["model"]
    # polled again: the same spike is not new
    again = {c.vendor: c for c in check_spikes(hub)}
    assert again["anthropic"].spike is not None and not again["anthropic"].new


def test_spike_cooldown_suppresses_a_second_spike(
    make_costs_hub: CostsHubFactory, fake_clock: FakeClock, sims: Sims
) -> None:
    hub = make_costs_hub(
        ai_spike_min_usd=Decimal(2),
        ai_spike_cooldown_hours=48,
    )
    assert sync(hub).ok
    assert check_spikes(hub)[1].new  # anthropic, yesterday
    # next day the vendor spikes again (simulated by a second spike on "today")
    sims.anthropic.history.spike_days = sims.anthropic.history.spike_days | {TODAY}
    sims.anthropic.data._cache.clear()
    fake_clock.advance(24 * 3600)
    assert sync(hub).ok
    later = {c.vendor: c for c in check_spikes(hub)}
    assert later["anthropic"].spike is not None
    assert later["anthropic"].suppressed and not later["anthropic"].new


def test_budgets_alert_each_threshold_once_per_month(
    make_costs_hub: CostsHubFactory, sims: Sims
) -> None:
    assert sims  # simulators serve the history the budgets are measured against
    hub = make_costs_hub(ai_costs_backfill_days=60)
    assert sync(hub).ok
    mtd = daily_totals(hub, date(2026, 11, 1), TODAY + timedelta(days=1), ["openai"])
    spent = sum(mtd.values(), Decimal(0))
    project = sims.openai.data.projects[0][0]
    hub.settings.ai_budgets = {
        # 80 % used -> 50 and 75 crossed at once: one alert (75), both marked
        "openai": Budget(
            monthly_usd=spent / Decimal("0.8"), projects={project: Decimal(1_000_000)}
        ),
    }
    statuses = budget_statuses(hub)
    assert [s.project_id for s in statuses] == [None, project]
    assert statuses[0].pct == Decimal("80.0") and statuses[0].crossed == [50, 75]
    assert statuses[0].projected_usd and statuses[0].projected_usd > spent
    first = due_alerts(hub)
    assert [(a.status.scope, a.threshold) for a in first] == [("openai:*", 75)]
    assert due_alerts(hub) == []  # polled again: nothing new

    # later that month the spend reaches 100 %: only the new thresholds fire
    hub.settings.ai_budgets = {"openai": Budget(monthly_usd=spent)}
    assert [a.threshold for a in due_alerts(hub)] == [100]
    assert due_alerts(hub) == []

    # a restart (new Hub on the same database) does not repeat them
    hub2 = make_costs_hub()
    hub2.settings.ai_budgets = {"openai": Budget(monthly_usd=spent)}
    assert due_alerts(hub2) == []

    # next month the marks of November become keys to close
    keys = previous_month_keys(hub, date(2026, 12, 1))
    assert "costs.budget:openai:*:2026-11:100" in keys and len(keys) == 4
