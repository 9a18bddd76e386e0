from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal

from integrations.ai_costs.charts import OTHERS, _order, stacked_daily_png


def test_stacked_chart_is_a_png_with_largest_series_first() -> None:
    start = date(2026, 10, 1)
    daily = [
        (start + timedelta(days=n), {"A": Decimal(n), "B": Decimal(10), OTHERS: Decimal(1)})
        for n in range(14)
    ]
    assert _order(daily) == ["B", "A", OTHERS]  # B: 140, A: 91, Outros always last
    png = stacked_daily_png(
        daily, title="teste", highlight=start + timedelta(days=13), baseline=Decimal(12)
    )
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_empty_chart_still_renders() -> None:
    assert stacked_daily_png([], title="vazio").startswith(b"\x89PNG")


def test_area_modules_do_not_import_matplotlib_or_sdks() -> None:
    code = (
        "import sys, handlers.costs, jobs.costs, integrations.ai_costs.cli, "
        "integrations.ai_costs.sync, integrations.ai_costs.report, integrations.ai_costs.tools, "
        "integrations.ai_costs.integration; "
        "print(sorted(m for m in ('matplotlib', 'anthropic', 'slack_bolt', 'googleapiclient') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
