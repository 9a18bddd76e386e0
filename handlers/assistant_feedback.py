"""👍/👎 buttons under the assistant's answers: each click is recorded (latest vote wins).

`register(app)` adds the Bolt action listener to the hub's app (`bot.app.HubApp`, which carries
`app.hub`); `record_feedback` is the testable core.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.assistant.models import AssistantFeedback
from bot.assistant.reply import FEEDBACK_DOWN, FEEDBACK_UP
from bot.db import session_scope

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)

ACTION_PATTERN = re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$")
THANKS = {
    "up": "Obrigado! Registrei que a resposta ajudou. 👍",
    "down": (
        "Obrigado pelo retorno! Registrei que a resposta não ajudou. Se quiser, responda na "
        "thread dizendo o que faltou. 👎"
    ),
}


def record_feedback(
    hub: Hub,
    *,
    channel_id: str,
    message_ts: str,
    user_id: str,
    value: str,
    request_ref: str | None = None,
) -> AssistantFeedback:
    """Store (or replace) this user's vote on this answer."""
    if value not in ("up", "down"):
        raise ValueError(f"feedback must be 'up' or 'down', not {value!r}")
    now = hub.clock.now()
    for _ in range(2):
        try:
            with session_scope(hub.engine) as session:
                row = session.exec(
                    select(AssistantFeedback).where(
                        AssistantFeedback.channel_id == channel_id,
                        AssistantFeedback.message_ts == message_ts,
                        AssistantFeedback.user_id == user_id,
                    )
                ).first()
                if row is None:
                    row = AssistantFeedback(
                        channel_id=channel_id,
                        message_ts=message_ts,
                        user_id=user_id,
                        request_ref=request_ref,
                        value=value,
                        created_at=now,
                    )
                else:
                    row.value = value
                    row.created_at = now
                session.add(row)
            return row
        except IntegrityError:  # a concurrent first click by the same user: update instead
            continue
    raise RuntimeError("could not record feedback")  # pragma: no cover


def handle_click(hub: Hub, body: dict[str, Any], client: Any) -> str:
    """Record a button click from an interaction payload and thank the user (ephemeral)."""
    action = body["actions"][0]
    value = "up" if action["action_id"] == FEEDBACK_UP else "down"
    channel_id = body["channel"]["id"]
    message = body.get("message") or body.get("container") or {}
    message_ts = str(message.get("ts") or message.get("message_ts") or "")
    user_id = body["user"]["id"]
    record_feedback(
        hub,
        channel_id=channel_id,
        message_ts=message_ts,
        user_id=user_id,
        value=value,
        request_ref=action.get("value"),
    )
    log.info("assistant feedback value=%s ref=%s", value, action.get("value"))
    thread_ts = message.get("thread_ts")
    kwargs: dict[str, Any] = {"channel": channel_id, "user": user_id, "text": THANKS[value]}
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    client.chat_postEphemeral(**kwargs)
    return value


def register(app: Any) -> None:
    """Add the feedback listener to the Bolt app (a `HubApp`: `app.hub` is the hub)."""

    @app.action(ACTION_PATTERN)
    def _feedback(ack: Any, body: dict[str, Any], client: Any) -> None:
        ack()
        try:
            handle_click(app.hub, body, client)
        except Exception:
            log.exception("assistant feedback could not be recorded")
