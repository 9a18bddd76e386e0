"""Fill the daily fact table from both vendors: backfill, re-sync, resume.

Each (vendor, source) stream keeps `complete_until` in `ai_cost_sync_state`: every day before it
is stored. A run starts at the earlier of that day and `today - ai_costs_resync_days` (today's
bucket is partial and recent days still change), or at the backfill horizon on the first run.
Each upstream page (complete daily buckets) is written in ONE transaction together with the new
progress, as an upsert on the natural key plus the removal of rows of those days the vendor no
longer reports. A failure therefore loses at most the page in flight: the next run resumes from
the last committed page, without gaps and without counting anything twice.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, select, tuple_
from sqlalchemy.engine import Connection

from bot.db import session_scope
from integrations.ai_costs.common import CostLine, Page, UsageLine, Vendor
from integrations.ai_costs.models import AiCostDaily, AiCostSyncState, AiNameCache
from integrations.runtime.errors import IntegrationError, NotConfigured

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)

Source = Literal["cost", "usage"]
SOURCES: tuple[Source, ...] = ("cost", "usage")
UPSERT_BATCH = 500
NAMES_MAX_AGE = timedelta(hours=24)
_KEY = ("vendor", "source", "day", "project_id", "api_key_id", "item")


@dataclass
class StreamResult:
    vendor: str
    source: Source
    start: date
    end: date
    pages: int = 0
    rows: int = 0
    complete_until: date | None = None
    error: str | None = None


@dataclass
class SyncReport:
    streams: list[StreamResult] = field(default_factory=list)
    requests: int = 0
    skipped: list[str] = field(default_factory=list)  # vendors not configured

    @property
    def ok(self) -> bool:
        return all(s.error is None for s in self.streams)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.streams)


PageHook = Callable[[str, Source, Page[Any]], None]


def configured_vendors(hub: Hub) -> list[Vendor]:
    out: list[Vendor] = []
    if hub.settings.openai_admin_api_key is not None:
        out.append("openai")
    if hub.settings.anthropic_admin_api_key is not None:
        out.append("anthropic")
    return out


def _client(hub: Hub, vendor: str) -> Any:
    if vendor == "openai":
        from integrations.ai_costs.openai_client import OpenAIAdminClient

        return OpenAIAdminClient(hub)
    from integrations.ai_costs.anthropic_client import AnthropicAdminClient

    return AnthropicAdminClient(hub)


def sync(
    hub: Hub,
    *,
    vendors: Sequence[str] | None = None,
    sources: Sequence[Source] = SOURCES,
    on_page: PageHook | None = None,
    page_limit: int | None = None,
    max_age: timedelta | None = None,
) -> SyncReport:
    """Sync every configured vendor (or `vendors`); never raises for upstream failures: each
    stream's error is in the report (the caller decides whether to alert or retry).

    Syncs of one process run one at a time. With `max_age`, a vendor whose last successful
    sync is younger than that is skipped (checked after waiting for a sync already running,
    so concurrent `/hub custos` commands trigger one refresh, not one each)."""
    lock: threading.Lock = hub.services.setdefault("ai_costs.sync_lock", threading.Lock())
    with lock:
        return _sync_locked(hub, vendors, sources, on_page, page_limit, max_age)


def _sync_locked(
    hub: Hub,
    vendors: Sequence[str] | None,
    sources: Sequence[Source],
    on_page: PageHook | None,
    page_limit: int | None,
    max_age: timedelta | None,
) -> SyncReport:
    report = SyncReport()
    wanted = list(vendors) if vendors is not None else ["openai", "anthropic"]
    available = configured_vendors(hub)
    fresh = _fresh_vendors(hub, max_age) if max_age is not None else set()
    for vendor in wanted:
        if vendor not in available:
            report.skipped.append(vendor)
            continue
        if vendor in fresh:
            continue
        try:
            client = _client(hub, vendor)
        except NotConfigured:
            report.skipped.append(vendor)
            continue
        try:
            for source in sources:
                report.streams.append(
                    _sync_stream(hub, client, vendor, source, on_page, page_limit)
                )
            _refresh_names(hub, client, vendor)
        finally:
            report.requests += client.requests
            client.close()
    return report


def stale_vendors(hub: Hub, vendors: Sequence[str], max_age: timedelta) -> list[str]:
    """Those of `vendors` whose data is older than `max_age` (or was never synced)."""
    fresh = _fresh_vendors(hub, max_age)
    return [v for v in vendors if v not in fresh]


def _fresh_vendors(hub: Hub, max_age: timedelta) -> set[str]:
    now = hub.clock.now()
    with session_scope(hub.engine) as session:
        states = session.execute(select(AiCostSyncState)).scalars().all()
        per_vendor: dict[str, list[datetime | None]] = {}
        for s in states:
            per_vendor.setdefault(s.vendor, []).append(s.last_success_at)
    return {
        v
        for v, times in per_vendor.items()
        if len(times) == len(SOURCES) and all(t is not None and now - t <= max_age for t in times)
    }


def _window(hub: Hub, state: AiCostSyncState | None) -> tuple[date, date]:
    today = hub.clock.now().astimezone(UTC).date()
    settings = hub.settings
    horizon = today - timedelta(days=settings.ai_costs_backfill_days)
    resync_from = today - timedelta(days=max(settings.ai_costs_resync_days, 0))
    if state is None or state.complete_until is None:
        start = horizon
    else:
        start = max(min(state.complete_until, resync_from), horizon)
    return start, today + timedelta(days=1)


def _sync_stream(
    hub: Hub,
    client: Any,
    vendor: str,
    source: Source,
    on_page: PageHook | None,
    page_limit: int | None,
) -> StreamResult:
    with session_scope(hub.engine) as session:
        state = session.get(AiCostSyncState, (vendor, source))
    start, end = _window(hub, state)
    result = StreamResult(vendor, source, start, end)
    _save_state(hub, vendor, source, attempt=True)
    pages: Iterator[Page[Any]]
    kwargs: dict[str, Any] = {"limit": page_limit} if page_limit else {}
    if source == "cost" and vendor == "anthropic":
        pages = client.money_pages(start, end, **kwargs)
    elif source == "cost":
        pages = client.cost_pages(start, end, **kwargs)
    else:
        pages = client.usage_pages(start, end, **kwargs)
    try:
        for page in pages:
            if page.end <= page.start:
                continue
            written = _store_page(hub, vendor, source, page, client.requests)
            result.pages += 1
            result.rows += written
            result.complete_until = page.end
            if on_page is not None:
                on_page(vendor, source, page)
    except IntegrationError as exc:
        result.error = str(exc)
        log.warning(
            "ai costs sync failed vendor=%s source=%s category=%s error=%s",
            vendor,
            source,
            exc.category,
            exc,
        )
        _save_state(hub, vendor, source, error=str(exc)[:500])
        return result
    _save_state(hub, vendor, source, success=True)
    log.info(
        "ai costs synced vendor=%s source=%s start=%s end=%s pages=%d rows=%d",
        vendor,
        source,
        start,
        end,
        result.pages,
        result.rows,
    )
    return result


def _save_state(
    hub: Hub,
    vendor: str,
    source: Source,
    *,
    attempt: bool = False,
    success: bool = False,
    error: str | None = None,
) -> None:
    now = hub.clock.now()
    with session_scope(hub.engine) as session:
        state = session.get(AiCostSyncState, (vendor, source)) or AiCostSyncState(
            vendor=vendor, source=source
        )
        if attempt:
            state.last_attempt_at = now
        if success:
            state.last_success_at = now
            state.last_error = None
        if error is not None:
            state.last_error = error
        session.add(state)


def _row(vendor: str, source: Source, line: CostLine | UsageLine, now: datetime) -> dict[str, Any]:
    """The stored row of a line: money from a cost line, tokens from a usage line."""
    row: dict[str, Any] = {
        "vendor": vendor,
        "source": source,
        "day": line.day,
        "project_id": line.project_id[:128],
        "api_key_id": line.api_key_id[:128],
        "item": line.model[:255],
        "model": line.model[:128],
        "cost_usd": Decimal(0),
        "input_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": 0,
        "requests": 0,
        "raw": json.dumps(line.raw, separators=(",", ":"), sort_keys=True, default=str),
        "synced_at": now,
    }
    if isinstance(line, CostLine):
        row.update(item=line.item[:255], cost_usd=line.amount_usd)
    else:
        row.update(
            input_tokens=line.input_tokens,
            cache_read_tokens=line.cache_read_tokens,
            cache_write_tokens=line.cache_write_tokens,
            output_tokens=line.output_tokens,
            requests=line.requests,
        )
    return row


def _merge(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the same natural key (possible when a vendor splits a group) are summed."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in _KEY)
        prev = merged.get(key)
        if prev is None:
            merged[key] = row
            continue
        for name in (
            "cost_usd",
            "input_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "output_tokens",
            "requests",
        ):
            prev[name] = prev[name] + row[name]
        prev["raw"] = f"[{prev['raw'].strip('[]')},{row['raw']}]"
    return list(merged.values())


def upsert_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT (natural key) DO UPDATE, on SQLite and PostgreSQL alike."""
    if not rows:
        return
    table = AiCostDaily.__table__  # type: ignore[attr-defined]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        insert_fn: Any = pg_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert_fn = sqlite_insert
    stmt = insert_fn(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in (*_KEY, "id")}
    stmt = stmt.on_conflict_do_update(index_elements=list(_KEY), set_=updates)
    # executemany with one compiled statement (multi-VALUES compilation costs far more)
    for i in range(0, len(rows), UPSERT_BATCH * 10):
        conn.execute(stmt, rows[i : i + UPSERT_BATCH * 10])


