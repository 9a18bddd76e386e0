"""Charts as PNG bytes with `matplotlib.figure.Figure` (never pyplot: no global state).

matplotlib is imported inside the functions so importing the hub stays fast.

    png = line_chart("Gasto diário (USD)", days, {"OpenAI": openai, "Anthropic": anthropic})
    ctx.upload("custos.png", png, title="Gasto diário")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from io import BytesIO
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Number = int | float | Decimal


def render_png(draw: Callable[[Figure], None], *, width: float = 8, height: float = 4.5) -> bytes:
    """A new Figure (Agg canvas), `draw(fig)`, saved as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig)
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _style(ax: Axes, title: str, ylabel: str | None) -> None:
    ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[Number]],
    *,
    ylabel: str | None = None,
) -> bytes:
    """One line per series over the same x labels (e.g. days)."""

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for name, values in series.items():
            ax.plot(list(labels), [float(v) for v in values], marker="o", label=name)
        _style(ax, title, ylabel)
        if len(series) > 1:
            ax.legend()
        ax.tick_params(axis="x", labelrotation=45)

    return render_png(draw)


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[Number],
    *,
    ylabel: str | None = None,
    color: Any = None,
) -> bytes:
    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.bar(list(labels), [float(v) for v in values], color=color)
        _style(ax, title, ylabel)
        ax.tick_params(axis="x", labelrotation=45)

    return render_png(draw)
