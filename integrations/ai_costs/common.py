"""Types shared by both vendors' admin clients: one page of daily buckets, normalised lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Literal, TypeVar

from integrations.runtime.errors import BadResponse

Vendor = Literal["openai", "anthropic"]
VENDORS: tuple[Vendor, ...] = ("openai", "anthropic")
VENDOR_NAMES: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "hub": "Chegou Hub (assistente)",
}


@dataclass(frozen=True)
class CostLine:
    """Money for one (day, project/workspace, key, line item) from a vendor's cost report."""

    day: date
    project_id: str
    api_key_id: str
    item: str
    model: str
    amount_usd: Decimal
    raw: dict[str, Any]


@dataclass(frozen=True)
class UsageLine:
    """Tokens and requests for one (day, project/workspace, key, model) from a usage report."""

    day: date
    project_id: str
    api_key_id: str
    model: str
    input_tokens: int  # uncached input
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int
    requests: int
    raw: dict[str, Any]


L = TypeVar("L", CostLine, UsageLine)


@dataclass
class Page(Generic[L]):
    """One upstream page: complete daily buckets for days in [start, end)."""

    start: date
    end: date
    lines: list[L] = field(default_factory=list)
    buckets: int = 0


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def unix(day: date) -> int:
    return int(day_start(day).timestamp())


def decimal_of(value: Any, *, integration: str, operation: str) -> Decimal:
    """Money from JSON: numbers via str() (never through float arithmetic), strings as given."""
    if isinstance(value, bool) or value is None:
        raise BadResponse("amount missing", integration=integration, operation=operation)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise BadResponse(
            "amount is not a number", integration=integration, operation=operation
        ) from None


def int_of(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 0
    return int(value)


def text_of(value: Any) -> str:
    return "" if value is None else str(value)
