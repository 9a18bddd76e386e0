"""Retention: tables that only matter for a while are pruned daily, so they never grow unbounded.

- `api_calls`: health reads the last 24 h; a month is kept for investigations.
- Slack event receipts: Slack retries within minutes; a week is plenty for de-duplication.
- Assistant conversations idle for `ASSISTANT_RETENTION_DAYS` (90 by default), with their
  messages; usage, requests and feedback stay (cost reports and audits read them).
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
    description="Apaga registros antigos de chamadas, eventos do Slack e conversas paradas",
)
def prune_old_records(ctx: JobContext) -> JobOutcome:
    from bot.assistant.conversations import prune_conversations
    from handlers.events import prune_event_receipts
    from integrations.runtime.recorder import prune_api_calls

    hub = ctx.hub
    now = hub.clock.now()
    hub.runtime.flush()
    calls = prune_api_calls(hub.engine, before=now - API_CALLS_RETENTION)
    receipts = prune_event_receipts(hub, now - EVENT_RECEIPTS_RETENTION)
    days = hub.settings.assistant_retention_days
    conversations = prune_conversations(hub, now - timedelta(days=days)) if days else 0
    return JobOutcome(
        items=calls + receipts + conversations,
        summary=(
            f"{calls} chamadas, {receipts} eventos e {conversations} conversas antigas apagados"
        ),
    )
