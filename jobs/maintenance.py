"""Retention: tables that only matter for a while are pruned daily, so they never grow unbounded.

- `api_calls`: health reads the last 24 h; a month is kept for investigations.
- Slack event receipts: Slack retries within minutes; a week is plenty for de-duplication.
"""

from __future__ import annotations

from datetime import timedelta

from jobs.registry import JobContext, JobOutcome, scheduled

API_CALLS_RETENTION = timedelta(days=30)
EVENT_RECEIPTS_RETENTION = timedelta(days=7)


@scheduled(
    "maintenance.retention",
    priority="low",
    cron={"hour": 3, "minute": 30},
    description="Apaga registros antigos de chamadas e de eventos do Slack",
)
def prune_old_records(ctx: JobContext) -> JobOutcome:
    from handlers.events import prune_event_receipts
    from integrations.runtime.recorder import prune_api_calls

    hub = ctx.hub
    now = hub.clock.now()
    hub.runtime.flush()
    calls = prune_api_calls(hub.engine, before=now - API_CALLS_RETENTION)
    receipts = prune_event_receipts(hub, now - EVENT_RECEIPTS_RETENTION)
    return JobOutcome(
        items=calls + receipts,
        summary=f"{calls} chamadas e {receipts} eventos antigos apagados",
    )