def _store_page(hub: Hub, vendor: str, source: Source, page: Page[Any], requests: int) -> int:
    now = hub.clock.now()
    rows = _merge(_row(vendor, source, line, now) for line in page.lines)
    table = AiCostDaily.__table__  # type: ignore[attr-defined]
    keep = {(r["day"], r["project_id"], r["api_key_id"], r["item"]) for r in rows}
    with hub.engine.begin() as conn:
        existing = conn.execute(
            select(table.c.id, table.c.day, table.c.project_id, table.c.api_key_id, table.c.item)
            .where(table.c.vendor == vendor, table.c.source == source)
            .where(table.c.day >= page.start, table.c.day < page.end)
        ).all()
        stale = [r.id for r in existing if (r.day, r.project_id, r.api_key_id, r.item) not in keep]
        for i in range(0, len(stale), UPSERT_BATCH):
            conn.execute(delete(table).where(table.c.id.in_(stale[i : i + UPSERT_BATCH])))
        upsert_rows(conn, rows)
        state_table = AiCostSyncState.__table__  # type: ignore[attr-defined]
        current = conn.execute(
            select(state_table.c.complete_until).where(
                tuple_(state_table.c.vendor, state_table.c.source) == (vendor, source)
            )
        ).scalar_one_or_none()
        new_until = max(current, page.end) if current else page.end
        conn.execute(
            state_table.update()
            .where(state_table.c.vendor == vendor, state_table.c.source == source)
            .values(complete_until=new_until, requests=state_table.c.requests + 1)
        )
    return len(rows)


