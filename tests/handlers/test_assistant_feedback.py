"""👍/👎 clicks are recorded; the latest vote of a user wins."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.assistant.models import AssistantFeedback
from bot.db import session_scope
from bot.hub import Hub
from handlers.assistant_feedback import handle_click


class _Client:
    def __init__(self) -> None:
        self.ephemerals: list[dict[str, Any]] = []

    def chat_postEphemeral(self, **kwargs: Any) -> None:
        self.ephemerals.append(kwargs)


def _click(action_id: str, user: str) -> dict[str, Any]:
    return {
        "user": {"id": user},
        "channel": {"id": "C1"},
        "message": {"ts": "1800000000.000001", "thread_ts": "1700000000.000100"},
        "actions": [{"action_id": action_id, "value": "ref123"}],
    }


def test_clicks_are_recorded_and_replaced(hub: Hub) -> None:
    client = _Client()
    handle_click(hub, _click("assistant_feedback_up", "U1"), client)
    handle_click(hub, _click("assistant_feedback_down", "U2"), client)
    handle_click(hub, _click("assistant_feedback_down", "U1"), client)  # changed their mind
    with session_scope(hub.engine) as session:
        rows = session.exec(select(AssistantFeedback)).all()
    assert sorted((r.user_id, r.value, r.request_ref) for r in rows) == [
        ("U1", "down", "ref123"),
        ("U2", "down", "ref123"),
    ]
    assert client.ephemerals[0]["user"] == "U1"
    assert client.ephemerals[0]["thread_ts"] == "1700000000.000100"
    assert "ajudou" in client.ephemerals[0]["text"]
