"""Charts of AI spend as PNG bytes (matplotlib `Figure`, never pyplot; imported lazily)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

OTHERS = "Outros"


def _order(daily: Sequence[tuple[date, dict[str, Decimal]]]) -> list[str]:
    totals: dict[str, Decimal] = {}
    for _, parts in daily:
        for label, value in parts.items():
            totals[label] = totals.get(label, Decimal(0)) + value
    labels = sorted((k for k in totals if k != OTHERS), key=lambda k: (-totals[k], k))
    return labels + ([OTHERS] if OTHERS in totals else [])


def stacked_daily_png(
    daily: Sequence[tuple[date, dict[str, Decimal]]],
    *,
    title: str,
    highlight: date | None = None,
    baseline: Decimal | None = None,
) -> bytes:
    """Daily spend stacked by label; `highlight` marks a day (a spike), `baseline` a level."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    days = [d for d, _ in daily]
    labels = _order(daily)
    fig = Figure(figsize=(9, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = list(range(len(days)))
    bottom = [0.0] * len(days)
    palette = [
        "#4E79A7", "#F28E2B", "#59A14F", "#E15759", "#76B7B2",
        "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F",
    ]  # fmt: skip
    for i, label in enumerate(labels):
        values = [float(parts.get(label, Decimal(0))) for _, parts in daily]
        color = "#BAB0AC" if label == OTHERS else palette[i % len(palette)]
        ax.bar(x, values, bottom=bottom, label=label[:40], color=color, width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if highlight is not None and highlight in days:
        i = days.index(highlight)
        ax.annotate(
            "pico",
            xy=(i, bottom[i]),
            xytext=(i, bottom[i] * 1.08 + 0.01),
            ha="center",
            color="#C0392B",
            fontweight="bold",
        )
    if baseline is not None:
        ax.axhline(
            float(baseline), color="#555555", linestyle="--", linewidth=1, label="linha de base"
        )
    ax.set_title(title, fontsize=11)
    ax.set_ylabel("US$ por dia (UTC)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"US$ {v:,.0f}".replace(",", ".")))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    ax.set_xticks([i for i in ax.get_xticks() if 0 <= i < len(days)])
    ax.set_xticklabels([days[int(i)].strftime("%d/%m") for i in ax.get_xticks()])
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if labels:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