def _refresh_names(hub: Hub, client: Any, vendor: str) -> None:
    """Project/workspace and key names, at most once a day; failures only cost the names."""
    now = hub.clock.now()
    with session_scope(hub.engine) as session:
        newest = session.execute(
            select(AiNameCache.updated_at)  # type: ignore[call-overload]
            .where(AiNameCache.vendor == vendor)
            .order_by(AiNameCache.updated_at.desc())  # type: ignore[attr-defined]
            .limit(1)
        ).scalar_one_or_none()
    if newest is not None and now - newest < NAMES_MAX_AGE:
        return
    names: list[tuple[str, str, str]] = []
    try:
        if vendor == "openai":
            for pid, pname in client.projects():
                names.append(("project", pid, pname))
                names += [("api_key", kid, kname) for kid, kname in client.project_keys(pid)]
        else:
            names += [("project", wid, wname) for wid, wname in client.workspaces()]
            names += [("api_key", kid, kname) for kid, kname in client.api_keys()]
    except IntegrationError as exc:
        log.warning("ai costs names not refreshed vendor=%s error=%s", vendor, exc)
        return
    with session_scope(hub.engine) as session:
        for kind, ref, name in names:
            session.merge(
                AiNameCache(vendor=vendor, kind=kind, ref_id=ref, name=name[:255], updated_at=now)
            )


def names(hub: Hub) -> dict[tuple[str, str, str], str]:
    """(vendor, kind, id) -> human name."""
    with session_scope(hub.engine) as session:
        rows = session.execute(select(AiNameCache)).scalars().all()
        return {(r.vendor, r.kind, r.ref_id): r.name for r in rows}


def sync_state(hub: Hub) -> list[AiCostSyncState]:
    with session_scope(hub.engine) as session:
        return list(session.execute(select(AiCostSyncState)).scalars().all())
