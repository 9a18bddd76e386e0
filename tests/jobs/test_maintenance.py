from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.db import session_scope
from bot.hub import Hub
from bot.security.models import SlackEventReceipt
from integrations.runtime.models import ApiCall
from jobs.scheduler import HubScheduler


def test_retention_job_prunes_only_old_call_records_and_event_receipts(hub: Hub) -> None:
    now = hub.clock.now()
    with session_scope(hub.engine) as session:
        for age_days in (40, 1):
            session.add(
                ApiCall(
                    integration="shopify",
                    operation="orders.page",
                    started_at=now - timedelta(days=age_days),
                    latency_ms=10.0,
                    ok=True,
                )
            )
        for age_days, event_id in ((8, "Ev_old"), (0, "Ev_new")):
            session.add(
                SlackEventReceipt(
                    key=event_id,
                    event_type="app_mention",
                    received_at=now - timedelta(days=age_days),
                )
            )

    result = HubScheduler(hub).run_now("maintenance.retention")

    assert result.outcome == "ok"
    with session_scope(hub.engine) as session:
        calls = session.exec(select(ApiCall)).all()
        receipts = session.exec(select(SlackEventReceipt)).all()
    assert [c.started_at for c in calls] == [now - timedelta(days=1)]
    assert [r.key for r in receipts] == ["Ev_new"]
