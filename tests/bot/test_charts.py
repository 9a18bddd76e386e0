from __future__ import annotations

import sys
from decimal import Decimal

from bot.charts import bar_chart, line_chart

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_charts_are_png_and_pyplot_is_never_imported() -> None:
    png = line_chart("Gasto", ["01/11", "02/11"], {"OpenAI": [Decimal("1.5"), 2], "X": [0, 1]})
    assert png.startswith(PNG_MAGIC) and len(png) > 1000
    assert bar_chart("Pedidos", ["a", "b"], [3, 4]).startswith(PNG_MAGIC)
    assert "matplotlib.pyplot" not in sys.modules
