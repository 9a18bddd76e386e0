"""AI costs sync: a 365-day backfill of 20 projects × 30 line items against the simulators.

Prints wall time, rows stored and upstream requests per endpoint against the minimum the APIs'
page limits allow (OpenAI costs 180 daily buckets per page, usage 31; Anthropic 31; project and
key lists 100 per page), as a ratio. The reference in the same run is the same backfill with
the APIs' default page size (7 buckets), what a client that ignores `limit` would do.

    .venv/bin/python benchmarks/costs_sync.py [--days 365] [--projects 20] [--line-items 30]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import FakeClock
from bot.db import make_engine, upgrade
from bot.hub import Hub
from bot.settings import Settings
from integrations.ai_costs.anthropic_client import (
    ANALYTICS_MAX_AGE_DAYS,
    ANALYTICS_MAX_LIMIT,
    cost_api,
)
from integrations.ai_costs.sandbox import (
    ANTHROPIC_ADMIN_KEY,
    OPENAI_ADMIN_KEY,
    AnthropicSimulator,
    OpenAISimulator,
)
from integrations.ai_costs.sync import sync
from integrations.runtime.harness import SimulatorServer

# After the analytics API's earliest day (2026-01-01) by more than a year, so its 365-day
# window is what limits the Anthropic backfill, not the API's start.
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _run(
    tmp: Path, name: str, days: int, projects: int, items: int, page_limit: int | None
) -> dict[str, Any]:
    clock = FakeClock(NOW)
    oa = OpenAISimulator(clock=clock, projects=projects, line_items=items, history_days=days + 35)
    an = AnthropicSimulator(clock=clock, history_days=days + 35)
    with (
        SimulatorServer(oa.app(), name="openai") as oa_srv,
        SimulatorServer(an.app(), name="anthropic_admin") as an_srv,
    ):
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite:///{tmp / f'{name}.db'}",
            openai_admin_api_key=OPENAI_ADMIN_KEY,
            openai_base_url=f"{oa_srv.base_url}/v1",
            anthropic_admin_api_key=ANTHROPIC_ADMIN_KEY,
            anthropic_admin_base_url=an_srv.base_url,
            ai_costs_backfill_days=days,
        )
        engine = make_engine(settings.database_url)
        upgrade(engine)
        hub = Hub.create(settings, engine=engine, clock=clock)
        t0 = time.perf_counter()
        report = sync(hub, page_limit=page_limit)
        wall = time.perf_counter() - t0
        hub.close()
        engine.dispose()
    if not report.ok:
        raise SystemExit(f"sync failed: {[s.error for s in report.streams if s.error]}")
    served = [NOW.date() - timedelta(days=n) for n in range(min(days + 1, ANALYTICS_MAX_AGE_DAYS))]
    return {
        "analytics_rows": sum(len(an.data.entries(d)) for d in served),
        "wall": wall,
        "rows": report.rows,
        "requests": {**oa.requests, **an.requests},
        "total": report.requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--line-items", type=int, default=30)
    args = parser.parse_args()

    window = args.days + 1  # the backfill horizon through today's partial bucket
    with tempfile.TemporaryDirectory() as tmp:
        ours = _run(Path(tmp), "ours", args.days, args.projects, args.line_items, None)
        ref = _run(Path(tmp), "reference", args.days, args.projects, args.line_items, 7)

    anthropic_money = cost_api("auto")
    minimum = {
        "/v1/organization/costs": math.ceil(window / 180),
        "/v1/organization/usage/completions": math.ceil(window / 31),
        "/v1/organization/projects": math.ceil(args.projects / 100),
        "/v1/organizations/usage_report/messages": math.ceil(window / 31),
        "/v1/organizations/workspaces": 1,
        "/v1/organizations/api_keys": 1,
    }
    if anthropic_money == "analytics":
        # rows, not days: (workspace, key, model, token type) per day, 1000 rows per page,
        # over the at most 365 days the analytics API serves
        minimum["/v1/organizations/analytics/cost"] = math.ceil(
            ours["analytics_rows"] / ANALYTICS_MAX_LIMIT
        )
    else:
        minimum["/v1/organizations/cost_report"] = math.ceil(window / 31)
    key_lists = args.projects  # one key list per project (2 keys each, 100 per page)
    min_total = sum(minimum.values()) + key_lists

    print(
        f"AI costs backfill: {args.days} days (+ today), OpenAI {args.projects} projects × "
        f"{args.line_items} line items, Anthropic 6 workspaces × 3 models "
        f"(money from {anthropic_money})"
    )
    print(f"{'endpoint':<44}{'requests':>10}{'minimum':>10}{'ratio':>8}{'ref (limit 7)':>14}")
    for path, low in minimum.items():
        got = ours["requests"].get(path, 0)
        print(f"{path:<44}{got:>10}{low:>10}{got / low:>8.2f}{ref['requests'].get(path, 0):>14}")
    keys_got = sum(
        v for k, v in ours["requests"].items() if k.startswith("/v1/organization/projects/")
    )
    keys_ref = sum(
        v for k, v in ref["requests"].items() if k.startswith("/v1/organization/projects/")
    )
    print(
        f"{'/v1/organization/projects/{id}/api_keys':<44}{keys_got:>10}{key_lists:>10}"
        f"{keys_got / key_lists:>8.2f}{keys_ref:>14}"
    )
    print(
        f"{'TOTAL':<44}{ours['total']:>10}{min_total:>10}{ours['total'] / min_total:>8.2f}"
        f"{ref['total']:>14}"
    )
    print(
        f"rows stored: {ours['rows']:,}  wall: {ours['wall']:.1f} s "
        f"({ours['rows'] / ours['wall']:,.0f} rows/s)"
    )
    print(
        f"reference (limit=7 on every endpoint): {ref['total']} requests, "
        f"wall {ref['wall']:.1f} s; "
        f"requests ratio ours/reference = {ours['total'] / ref['total']:.2f}, "
        f"wall ratio = {ours['wall'] / ref['wall']:.2f}"
    )


if __name__ == "__main__":
    main()
