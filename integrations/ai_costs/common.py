"""Types shared by both vendors' admin clients: one page of daily buckets, normalised lines."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from integrations.runtime.errors import BadResponse, NotConfigured

if TYPE_CHECKING:
    from pydantic import SecretStr

    from bot.hub import Hub
    from integrations.runtime.client import ServiceClient

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


def require_usd(currency: Any, *, integration: str, operation: str) -> None:
    """Refuse an amount that is not in US dollars (every figure past the clients is USD; a
    missing currency means USD)."""
    code = str(currency or "USD").upper()
    if code != "USD":
        raise BadResponse(
            f"unexpected currency {code!r}", integration=integration, operation=operation
        )


def next_cursor(body: Mapping[str, Any], *, integration: str, operation: str) -> str | None:
    """The `next_page` cursor of a page, None on the last one (both vendors page this way)."""
    if not body.get("has_more"):
        return None
    cursor = body.get("next_page")
    if not cursor:
        raise BadResponse(
            "has_more without next_page", integration=integration, operation=operation
        )
    return str(cursor)


class AdminClient:
    """What both vendors' organisation admin clients share: the runtime client (never cached),
    a count of the requests made, JSON-object answers and `after`-cursor name listings."""

    integration: str

    def __init__(
        self,
        hub: Hub,
        *,
        key: str | None,
        not_configured: str,
        base_url: str,
        headers: Callable[[str], dict[str, str]],
    ) -> None:
        if not key:
            raise NotConfigured(not_configured)
        self.hub = hub
        self.http: ServiceClient = hub.runtime.client(
            self.integration, base_url, headers=headers(key), secrets=[key]
        )
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def _get(
        self,
        path: str,
        *,
        operation: str,
        params: list[tuple[str, Any]],
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        self.requests += 1
        body = self.http.json(
            "GET", path, operation=operation, params=params, headers=headers, cache=False
        )
        if not isinstance(body, dict):
            raise BadResponse(
                "expected a JSON object", integration=self.integration, operation=operation
            )
        return body

    def _names(
        self,
        path: str,
        *,
        operation: str,
        params: list[tuple[str, Any]],
        after_param: str,
        name: Callable[[dict[str, Any]], str],
    ) -> list[tuple[str, str]]:
        """Every (id, display name) of a listing paged by `after` cursors."""
        out: list[tuple[str, str]] = []
        after: str | None = None
        while True:
            page_params = [*params, (after_param, after)] if after else params
            body = self._get(path, operation=operation, params=page_params)
            data = body.get("data") or []
            out += [(item["id"], name(item) or item["id"]) for item in data]
            after = body.get("last_id") or (data[-1]["id"] if data else None)
            if not body.get("has_more") or not after:
                return out


def secret_value(explicit: str | None, configured: SecretStr | None) -> str | None:
    """An explicitly given key, else the configured one (None when neither is set)."""
    return explicit or (configured.get_secret_value() if configured else None)
