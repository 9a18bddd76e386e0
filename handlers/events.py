"""Mentions and DMs → `bot.assistant.answer`, each handled once.

De-duplication is a unique-row insert in `slack_event_receipts`, so it survives restarts and is
shared by every instance using the database:
- the envelope `event_id` (a retried delivery, `x-slack-retry-num` > 0, of a handled event is
  ignored; a retry of an event we never saw is handled);
- the message itself (`msg:<channel>:<ts>`): a mention in a DM arrives both as `app_mention`
  and as `message.im`, and a workspace that also subscribed `message.channels` sends channel
  mentions twice; whichever comes first is answered, the other is dropped.
Channel messages that are not mentions are ignored (we answer channels only via app_mention).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from bot.db import session_scope
from bot.security.models import SlackEventReceipt
from handlers.commands import new_reference

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.app import HubApp
    from bot.hub import Hub

log = logging.getLogger(__name__)

MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
ANSWER_FAILED_TEXT = (
    "Não consegui responder agora por um erro interno. Tente de novo em alguns minutos; "
    "se continuar, informe a referência `{ref}` a um administrador."
)
# Message subtypes that are not a person writing to the bot.
IGNORED_SUBTYPES = frozenset(
    {
        "bot_message",
        "message_changed",
        "message_deleted",
        "channel_join",
        "channel_leave",
        "thread_broadcast",
        "file_share_deleted",
    }
)


def claim_event(hub: Hub, key: str, event_type: str) -> bool:
    """True the first time `key` is seen (by any instance); False for every repeat."""
    try:
        with session_scope(hub.engine) as session:
            session.add(
                SlackEventReceipt(key=key[:160], event_type=event_type, received_at=hub.clock.now())
            )
    except IntegrityError:
        return False
    return True


def strip_mentions(text: str) -> str:
    return " ".join(MENTION.sub(" ", text or "").split())


def _deliver(app: HubApp, client: WebClient, event: dict[str, Any], is_dm: bool) -> None:
    from bot.assistant import IncomingMessage, answer

    ts = str(event.get("ts", ""))
    message = IncomingMessage(
        channel_id=str(event.get("channel", "")),
        user_id=str(event.get("user", "")),
        text=strip_mentions(str(event.get("text", ""))),
        ts=ts,
        thread_ts=str(event.get("thread_ts") or ts),
        is_dm=is_dm,
        team_id=event.get("team"),
    )
    try:
        answer(app.hub, client, message)
    except Exception:
        ref = new_reference()
        log.exception(
            "assistant failed ref=%s channel=%s user=%s", ref, message.channel_id, message.user_id
        )
        try:
            client.chat_postMessage(
                channel=message.channel_id,
                thread_ts=message.thread_ts,
                text=ANSWER_FAILED_TEXT.format(ref=ref),
            )
        except Exception:
            log.exception("could not report an assistant failure ref=%s", ref)


def handle_message_event(app: HubApp, client: WebClient, body: dict[str, Any], is_dm: bool) -> None:
    """Claim the envelope and the message, then answer (runs in the work pool)."""
    event = body.get("event") or {}
    event_id = body.get("event_id")
    if event_id and not claim_event(app.hub, f"event:{event_id}", str(event.get("type"))):
        log.info("duplicate event ignored event_id=%s", event_id)
        return
    channel, ts = event.get("channel"), event.get("ts")
    if channel and ts and not claim_event(app.hub, f"msg:{channel}:{ts}", str(event.get("type"))):
        log.info("message already answered channel=%s ts=%s", channel, ts)
        return
    _deliver(app, client, event, is_dm)


def register(app: HubApp) -> None:
    @app.event("app_mention")
    def on_mention(body: dict[str, Any], client: WebClient) -> None:
        event = body.get("event") or {}
        is_dm = str(event.get("channel_type", "")) == "im" or str(
            event.get("channel", "")
        ).startswith("D")
        app.submit_work(handle_message_event, app, client, body, is_dm)

    @app.event("message")
    def on_message(body: dict[str, Any], client: WebClient) -> None:
        event = body.get("event") or {}
        if event.get("channel_type") != "im":
            return  # channel mentions come through app_mention only
        if event.get("subtype") in IGNORED_SUBTYPES or event.get("bot_id"):
            return
        if not event.get("user") or not str(event.get("text", "")).strip():
            return
        app.submit_work(handle_message_event, app, client, body, True)
