from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.hub import Hub
from integrations.ai_costs.export import COLUMNS, build_export
from integrations.ai_costs.hub_usage import record_claude_usage
from integrations.ai_costs.report import (
    PeriodError,
    build_report,
    forecast,
    money,
    parse_period,
)
from integrations.ai_costs.sync import sync
from tests.integrations.ai_costs.conftest import Sims

TODAY = date(2026, 11, 2)


def test_parse_period() -> None:
    p = parse_period("7d", TODAY)
    assert (p.start, p.end, p.days) == (date(2026, 10, 27), date(2026, 11, 3), 7)
    assert p.previous().start == date(2026, 10, 20) and p.previous().end == p.start
    assert parse_period("mes", TODAY).start == date(2026, 11, 1)
    assert parse_period("mes-passado", TODAY).start == date(2026, 10, 1)
    assert parse_period("mes-passado", TODAY).end == date(2026, 11, 1)
    custom = parse_period("2026-10-01..2026-10-31", TODAY)
    assert (custom.start, custom.end, custom.days) == (date(2026, 10, 1), date(2026, 11, 1), 31)
    for bad in ("ontem", "2026-10-31..2026-10-01", "2026-02-30..2026-03-01", "0d", "999d"):
        with pytest.raises(PeriodError):
            parse_period(bad, TODAY)


def test_money_format() -> None:
    assert money(Decimal("1234.565")) == "US$ 1.234,57"
    assert money(Decimal("0")) == "US$ 0,00"


@pytest.fixture
def synced(costs_hub: Hub, sims: Sims) -> Hub:
    assert sync(costs_hub).ok
    return costs_hub


def test_report_totals_breakdown_and_previous_period(synced: Hub, sims: Sims) -> None:
    period = parse_period("2026-10-01..2026-10-14", TODAY)
    report = build_report(synced, period, dimension="project")
    expected_oa = sims.openai.total(period.start, period.end)
    expected_an = sims.anthropic.total(period.start, period.end)
    assert report.by_vendor == {"openai": expected_oa, "anthropic": expected_an}
    assert report.total == expected_oa + expected_an
    prev = period.previous()
    assert report.previous_total == sims.openai.total(prev.start, prev.end) + sims.anthropic.total(
        prev.start, prev.end
    )
    assert sum((line.cost for line in report.lines), Decimal(0)) == report.total
    assert len(report.lines) == 4 + 3  # 4 OpenAI projects, default + 2 Anthropic workspaces
    assert any("Loja Brasil" in line.label for line in report.lines)  # names, not ids
    assert [line.cost for line in report.lines] == sorted(
        (line.cost for line in report.lines), reverse=True
    )
    assert len(report.daily) == 14
    assert sum((sum(p.values(), Decimal(0)) for _, p in report.daily), Decimal(0)) == report.total
    assert report.input_tokens > 0 and report.output_tokens > 0
    assert not report.includes_today
    # a past period still carries this month's forecast
    assert report.forecast == forecast(synced, ["openai", "anthropic"], TODAY)
    assert build_report(synced, parse_period("7d", TODAY)).forecast == report.forecast


def test_report_by_model_and_key_and_vendor_filter(synced: Hub, sims: Sims) -> None:
    period = parse_period("7d", TODAY)
    by_model = build_report(synced, period, vendors=["openai"], dimension="model")
    assert {line.label for line in by_model.lines} == {
        "OpenAI · gpt-4o-2024-08-06",
        "OpenAI · gpt-4o-mini-2024-07-18",
    }
    by_key = build_report(synced, period, vendors=["openai"], dimension="key")
    assert len(by_key.lines) == 8  # 2 keys per project
    today_partial = sum(by_key.daily[-1][1].values(), Decimal(0))
    assert by_key.daily[-1][0] == TODAY and today_partial > 0
    assert by_key.total == by_model.total
    assert by_key.total == sims.openai.total(period.start, TODAY) + today_partial
    assert by_key.includes_today


def test_hub_usage_is_its_own_line_not_in_totals(synced: Hub) -> None:
    record_claude_usage(
        synced,
        user_id="U1",
        channel_id="C1",
        thread_ts=None,
        model="claude-sonnet-4-5",
        input_tokens=1_000_000,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=0,
        output_tokens=0,
        at=datetime(2026, 10, 30, 10, tzinfo=UTC),
    )
    period = parse_period("7d", TODAY)
    report = build_report(synced, period)
    assert report.hub_cost == Decimal(3) and report.hub_responses == 1
    assert report.total == sum(report.by_vendor.values(), Decimal(0))


def test_forecast_is_weekday_aware_and_covers_the_month(synced: Hub, sims: Sims) -> None:
    fc = forecast(synced, ["openai"], TODAY)
    assert fc.month == "2026-11" and fc.days_in_month == 30 and fc.days_elapsed == 2
    first_day = sims.openai.total(date(2026, 11, 1), TODAY)
    assert fc.month_to_date > first_day  # plus today's partial bucket
    # the projection is about 30 typical days: between 20 and 40 times a typical day
    typical = sims.openai.total(TODAY - timedelta(days=28), TODAY) / 28
    assert typical * 20 < fc.projected < typical * 40


def test_exports_parse_back_to_the_report_totals(synced: Hub) -> None:
    record_claude_usage(
        synced,
        user_id="U1",
        channel_id="C1",
        thread_ts=None,
        model="claude-haiku-4-5",
        input_tokens=10,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=0,
        output_tokens=10,
        at=datetime(2026, 10, 20, tzinfo=UTC),
    )
    period = parse_period("2026-10-01..2026-10-31", TODAY)
    report = build_report(synced, period)

    exported = build_export(synced, period, "csv")
    assert exported.filename == "custos-ia_2026-10-01_2026-10-31.csv"
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert tuple(rows[0].keys()) == COLUMNS
    csv_total = sum((Decimal(r["cost_usd"]) for r in rows if r["source"] == "cost"), Decimal(0))
    assert csv_total == report.total
    for vendor in ("openai", "anthropic"):
        assert (
            sum(
                (
                    Decimal(r["cost_usd"])
                    for r in rows
                    if r["source"] == "cost" and r["vendor"] == vendor
                ),
                Decimal(0),
            )
            == report.by_vendor[vendor]
        )
    assert {r["source"] for r in rows} == {"cost", "usage", "hub"}
    assert all(period.start.isoformat() <= r["date"] <= "2026-10-31" for r in rows)

    doc = json.loads(build_export(synced, period, "json").content)
    json_total = sum(
        (Decimal(r["cost_usd"]) for r in doc["rows"] if r["source"] == "cost"), Decimal(0)
    )
    assert json_total == Decimal(doc["totals"]["cost_usd"]) == report.total
    assert Decimal(doc["totals"]["by_vendor"]["anthropic"]) == report.by_vendor["anthropic"]
    assert doc["period"] == {"start": "2026-10-01", "end_inclusive": "2026-10-31"}
    assert len(doc["rows"]) == len(rows)
