"""Effective-dated Claude prices (USD per million tokens) for the hub's own assistant usage.

`settings.ai_model_prices` entries are merged over the built-in defaults below. A model name
matches an entry when it equals the entry's model or starts with it followed by "-" (so
"claude-sonnet-4-5-20250929" matches "claude-sonnet-4-5"); the longest matching name wins, then
the latest `valid_from` on or before the day, then a configured entry over a built-in one.
Cache writes default to 1.25× the input price and cache reads to 0.1× (Anthropic's 5-minute
cache pricing) when an entry does not give them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.settings import ModelPrice

MILLION = Decimal(1_000_000)
CACHE_WRITE_FACTOR = Decimal("1.25")
CACHE_READ_FACTOR = Decimal("0.1")
_EPOCH = date(2024, 1, 1)


def _p(model: str, inp: str, out: str) -> ModelPrice:
    return ModelPrice(model=model, valid_from=_EPOCH, input=Decimal(inp), output=Decimal(out))


# Public list prices (standard tier, prompts up to 200k tokens), USD per million tokens.
DEFAULT_PRICES: tuple[ModelPrice, ...] = (
    _p("claude-opus-4-5", "5", "25"),
    _p("claude-opus-4-1", "15", "75"),
    _p("claude-opus-4", "15", "75"),
    _p("claude-sonnet-4-5", "3", "15"),
    _p("claude-sonnet-4", "3", "15"),
    _p("claude-3-7-sonnet", "3", "15"),
    _p("claude-3-5-sonnet", "3", "15"),
    _p("claude-haiku-4-5", "1", "5"),
    _p("claude-3-5-haiku", "0.80", "4"),
    _p("claude-3-haiku", "0.25", "1.25"),
)


@dataclass(frozen=True)
class Price:
    model: str
    valid_from: date
    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal

    def cost(
        self,
        *,
        input_tokens: int,
        cache_write_tokens: int,
        cache_read_tokens: int,
        output_tokens: int,
    ) -> Decimal:
        total = (
            Decimal(input_tokens) * self.input
            + Decimal(cache_write_tokens) * self.cache_write
            + Decimal(cache_read_tokens) * self.cache_read
            + Decimal(output_tokens) * self.output
        )
        return total / MILLION


def _matches(model: str, entry: str) -> bool:
    return model == entry or model.startswith(entry + "-")


def _to_price(entry: ModelPrice) -> Price:
    return Price(
        model=entry.model,
        valid_from=entry.valid_from,
        input=entry.input,
        output=entry.output,
        cache_write=entry.cache_write_5m
        if entry.cache_write_5m is not None
        else entry.input * CACHE_WRITE_FACTOR,
        cache_read=entry.cache_read
        if entry.cache_read is not None
        else entry.input * CACHE_READ_FACTOR,
    )


def find_price(
    model: str,
    day: date,
    configured: Sequence[ModelPrice] = (),
    *,
    defaults: Iterable[ModelPrice] = DEFAULT_PRICES,
) -> Price | None:
    """The price in force for `model` on `day`, or None when no entry covers it."""
    name = model.strip().lower()
    best: tuple[int, date, int] | None = None
    chosen: ModelPrice | None = None
    for rank, table in ((1, configured), (0, defaults)):
        for entry in table:
            if entry.valid_from > day or not _matches(name, entry.model.lower()):
                continue
            key = (len(entry.model), entry.valid_from, rank)
            if best is None or key > best:
                best, chosen = key, entry
    return _to_price(chosen) if chosen is not None else None
