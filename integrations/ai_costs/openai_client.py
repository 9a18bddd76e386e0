"""OpenAI organisation admin API: costs (money), completions usage (tokens), project/key names.

Costs are the invoiced figures (they reconcile with the bill); usage only carries tokens.
Every call goes through the runtime (`hub.runtime.client("openai", ...)`), never cached.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from integrations.ai_costs.common import (
    AdminClient,
    CostLine,
    Page,
    UsageLine,
    decimal_of,
    int_of,
    next_cursor,
    require_usd,
    secret_value,
    text_of,
    unix,
)
from integrations.runtime.errors import BadResponse, ClientError

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)

INTEGRATION = "openai"
COSTS_MAX_LIMIT = 180  # buckets per page, 1d buckets
USAGE_MAX_LIMIT = 31  # buckets per page for 1d buckets
LIST_MAX_LIMIT = 100
NOT_CONFIGURED = (
    "OpenAI não configurada: defina `OPENAI_ADMIN_API_KEY` com uma chave de administrador "
    "(sk-admin-…, criada em platform.openai.com › Settings › Organization › Admin keys)."
)


def model_of_line_item(line_item: str) -> str:
    """'gpt-4o-2024-08-06, input' -> 'gpt-4o-2024-08-06'; non-model items -> ''."""
    head, sep, _ = line_item.partition(", ")
    return head.strip() if sep else ""


class OpenAIAdminClient(AdminClient):
    integration = INTEGRATION

    def __init__(self, hub: Hub, *, api_key: str | None = None) -> None:
        settings = hub.settings
        super().__init__(
            hub,
            key=secret_value(api_key, settings.openai_admin_api_key),
            not_configured=NOT_CONFIGURED,
            base_url=settings.openai_base_url,
            headers=lambda key: {
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
            },
        )
        # Older API versions grouped costs only by project_id and line item.
        self.group_by_key = True

    # -- key check ---------------------------------------------------------------------------
    def probe(self) -> None:
        """The cheapest call that needs the usage scope (raises the runtime's typed errors)."""
        today = self.hub.clock.now().astimezone(UTC).date()
        self._get(
            "/organization/costs",
            operation="costs.probe",
            params=[("start_time", unix(today)), ("limit", 1)],
        )

    # -- costs -------------------------------------------------------------------------------
    def cost_pages(
        self, start: date, end: date, *, limit: int = COSTS_MAX_LIMIT
    ) -> Iterator[Page[CostLine]]:
        """Daily cost buckets for [start, end), grouped by project, line item and key."""
        limit = max(1, min(limit, COSTS_MAX_LIMIT))
        cursor: str | None = None
        while True:
            groups = ["project_id", "line_item"] + (["api_key_id"] if self.group_by_key else [])
            params: list[tuple[str, Any]] = [
                ("start_time", unix(start)),
                ("end_time", unix(end)),
                ("bucket_width", "1d"),
                ("limit", limit),
                *(("group_by", g) for g in groups),
            ]
            if cursor:
                params.append(("page", cursor))
            try:
                body = self._get("/organization/costs", operation="costs.page", params=params)
            except ClientError as exc:
                if self.group_by_key and exc.status_code == 400 and _is_group_by_error(exc.body):
                    log.info(
                        "costs API rejects group_by=api_key_id: grouping by project and line item"
                    )
                    self.group_by_key = False
                    continue
                raise
            page: Page[CostLine] = _page(body, "costs.page", start)
            for bucket in body["data"]:
                day = _bucket_day(bucket, "costs.page")
                for result in bucket.get("results") or []:
                    page.lines.append(_cost_line(day, result))
            yield page
            cursor = next_cursor(body, integration=INTEGRATION, operation="costs.page")
            if cursor is None:
                return

    # -- usage -------------------------------------------------------------------------------
    def usage_pages(
        self, start: date, end: date, *, limit: int = USAGE_MAX_LIMIT
    ) -> Iterator[Page[UsageLine]]:
        """Daily completions usage for [start, end), grouped by project, key and model."""
        limit = max(1, min(limit, USAGE_MAX_LIMIT))
        cursor: str | None = None
        while True:
            params: list[tuple[str, Any]] = [
                ("start_time", unix(start)),
                ("end_time", unix(end)),
                ("bucket_width", "1d"),
                ("limit", limit),
                ("group_by", "project_id"),
                ("group_by", "api_key_id"),
                ("group_by", "model"),
            ]
            if cursor:
                params.append(("page", cursor))
            body = self._get(
                "/organization/usage/completions", operation="usage.completions.page", params=params
            )
            page: Page[UsageLine] = _page(body, "usage.completions.page", start)
            for bucket in body["data"]:
                day = _bucket_day(bucket, "usage.completions.page")
                for r in bucket.get("results") or []:
                    input_total = int_of(r.get("input_tokens"))
                    cached = int_of(r.get("input_cached_tokens"))
                    write = int_of(r.get("input_cache_write_tokens"))
                    uncached = (
                        int_of(r["input_uncached_tokens"])
                        if r.get("input_uncached_tokens") is not None
                        else max(input_total - cached - write, 0)
                    )
                    page.lines.append(
                        UsageLine(
                            day=day,
                            project_id=text_of(r.get("project_id")),
                            api_key_id=text_of(r.get("api_key_id")),
                            model=text_of(r.get("model")),
                            input_tokens=uncached,
                            cache_read_tokens=cached,
                            cache_write_tokens=write,
                            output_tokens=int_of(r.get("output_tokens")),
                            requests=int_of(r.get("num_model_requests")),
                            raw=r,
                        )
                    )
            yield page
            cursor = next_cursor(body, integration=INTEGRATION, operation="usage.completions.page")
            if cursor is None:
                return

    # -- names -------------------------------------------------------------------------------
    def projects(self) -> list[tuple[str, str]]:
        return self._names(
            "/organization/projects",
            operation="projects.list",
            params=[("limit", LIST_MAX_LIMIT), ("include_archived", "true")],
            after_param="after",
            name=lambda p: p.get("name") or "",
        )

    def project_keys(self, project_id: str) -> list[tuple[str, str]]:
        return self._names(
            f"/organization/projects/{project_id}/api_keys",
            operation="project_keys.list",
            params=[("limit", LIST_MAX_LIMIT)],
            after_param="after",
            name=lambda k: k.get("name") or k.get("redacted_value") or "",
        )


def _is_group_by_error(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    error = body.get("error")
    if not isinstance(error, dict):
        return False
    return error.get("param") == "group_by" or "api_key_id" in str(error.get("message", ""))


def _page(body: dict[str, Any], operation: str, requested: date) -> Page[Any]:
    data = body.get("data")
    if not isinstance(data, list):
        raise BadResponse("page without data", integration=INTEGRATION, operation=operation)
    if not data:
        return Page(start=requested, end=requested)
    first = _bucket_day(data[0], operation)
    last_end = data[-1].get("end_time")
    if not isinstance(last_end, int):
        raise BadResponse("bucket without end_time", integration=INTEGRATION, operation=operation)
    end = datetime.fromtimestamp(last_end, UTC).date()
    return Page(start=first, end=end, buckets=len(data))


def _bucket_day(bucket: Any, operation: str) -> date:
    start = bucket.get("start_time") if isinstance(bucket, dict) else None
    if not isinstance(start, int):
        raise BadResponse("bucket without start_time", integration=INTEGRATION, operation=operation)
    return datetime.fromtimestamp(start, UTC).date()


def _cost_line(day: date, result: dict[str, Any]) -> CostLine:
    amount = result.get("amount")
    if not isinstance(amount, dict):
        raise BadResponse(
            "cost result without amount", integration=INTEGRATION, operation="costs.page"
        )
    require_usd(amount.get("currency"), integration=INTEGRATION, operation="costs.page")
    line_item = text_of(result.get("line_item"))
    return CostLine(
        day=day,
        project_id=text_of(result.get("project_id")),
        api_key_id=text_of(result.get("api_key_id")),
        item=line_item,
        model=model_of_line_item(line_item),
        amount_usd=decimal_of(amount.get("value"), integration=INTEGRATION, operation="costs.page"),
        raw=result,
    )
