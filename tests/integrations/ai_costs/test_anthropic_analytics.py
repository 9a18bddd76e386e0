"""Anthropic money from the beta Usage and Cost Analytics API (rows, not day buckets)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db import session_scope
from bot.hub import Hub
from integrations.ai_costs.anthropic_client import ANALYTICS_BETA, AnthropicAdminClient, cost_api
from integrations.ai_costs.common import Page
from integrations.ai_costs.models import AiCostDaily
from integrations.ai_costs.sync import sync
from integrations.runtime.errors import ClientError
from integrations.runtime.harness import Fault
from tests.integrations.ai_costs.conftest import CostsHubFactory, Sims

TODAY = date(2026, 11, 2)


def _stored(engine: Engine, start: date, end: date) -> tuple[Decimal, list[date]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(AiCostDaily.day, AiCostDaily.cost_usd).where(  # type: ignore[call-overload]
                AiCostDaily.vendor == "anthropic",
                AiCostDaily.source == "cost",
                AiCostDaily.day >= start,
                AiCostDaily.day < end,
            )
        ).all()
    return sum((r[1] for r in rows), Decimal(0)), sorted({r[0] for r in rows})


def test_auto_picks_the_api_the_installed_sdk_supports() -> None:
    assert cost_api("auto") == "analytics"  # anthropic 2.x ships beta.organization.analytics
    assert cost_api("cost_report") == "cost_report"


def test_row_pages_are_regrouped_into_complete_days(costs_hub: Hub, sims: Sims) -> None:
    client = AnthropicAdminClient(costs_hub)
    start = TODAY - timedelta(days=10)
    pages = list(client.analytics_cost_pages(start, TODAY, limit=50))
    rows_per_day = 3 * 3 * 4  # workspaces (default + 2) × models × token types
    assert client.requests == math.ceil(10 * rows_per_day / 50)
    assert pages[0].start == start and pages[-1].end == TODAY
    for page in pages:
        days = {line.day for line in page.lines}
        assert days == {page.start + timedelta(days=n) for n in range(page.buckets)}
        for day in days:  # every day of a page is complete
            assert sum(1 for line in page.lines if line.day == day) == rows_per_day
    lines = [line for p in pages for line in p.lines]
    assert sum((line.amount_usd for line in lines), Decimal(0)) == sims.anthropic.total(
        start, TODAY
    )
    assert all(line.api_key_id.startswith("apikey_") for line in lines)  # keys are attributed
    assert {line.item for line in lines} >= {"claude-sonnet-4-5-20250929 output_tokens"}


@pytest.mark.parametrize("source", ["cost_report", "analytics"])
def test_both_money_sources_store_the_same_totals(
    make_costs_hub: CostsHubFactory, sqlite_engine: Engine, sims: Sims, source: str
) -> None:
    hub = make_costs_hub(ai_anthropic_cost_api=source)
    assert sync(hub, vendors=["anthropic"]).ok
    start = TODAY - timedelta(days=60)
    total, days = _stored(sqlite_engine, start, TODAY)
    assert total == sims.anthropic.total(start, TODAY)
    assert days == [start + timedelta(days=n) for n in range(60)]
    path = (
        "/v1/organizations/analytics/cost"
        if source == "analytics"
        else "/v1/organizations/cost_report"
    )
    assert sims.anthropic.requests.get(path, 0) > 0


def test_fault_mid_sync_then_resume_keeps_days_whole(costs_hub: Hub, sims: Sims) -> None:
    pages: list[Page[Any]] = []

    def break_after_two(vendor: str, source: str, page: Page[Any]) -> None:
        pages.append(page)
        if len(pages) == 2:
            sims.anthropic_server.faults.add("/v1/organizations/analytics", Fault(status=502))

    first = sync(
        costs_hub, vendors=["anthropic"], sources=["cost"], on_page=break_after_two, page_limit=100
    )
    assert not first.ok
    stored_until = pages[1].end
    total, days = _stored(costs_hub.engine, TODAY - timedelta(days=60), TODAY)
    assert days[-1] == stored_until - timedelta(days=1)  # no partial day was written
    sims.anthropic_server.faults.clear()
    second = sync(costs_hub, vendors=["anthropic"], sources=["cost"], page_limit=100)
    assert second.ok and second.streams[0].start == stored_until
    start = TODAY - timedelta(days=60)
    total, days = _stored(costs_hub.engine, start, TODAY)
    assert total == sims.anthropic.total(start, TODAY)
    assert days == [start + timedelta(days=n) for n in range(60)]


def test_horizon_is_clamped_to_what_the_analytics_api_serves(
    make_costs_hub: CostsHubFactory, sqlite_engine: Engine, sims: Sims
) -> None:
    hub = make_costs_hub(ai_costs_backfill_days=400)
    client = AnthropicAdminClient(hub)
    with pytest.raises(ClientError) as refused:  # the API itself refuses older ranges…
        client.http.json(
            "GET",
            "/v1/organizations/analytics/cost",
            operation="t",
            params={
                "starting_at": "2025-12-01T00:00:00Z",
                "ending_at": "2026-01-10T00:00:00Z",
                "time_bucket_width": "1d",
            },
            headers={"anthropic-beta": ANALYTICS_BETA},
        )
    assert "no earlier than 2026-01-01" in str(refused.value.body)
    report = sync(hub, vendors=["anthropic"], sources=["cost"])  # …the sync never asks for them
    assert report.ok and report.streams[0].complete_until == TODAY + timedelta(days=1)
    _, days = _stored(sqlite_engine, date(2025, 1, 1), TODAY)
    assert days[0] == max(
        date(2026, 1, 1), TODAY - timedelta(days=364), sims.anthropic.history.start
    )
