from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import FakeClock
from bot.db import session_scope
from bot.hub import Hub
from bot.settings import ModelPrice
from integrations.ai_costs.hub_usage import hub_usage_by_day, record_claude_usage
from integrations.ai_costs.models import AiHubUsage
from integrations.ai_costs.pricing import find_price
from tests.conftest import make_settings


def _record(hub: Hub, model: str = "claude-sonnet-4-5-20250929", **kw: object) -> Decimal:
    args: dict[str, object] = {
        "user_id": "U1",
        "channel_id": "C1",
        "thread_ts": "1.2",
        "model": model,
        "input_tokens": 1_000_000,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }
    args.update(kw)
    return record_claude_usage(hub, **args)  # type: ignore[arg-type]


def test_prices_input_output_and_cache_multipliers(db_engine: Engine, tmp_path: Path) -> None:
    hub = Hub.create(make_settings(tmp_path), engine=db_engine, clock=FakeClock())
    # Sonnet 4.5: $3 in, $15 out; cache write 1.25 × 3 = 3.75; cache read 0.1 × 3 = 0.30.
    cost = _record(
        hub,
        input_tokens=1_000,
        cache_creation_input_tokens=2_000,
        cache_read_input_tokens=10_000,
        output_tokens=500,
    )
    expected = (
        Decimal(1_000) * 3
        + Decimal(2_000) * Decimal("3.75")
        + Decimal(10_000) * Decimal("0.3")
        + Decimal(500) * 15
    ) / Decimal(1_000_000)
    assert cost == expected == Decimal("0.021")
    with session_scope(db_engine) as session:
        row = session.exec(select(AiHubUsage)).one()
    assert row.cost_usd == expected
    assert isinstance(row.cost_usd, Decimal)
    assert (row.user_id, row.channel_id, row.thread_ts, row.priced) == ("U1", "C1", "1.2", True)
    assert row.cache_read_input_tokens == 10_000
    assert row.at == datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def test_longest_model_prefix_wins_and_haiku_is_cheaper(hub: Hub) -> None:
    assert _record(hub, "claude-opus-4-5-20251101") == Decimal(5)
    assert _record(hub, "claude-opus-4-1-20250805") == Decimal(15)
    assert _record(hub, "claude-haiku-4-5") == Decimal(1)


def test_configured_prices_are_effective_dated(tmp_path: Path, sqlite_engine: Engine) -> None:
    settings = make_settings(
        tmp_path,
        ai_model_prices=[
            ModelPrice(
                model="claude-sonnet-4-5",
                valid_from=date(2026, 6, 1),
                input=Decimal(2),
                output=Decimal(10),
                cache_read=Decimal("0.5"),
            ),
        ],
    )
    hub = Hub.create(settings, engine=sqlite_engine, clock=FakeClock())
    before = datetime(2026, 5, 31, 23, 59, tzinfo=UTC)
    after = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    assert _record(hub, at=before) == Decimal(3)  # built-in price still in force
    assert _record(hub, at=after) == Decimal(2)
    assert _record(hub, at=after, input_tokens=0, cache_read_input_tokens=1_000_000) == Decimal(
        "0.5"
    )
    price = find_price("claude-sonnet-4-5", date(2026, 7, 1), settings.ai_model_prices)
    assert price is not None and price.cache_write == Decimal("2.50")


def test_unknown_model_is_kept_with_zero_cost(hub: Hub) -> None:
    assert _record(hub, "gpt-4o") == Decimal(0)
    with session_scope(hub.engine) as session:
        row = session.exec(select(AiHubUsage)).one()
    assert row.priced is False and row.input_tokens == 1_000_000


def test_negative_tokens_are_rejected(hub: Hub) -> None:
    with pytest.raises(ValueError, match="output_tokens"):
        _record(hub, output_tokens=-1)


def test_daily_totals_group_by_utc_day_and_model(hub: Hub) -> None:
    _record(hub, at=datetime(2026, 11, 1, 23, 0, tzinfo=UTC))
    _record(hub, at=datetime(2026, 11, 1, 1, 0, tzinfo=UTC), output_tokens=1_000_000)
    _record(hub, at=datetime(2026, 11, 2, 0, 0, tzinfo=UTC))
    days = hub_usage_by_day(hub, date(2026, 11, 1), date(2026, 11, 2))
    assert len(days) == 1
    assert days[0].cost_usd == Decimal(3 + 3 + 15) and days[0].responses == 2
