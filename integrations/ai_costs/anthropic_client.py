"""Anthropic organisation admin API: money from the cost report or from the beta Usage and
Cost Analytics API (settings.ai_anthropic_cost_api), tokens from the messages usage report.

Amounts are decimal strings in CENTS ("123.45" = $1.2345) in both money sources: divided by 100
here so everything past the client is USD. Every call goes through the runtime, never cached.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from integrations.ai_costs.common import (
    AdminClient,
    CostLine,
    Page,
    UsageLine,
    day_start,
    decimal_of,
    int_of,
    next_cursor,
    require_usd,
    secret_value,
    text_of,
)
from integrations.runtime.errors import BadResponse

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)

INTEGRATION = "anthropic_admin"
ANTHROPIC_VERSION = "2023-06-01"
MAX_LIMIT = 31  # 1d buckets per page (cost and usage reports)
ANALYTICS_BETA = "analytics-usage-cost-2026-08-24"
ANALYTICS_MAX_LIMIT = 1000  # rows per page
ANALYTICS_EARLIEST = date(2026, 1, 1)  # the analytics API serves nothing before this day
ANALYTICS_MAX_AGE_DAYS = 365
HUNDRED = Decimal(100)
NOT_CONFIGURED = (
    "Anthropic não configurada: defina `ANTHROPIC_ADMIN_API_KEY` com uma chave Admin "
    "(sk-ant-admin…, criada em console.anthropic.com › Settings › Admin keys)."
)


def rfc3339(day: date) -> str:
    return day_start(day).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_day(value: Any, operation: str) -> date:
    if not isinstance(value, str):
        raise BadResponse(
            "bucket without starting_at", integration=INTEGRATION, operation=operation
        )
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).date()
    except ValueError:
        raise BadResponse(
            "bad bucket timestamp", integration=INTEGRATION, operation=operation
        ) from None


def cost_api(setting: str) -> str:
    """The Anthropic money source in use: "analytics" or "cost_report" ("auto" = analytics
    when the installed SDK knows the beta analytics cost endpoint)."""
    if setting != "auto":
        return setting
    try:
        found = importlib.util.find_spec("anthropic.resources.beta.organization.analytics.cost")
    except ModuleNotFoundError:
        found = None
    return "analytics" if found is not None else "cost_report"


class AnthropicAdminClient(AdminClient):
    integration = INTEGRATION

    def __init__(self, hub: Hub, *, api_key: str | None = None) -> None:
        settings = hub.settings
        super().__init__(
            hub,
            key=secret_value(api_key, settings.anthropic_admin_api_key),
            not_configured=NOT_CONFIGURED,
            base_url=settings.anthropic_admin_base_url,
            headers=lambda key: {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION},
        )

    def probe(self) -> dict[str, Any]:
        """`GET /v1/organizations/me`: the organisation the admin key belongs to."""
        return self._get("/v1/organizations/me", operation="me", params=[])

    def _pages(
        self, path: str, operation: str, start: date, end: date, limit: int, groups: list[str]
    ) -> Iterator[tuple[Page[Any], dict[str, Any]]]:
        limit = max(1, min(limit, MAX_LIMIT))
        cursor: str | None = None
        while True:
            params: list[tuple[str, Any]] = [
                ("starting_at", rfc3339(start)),
                ("ending_at", rfc3339(end)),
                ("bucket_width", "1d"),
                ("limit", limit),
                *(("group_by[]", g) for g in groups),
            ]
            if cursor:
                params.append(("page", cursor))
            body = self._get(path, operation=operation, params=params)
            data = body.get("data")
            if not isinstance(data, list):
                raise BadResponse("page without data", integration=INTEGRATION, operation=operation)
            if data:
                page: Page[Any] = Page(
                    start=_parse_day(data[0].get("starting_at"), operation),
                    end=_parse_day(data[-1].get("ending_at"), operation),
                    buckets=len(data),
                )
            else:
                page = Page(start=start, end=start)
            yield page, body
            cursor = next_cursor(body, integration=INTEGRATION, operation=operation)
            if cursor is None:
                return

    def cost_pages(
        self, start: date, end: date, *, limit: int = MAX_LIMIT
    ) -> Iterator[Page[CostLine]]:
        """Daily costs for [start, end) by workspace and description, in USD."""
        op = "cost_report.page"
        for page, body in self._pages(
            "/v1/organizations/cost_report", op, start, end, limit, ["workspace_id", "description"]
        ):
            for bucket in body["data"]:
                day = _parse_day(bucket.get("starting_at"), op)
                for r in bucket.get("results") or []:
                    cents = decimal_of(r.get("amount"), integration=INTEGRATION, operation=op)
                    require_usd(r.get("currency"), integration=INTEGRATION, operation=op)
                    description = text_of(r.get("description"))
                    model = text_of(r.get("model"))
                    item = description or " ".join(
                        p
                        for p in (text_of(r.get("cost_type")), model, text_of(r.get("token_type")))
                        if p
                    )
                    page.lines.append(
                        CostLine(
                            day=day,
                            project_id=text_of(r.get("workspace_id")),
                            api_key_id="",
                            item=item,
                            model=model,
                            amount_usd=cents / HUNDRED,
                            raw=r,
                        )
                    )
            yield page

    def money_pages(
        self, start: date, end: date, *, limit: int | None = None
    ) -> Iterator[Page[CostLine]]:
        """Daily costs from the configured source (settings.ai_anthropic_cost_api)."""
        if cost_api(self.hub.settings.ai_anthropic_cost_api) == "analytics":
            return self.analytics_cost_pages(start, end, limit=limit or ANALYTICS_MAX_LIMIT)
        return self.cost_pages(start, end, limit=limit or MAX_LIMIT)

    def analytics_cost_pages(
        self, start: date, end: date, *, limit: int = ANALYTICS_MAX_LIMIT
    ) -> Iterator[Page[CostLine]]:
        """Daily costs from the beta Usage and Cost Analytics API (`/analytics/cost`).

        That API pages by rows, not by days, so a page can end in the middle of a day: rows are
        asked for in time order and a day is only yielded once the next day has started (or
        the data ended). Each yielded Page is therefore made of complete days. Amounts are in
        cents (fractional), like the cost report; each row is (day, workspace, key, model,
        token type), so this source also attributes Anthropic money to API keys.
        """
        op = "analytics.cost.page"
        limit = max(1, min(limit, ANALYTICS_MAX_LIMIT))
        today = self.hub.clock.now().astimezone(UTC).date()
        start = max(start, ANALYTICS_EARLIEST, today - timedelta(days=ANALYTICS_MAX_AGE_DAYS - 1))
        if start >= end:
            return
        pending: list[CostLine] = []
        page_start = start
        cursor: str | None = None
        while True:
            params: list[tuple[str, Any]] = [
                ("starting_at", rfc3339(start)),
                ("ending_at", rfc3339(end)),
                ("time_bucket_width", "1d"),
                ("order_by", "time"),
                ("order", "asc"),
                ("limit", limit),
                *(
                    ("group_by[]", g)
                    for g in ("workspace_id", "api_key_id", "model", "cost_type", "token_type")
                ),
            ]
            if cursor:
                params.append(("page", cursor))
            body = self._get(
                "/v1/organizations/analytics/cost",
                operation=op,
                params=params,
                headers={"anthropic-beta": ANALYTICS_BETA},
            )
            if not isinstance(body.get("data"), list):
                raise BadResponse("page without data", integration=INTEGRATION, operation=op)
            pending += [_analytics_line(row, op) for row in body["data"]]
            cursor = next_cursor(body, integration=INTEGRATION, operation=op)
            # Days before the newest row's day are complete; after the last page, all of them.
            newest = max((line.day for line in pending), default=page_start)
            boundary = newest if cursor is not None else end
            if boundary > page_start:
                yield Page(
                    start=page_start,
                    end=boundary,
                    lines=[line for line in pending if line.day < boundary],
                    buckets=(boundary - page_start).days,
                )
                pending = [line for line in pending if line.day >= boundary]
                page_start = boundary
            if cursor is None:
                return

    def usage_pages(
        self, start: date, end: date, *, limit: int = MAX_LIMIT
    ) -> Iterator[Page[UsageLine]]:
        """Daily messages usage for [start, end) by workspace, key and model."""
        op = "usage_report.messages.page"
        for page, body in self._pages(
            "/v1/organizations/usage_report/messages",
            op,
            start,
            end,
            limit,
            ["workspace_id", "api_key_id", "model"],
        ):
            for bucket in body["data"]:
                day = _parse_day(bucket.get("starting_at"), op)
                for r in bucket.get("results") or []:
                    creation = r.get("cache_creation") or {}
                    page.lines.append(
                        UsageLine(
                            day=day,
                            project_id=text_of(r.get("workspace_id")),
                            api_key_id=text_of(r.get("api_key_id")),
                            model=text_of(r.get("model")),
                            input_tokens=int_of(r.get("uncached_input_tokens")),
                            cache_read_tokens=int_of(r.get("cache_read_input_tokens")),
                            cache_write_tokens=int_of(creation.get("ephemeral_5m_input_tokens"))
                            + int_of(creation.get("ephemeral_1h_input_tokens")),
                            output_tokens=int_of(r.get("output_tokens")),
                            requests=0,  # the usage report carries no request counts
                            raw=r,
                        )
                    )
            yield page

    def api_keys(self) -> list[tuple[str, str]]:
        return self._names(
            "/v1/organizations/api_keys",
            operation="api_keys.list",
            params=[("limit", 1000)],
            after_param="after_id",
            name=lambda k: k.get("name") or k.get("partial_key_hint") or "",
        )

    def workspaces(self) -> list[tuple[str, str]]:
        return self._names(
            "/v1/organizations/workspaces",
            operation="workspaces.list",
            params=[("limit", 100), ("include_archived", "true")],
            after_param="after_id",
            name=lambda w: w.get("name") or "",
        )


def _analytics_line(row: Any, op: str) -> CostLine:
    if not isinstance(row, dict):
        raise BadResponse("row is not an object", integration=INTEGRATION, operation=op)
    cost = row.get("cost") or {}
    group = row.get("group") or {}
    require_usd(cost.get("currency"), integration=INTEGRATION, operation=op)
    cents = decimal_of(cost.get("amount"), integration=INTEGRATION, operation=op)
    model = text_of(group.get("model"))
    kind = text_of(group.get("token_type")) or text_of(group.get("cost_type")) or "other"
    return CostLine(
        day=_parse_day(row.get("starting_at"), op),
        project_id=text_of(group.get("workspace_id")),
        api_key_id=text_of(group.get("api_key_id")),
        item=f"{model} {kind}".strip(),
        model=model,
        amount_usd=cents / HUNDRED,
        raw=row,
    )
