from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.assistant.models import AssistantConversation, AssistantMessage
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


def _conversation(hub: Hub, thread_ts: str, idle_days: int) -> int:
    from bot.assistant.conversations import ConversationStore

    store = ConversationStore(hub)
    conversation = store.load("D1", thread_ts, "U1")
    store.save_turn(
        conversation,
        [
            {"role": "user", "content": [{"type": "text", "text": "quantos pedidos?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "12"}]},
        ],
    )
    with session_scope(hub.engine) as session:
        row = session.get(AssistantConversation, conversation.id)
        assert row is not None
        row.updated_at = hub.clock.now() - timedelta(days=idle_days)
        session.add(row)
    return conversation.id


def test_retention_job_deletes_idle_assistant_conversations_with_their_messages(
    hub: Hub,
) -> None:
    old = _conversation(hub, "1.0", idle_days=91)
    recent = _conversation(hub, "2.0", idle_days=89)

    result = HubScheduler(hub).run_now("maintenance.retention")

    assert result.outcome == "ok"
    with session_scope(hub.engine) as session:
        conversations = session.exec(select(AssistantConversation.id)).all()
        messages = session.exec(select(AssistantMessage.conversation_id)).all()
    assert conversations == [recent]
    assert set(messages) == {recent} and len(messages) == 2
    assert old not in messages


def test_assistant_retention_zero_keeps_conversations(hub: Hub) -> None:
    hub.settings.assistant_retention_days = 0
    kept = _conversation(hub, "3.0", idle_days=4000)

    assert HubScheduler(hub).run_now("maintenance.retention").outcome == "ok"
    with session_scope(hub.engine) as session:
        assert session.exec(select(AssistantConversation.id)).all() == [kept]


def test_retention_keeps_an_idle_conversation_being_answered_right_now(hub: Hub) -> None:
    from bot.assistant.lease import ThreadLease

    answering = _conversation(hub, "4.0", idle_days=91)
    _conversation(hub, "5.0", idle_days=91)  # its turn's instance crashed: the lease expires
    for thread_ts, owner in (("4.0", "turn-now"), ("5.0", "turn-dead")):
        assert ThreadLease(hub.engine, hub.clock, "D1", thread_ts, owner, 120).try_claim()
    hub.clock.advance(121)  # type: ignore[attr-defined]
    assert ThreadLease(hub.engine, hub.clock, "D1", "4.0", "turn-now", 120).renew()

    assert HubScheduler(hub).run_now("maintenance.retention").outcome == "ok"
    with session_scope(hub.engine) as session:
        assert session.exec(select(AssistantConversation.id)).all() == [answering]
