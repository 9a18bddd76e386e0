"""The hub's own Claude usage: one row per assistant response, priced when recorded.

The assistant calls `record_claude_usage` after every Claude response; reports show the total
as its own line ("Chegou Hub (assistente)").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlmodel import select

from bot.db import session_scope
from integrations.ai_costs.models import AiHubUsage
from integrations.ai_costs.pricing import find_price

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)


def record_claude_usage(
    hub: Hub,
    *,
    user_id: str,
    channel_id: str,
    thread_ts: str | None,
    model: str,
    input_tokens: int,
    cache_creation_input_tokens: int,
    cache_read_input_tokens: int,
    output_tokens: int,
    at: datetime | None = None,
) -> Decimal:
    """Store one Claude response's usage and return its cost in USD.

    Token counts are those of the Messages API `usage` object (`input_tokens` excludes cache
    reads and writes). A model without a known price is stored with cost 0 and `priced=False`
    (and a warning in the log) so the tokens are not lost. A database failure is logged and does
    not propagate: bookkeeping must never cost a user their answer.
    """
    counts = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_creation_input_tokens,
        "cache_read_input_tokens": cache_read_input_tokens,
        "output_tokens": output_tokens,
    }
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    when = (at or hub.clock.now()).astimezone(UTC)
    price = find_price(model, when.date(), hub.settings.ai_model_prices)
    if price is None:
        log.warning("no price for model=%s: hub usage stored with cost 0", model)
        cost = Decimal(0)
    else:
        cost = price.cost(
            input_tokens=input_tokens,
            cache_write_tokens=cache_creation_input_tokens,
            cache_read_tokens=cache_read_input_tokens,
            output_tokens=output_tokens,
        )
    row = AiHubUsage(
        at=when,
        user_id=user_id,
        channel_id=channel_id,
        thread_ts=thread_ts,
        model=model,
        cost_usd=cost,
        priced=price is not None,
        **counts,
    )
    try:
        with session_scope(hub.engine) as session:
            session.add(row)
    except Exception:
        log.exception("could not store hub Claude usage model=%s", model)
    return cost


@dataclass(frozen=True)
class HubUsageDay:
    day: date
    model: str
    cost_usd: Decimal
    input_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    output_tokens: int
    responses: int


def hub_usage_by_day(hub: Hub, start: date, end: date) -> list[HubUsageDay]:
    """Per (UTC day, model) totals of the hub's usage for days in [start, end)."""
    lo = datetime.combine(start, time(), tzinfo=UTC)
    hi = datetime.combine(end, time(), tzinfo=UTC)
    acc: dict[tuple[date, str], list[int | Decimal]] = {}
    with session_scope(hub.engine) as session:
        rows: Iterator[AiHubUsage] = iter(
            session.exec(select(AiHubUsage).where(AiHubUsage.at >= lo, AiHubUsage.at < hi))
        )
        for row in rows:
            slot = acc.setdefault((row.at.date(), row.model), [Decimal(0), 0, 0, 0, 0, 0])
            slot[0] += row.cost_usd
            slot[1] += row.input_tokens
            slot[2] += row.cache_creation_input_tokens
            slot[3] += row.cache_read_input_tokens
            slot[4] += row.output_tokens
            slot[5] += 1
    return [
        HubUsageDay(d, m, Decimal(v[0]), int(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]))
        for (d, m), v in sorted(acc.items())
    ]
