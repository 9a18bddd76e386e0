"""CSV and JSON exports of the daily fact table.

Columns are documented in docs/user-guides/custos-ia.md.

Each row is one stored fact: `source` "cost" rows carry the money (sum them for totals: they
match the report), "usage" rows carry tokens and requests, "hub" rows are the hub's own
assistant usage priced by the hub (not part of the totals). Amounts are exact decimal strings.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from integrations.ai_costs.common import VENDOR_NAMES, VENDORS
from integrations.ai_costs.hub_usage import hub_usage_by_day
from integrations.ai_costs.models import AiCostDaily
from integrations.ai_costs.report import Period
from integrations.ai_costs.sync import names

if TYPE_CHECKING:
    from bot.hub import Hub

ExportFormat = Literal["csv", "json"]
COLUMNS = (
    "date",
    "vendor",
    "source",
    "project_id",
    "project_name",
    "api_key_id",
    "api_key_name",
    "item",
    "model",
    "cost_usd",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "requests",
)


@dataclass
class Export:
    filename: str
    content: bytes
    rows: int
    total_usd: Decimal
    totals_by_vendor: dict[str, Decimal]


def export_rows(hub: Hub, period: Period, vendors: Sequence[str] = VENDORS) -> list[dict[str, Any]]:
    t = AiCostDaily.__table__  # type: ignore[attr-defined]
    known = names(hub)
    query = (
        select(
            t.c.day,
            t.c.vendor,
            t.c.source,
            t.c.project_id,
            t.c.api_key_id,
            t.c.item,
            t.c.model,
            t.c.cost_usd,
            t.c.input_tokens,
            t.c.cache_read_tokens,
            t.c.cache_write_tokens,
            t.c.output_tokens,
            t.c.requests,
        )
        .where(t.c.day >= period.start, t.c.day < period.end, t.c.vendor.in_(list(vendors)))
        .order_by(t.c.day, t.c.vendor, t.c.source, t.c.project_id, t.c.api_key_id, t.c.item)
    )
    rows: list[dict[str, Any]] = []
    with hub.engine.connect() as conn:
        for r in conn.execute(query):
            rows.append(
                {
                    "date": r.day.isoformat(),
                    "vendor": r.vendor,
                    "source": r.source,
                    "project_id": r.project_id,
                    "project_name": known.get((r.vendor, "project", r.project_id), ""),
                    "api_key_id": r.api_key_id,
                    "api_key_name": known.get((r.vendor, "api_key", r.api_key_id), ""),
                    "item": r.item,
                    "model": r.model,
                    "cost_usd": r.cost_usd,
                    "input_tokens": r.input_tokens,
                    "cache_read_tokens": r.cache_read_tokens,
                    "cache_write_tokens": r.cache_write_tokens,
                    "output_tokens": r.output_tokens,
                    "requests": r.requests,
                }
            )
    for d in hub_usage_by_day(hub, period.start, period.end):
        rows.append(
            {
                "date": d.day.isoformat(),
                "vendor": "hub",
                "source": "hub",
                "project_id": "",
                "project_name": VENDOR_NAMES["hub"],
                "api_key_id": "",
                "api_key_name": "",
                "item": d.model,
                "model": d.model,
                "cost_usd": d.cost_usd,
                "input_tokens": d.input_tokens,
                "cache_read_tokens": d.cache_read_tokens,
                "cache_write_tokens": d.cache_write_tokens,
                "output_tokens": d.output_tokens,
                "requests": d.responses,
            }
        )
    return rows


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def build_export(
    hub: Hub, period: Period, fmt: ExportFormat, vendors: Sequence[str] = VENDORS
) -> Export:
    rows = export_rows(hub, period, vendors)
    totals: dict[str, Decimal] = {v: Decimal(0) for v in vendors}
    for row in rows:
        if row["source"] == "cost":
            totals[row["vendor"]] = totals.get(row["vendor"], Decimal(0)) + row["cost_usd"]
    total = sum(totals.values(), Decimal(0))
    last = period.end - timedelta(days=1)
    stem = f"custos-ia_{period.start.isoformat()}_{last.isoformat()}"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "cost_usd": _plain(row["cost_usd"])})
        content = buffer.getvalue().encode("utf-8")
        return Export(f"{stem}.csv", content, len(rows), total, totals)
    document = {
        "generated_at": hub.clock.now().astimezone(UTC).isoformat(),
        "period": {
            "start": period.start.isoformat(),
            "end_inclusive": last.isoformat(),
        },
        "currency": "USD",
        "totals": {
            "cost_usd": _plain(total),
            "by_vendor": {v: _plain(a) for v, a in totals.items()},
        },
        "columns": list(COLUMNS),
        "rows": [{**row, "cost_usd": _plain(row["cost_usd"])} for row in rows],
    }
    content = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    return Export(f"{stem}.json", content, len(rows), total, totals)
