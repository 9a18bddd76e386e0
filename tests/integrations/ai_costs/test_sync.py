from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.db import session_scope
from bot.hub import Hub
from integrations.ai_costs.common import Page
from integrations.ai_costs.models import AiCostDaily, AiCostSyncState
from integrations.ai_costs.sync import names, sync
from integrations.runtime.harness import Fault
from tests.integrations.ai_costs.conftest import CostsHubFactory, Sims, make_hub

TODAY = date(2026, 11, 2)


def _cost_total(engine: Engine, vendor: str, start: date, end: date) -> Decimal:
    with session_scope(engine) as session:
        rows = session.execute(
            select(AiCostDaily.cost_usd).where(  # type: ignore[call-overload]
                AiCostDaily.vendor == vendor,
                AiCostDaily.source == "cost",
                AiCostDaily.day >= start,
                AiCostDaily.day < end,
            )
        ).scalars()
        return sum(rows, Decimal(0))


def _days(engine: Engine, vendor: str, source: str) -> list[date]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                select(AiCostDaily.day)  # type: ignore[call-overload]
                .where(AiCostDaily.vendor == vendor, AiCostDaily.source == source)
                .distinct()
                .order_by(AiCostDaily.day)
            ).scalars()
        )


def _count(engine: Engine, source: str | None = None) -> int:
    query = select(func.count()).select_from(AiCostDaily)
    if source:
        query = query.where(AiCostDaily.source == source)  # type: ignore[arg-type]
    with session_scope(engine) as session:
        return int(session.execute(query).scalar_one())


def _state(engine: Engine, vendor: str, source: str) -> AiCostSyncState:
    with session_scope(engine) as session:
        state = session.get(AiCostSyncState, (vendor, source))
        assert state is not None
        return state


def test_first_run_backfills_both_vendors_to_the_horizon(costs_hub: Hub, sims: Sims) -> None:
    report = sync(costs_hub)
    assert report.ok, report.streams
    horizon = TODAY - timedelta(days=60)
    for vendor, sim in (("openai", sims.openai), ("anthropic", sims.anthropic)):
        assert _cost_total(costs_hub.engine, vendor, horizon, TODAY) == sim.total(horizon, TODAY)
        assert _days(costs_hub.engine, vendor, "cost") == [
            horizon + timedelta(days=n) for n in range(61)
        ]
        assert _days(costs_hub.engine, vendor, "usage")[0] == horizon
        assert _state(costs_hub.engine, vendor, "cost").complete_until == TODAY + timedelta(days=1)
    # names of projects, keys and workspaces came along
    known = names(costs_hub)
    pid, pname = sims.openai.data.projects[0]
    assert known[("openai", "project", pid)] == pname
    assert any(kind == "api_key" for _, kind, _ in known)
    assert any(v == "anthropic" for v, _, _ in known)
    key = sims.anthropic.data.keys[None][0]
    assert known[("anthropic", "api_key", key)] == "Default · produção"


def test_resync_upserts_recent_days_without_duplicates(
    db_engine: Engine, tmp_path: Path, fake_clock: FakeClock, sims: Sims
) -> None:
    hub = make_hub(tmp_path, db_engine, fake_clock, sims, ai_costs_backfill_days=20)
    assert sync(hub).ok
    rows_after_first = _count(db_engine)
    cost_rows = _count(db_engine, "cost")
    partial_today = _cost_total(db_engine, "openai", TODAY, TODAY + timedelta(days=1))
    # six hours later: today's bucket has grown; the same rows are updated, not appended
    fake_clock.advance(6 * 3600)
    second = sync(hub)
    assert second.ok
    assert all(s.start == TODAY - timedelta(days=3) for s in second.streams)
    assert _count(db_engine) == rows_after_first
    grown = _cost_total(db_engine, "openai", TODAY, TODAY + timedelta(days=1))
    assert grown > partial_today
    horizon = TODAY - timedelta(days=20)
    assert _cost_total(db_engine, "openai", horizon, TODAY) == sims.openai.total(horizon, TODAY)
    # a line the vendor stops reporting for a re-synced day disappears from the store
    sims.openai.data._cache[TODAY - timedelta(days=1)] = sims.openai.data.entries(
        TODAY - timedelta(days=1)
    )[1:]
    assert sync(hub).ok
    assert _count(db_engine, "cost") == cost_rows - 1
    hub.close()


def test_a_fault_mid_sync_then_resume_leaves_no_gap_and_no_double_count(
    costs_hub: Hub, sims: Sims
) -> None:
    pages: list[Page[Any]] = []

    def break_after_first_page(vendor: str, source: str, page: Page[Any]) -> None:
        pages.append(page)
        if len(pages) == 1:
            sims.openai_server.faults.add("/v1/organization/costs", Fault(status=503))

    first = sync(
        costs_hub,
        vendors=["openai"],
        sources=["cost"],
        on_page=break_after_first_page,
        page_limit=10,
    )
    assert not first.ok and "503" in (first.streams[0].error or "")
    state = _state(costs_hub.engine, "openai", "cost")
    assert state.complete_until == pages[0].end == TODAY - timedelta(days=50)
    assert state.last_error
    sims.openai_server.faults.clear()

    second = sync(costs_hub, vendors=["openai"], sources=["cost"], page_limit=10)
    assert second.ok
    assert second.streams[0].start == pages[0].end  # resumed where it stopped
    horizon = TODAY - timedelta(days=60)
    assert _days(costs_hub.engine, "openai", "cost") == [
        horizon + timedelta(days=n) for n in range(61)
    ]
    assert _cost_total(costs_hub.engine, "openai", horizon, TODAY) == sims.openai.total(
        horizon, TODAY
    )
    assert _state(costs_hub.engine, "openai", "cost").last_error is None


def test_unconfigured_vendor_is_skipped(make_costs_hub: CostsHubFactory) -> None:
    hub = make_costs_hub(anthropic_admin_api_key=None)
    report = sync(hub)
    assert report.skipped == ["anthropic"] and report.ok
    assert {s.vendor for s in report.streams} == {"openai"}


def test_max_age_skips_fresh_vendors_and_syncs_run_one_at_a_time(
    costs_hub: Hub, sims: Sims, fake_clock: FakeClock
) -> None:
    import threading
    from datetime import timedelta as td

    assert sync(costs_hub).ok
    assert sync(costs_hub, max_age=td(hours=1)).streams == []
    fake_clock.advance(2 * 3600)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(sync(costs_hub, max_age=td(hours=1))))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # three concurrent refreshes: one syncs both vendors, the others find fresh data
    assert sorted(len(r.streams) for r in results) == [0, 0, 4]
