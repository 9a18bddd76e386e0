"""Drive the real Bolt app the way Slack does: signed HTTP payloads in, Web API calls out.

`SlackDriver` builds the app with `bot.app.create_app` against a `SlackSimulator`, then sends
slash commands, events and button clicks as Slack would: the raw body (form-encoded or JSON)
signed with the signing secret (`x-slack-signature`, `x-slack-request-timestamp`) and
dispatched through `App.dispatch(BoltRequest(...))`, the same path the HTTP adapters use, so
signature verification, authorize, middleware, ack and listeners all run for real. What the bot
says is read back from the simulator's records. Used by tests/e2e and by `chegou-hub demo`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pydantic import SecretStr

from bot.sandbox.slack_sim import (
    APP_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    Call,
    SimFile,
    SimMessage,
    SlackSimulator,
    iter_buttons,
)

if TYPE_CHECKING:
    from bot.app import HubApp
    from bot.hub import Hub
    from bot.settings import Settings

DEFAULT_SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
DEFAULT_USER = "U0TESTER01"
DEFAULT_CHANNEL = "C0GENERAL1"
_event_ids = itertools.count(1)


@dataclass
class Sent:
    """What the app answered to one request (the ack)."""

    status: int
    body: str
    headers: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    payload: dict[str, Any] | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ButtonNotFound(LookupError):
    pass


def slack_settings(
    base: Settings, sim: SlackSimulator, signing_secret: str = DEFAULT_SIGNING_SECRET
) -> Settings:
    """`base` plus the Slack credentials/base URL that point at the simulator (HTTP mode)."""
    return base.model_copy(
        update={
            "slack_bot_token": SecretStr(sim.bot_token),
            "slack_signing_secret": SecretStr(signing_secret),
            "slack_app_token": None,
            "slack_base_url": sim.base_url,
        }
    )


class SlackDriver:
    def __init__(
        self,
        app: HubApp,
        sim: SlackSimulator,
        *,
        signing_secret: str = DEFAULT_SIGNING_SECRET,
        wait: bool = True,
    ) -> None:
        self.app = app
        self.sim = sim
        self.signing_secret = signing_secret
        self.auto_wait = wait

    @classmethod
    def build(
        cls,
        hub: Hub,
        sim: SlackSimulator,
        *,
        inline: bool = False,
        signing_secret: str = DEFAULT_SIGNING_SECRET,
        wait: bool = True,
    ) -> SlackDriver:
        from bot.app import create_app
        from bot.slack_client import make_web_client

        settings = slack_settings(hub.settings, sim, signing_secret)
        app = create_app(settings, make_web_client(settings), hub=hub, inline=inline)
        return cls(app, sim, signing_secret=signing_secret, wait=wait)

    @property
    def hub(self) -> Hub:
        return self.app.hub

    def close(self) -> None:
        self.app.wait_idle(10)
        self.app.close()

    # --- the request path ------------------------------------------------------------------
    def send(
        self,
        body: str,
        content_type: str,
        *,
        extra_headers: dict[str, str] | None = None,
        signing_secret: str | None = None,
        timestamp: int | None = None,
    ) -> Sent:
        """Sign `body` and dispatch it through the real Bolt request path."""
        from slack_bolt import BoltRequest
        from slack_sdk.signature import SignatureVerifier

        ts = str(timestamp if timestamp is not None else int(time.time()))
        secret = signing_secret if signing_secret is not None else self.signing_secret
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        headers: dict[str, str | Sequence[str]] = {
            "content-type": content_type,
            "x-slack-request-timestamp": ts,
            "x-slack-signature": signature or "",
            **(extra_headers or {}),
        }
        response = self.app.dispatch(BoltRequest(body=body, headers=headers))
        return Sent(response.status, response.body or "", dict(response.headers))

    def _finish(self, sent: Sent, wait: bool | None) -> Sent:
        if self.auto_wait if wait is None else wait:
            self.wait_idle()
        return sent

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until every listener and background task of the app has finished."""
        if not self.app.wait_idle(timeout):
            raise TimeoutError(f"Slack app still busy after {timeout} s")

    # --- what a person does ------------------------------------------------------------------
    def command(
        self,
        text: str,
        *,
        user: str = DEFAULT_USER,
        channel: str = DEFAULT_CHANNEL,
        command: str = "/hub",
        wait: bool | None = None,
    ) -> Sent:
        self.sim.ensure_user(user)
        form = {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self._channel_name(channel),
            "user_id": user,
            "user_name": self.sim.users[user].name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.sim.response_url(channel, user),
            "trigger_id": self.sim.issue_trigger(),
        }
        sent = self.send(urlencode(form), "application/x-www-form-urlencoded")
        sent.payload = form
        self._record_ack_message(sent, channel, user)
        return self._finish(sent, wait)

    def mention(
        self,
        text: str,
        *,
        user: str = DEFAULT_USER,
        channel: str = DEFAULT_CHANNEL,
        thread_ts: str | None = None,
        wait: bool | None = None,
    ) -> Sent:
        self.sim.ensure_user(user)
        full = f"<@{BOT_USER_ID}> {text}"
        msg = self.sim.post_user_message(channel, user, full, thread_ts)
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": full,
            "ts": msg.ts,
            "channel": channel,
            "event_ts": msg.ts,
            "team": TEAM_ID,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, wait=wait)

    def dm(self, text: str, *, user: str = DEFAULT_USER, wait: bool | None = None) -> Sent:
        channel = self.sim.im_channel(user)
        msg = self.sim.post_user_message(channel, user, text)
        event = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": msg.ts,
            "channel": channel,
            "event_ts": msg.ts,
            "team": TEAM_ID,
        }
        return self.event(event, wait=wait)

    def open_home(
        self, *, user: str = DEFAULT_USER, tab: str = "home", wait: bool | None = None
    ) -> Sent:
        self.sim.ensure_user(user)
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.sim.im_channel(user),
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        }
        return self.event(event, wait=wait)

    def event(
        self,
        payload: dict[str, Any],
        *,
        retry_num: int | None = None,
        wait: bool | None = None,
    ) -> Sent:
        """Send an event; `payload` is an inner event or a full `event_callback` envelope.

        Re-sending a returned `Sent.payload` with `retry_num=1` is what Slack does when it
        thinks the first delivery was not acknowledged.
        """
        if payload.get("type") == "event_callback":
            envelope = payload
        else:
            envelope = {
                "token": "deprecated-verification-token",
                "team_id": TEAM_ID,
                "api_app_id": APP_ID,
                "event": payload,
                "type": "event_callback",
                "event_id": f"Ev{next(_event_ids):010d}",
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "enterprise_id": None,
                        "team_id": TEAM_ID,
                        "user_id": BOT_USER_ID,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": False,
            }
        headers = {}
        if retry_num is not None:
            headers = {"x-slack-retry-num": str(retry_num), "x-slack-retry-reason": "http_timeout"}
        sent = self.send(json.dumps(envelope), "application/json", extra_headers=headers)
        sent.event_id = envelope["event_id"]
        sent.payload = envelope
        return self._finish(sent, wait)

    def click(
        self,
        target: str,
        *,
        user: str = DEFAULT_USER,
        message: SimMessage | None = None,
        wait: bool | None = None,
    ) -> Sent:
        """Click the newest button whose text or action_id is `target` (a confirm dialog, if
        the button has one, is accepted: that is what reaching Slack's servers means)."""
        self.sim.ensure_user(user)
        found = self.find_button(target, user=user, message=message)
        source, element, block_id = found
        action = {
            "action_id": element["action_id"],
            "block_id": block_id,
            "text": element["text"],
            "value": element.get("value", ""),
            "type": "button",
            "action_ts": f"{time.time():.6f}",
        }
        if "style" in element:
            action["style"] = element["style"]
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": self.sim.users[user].name, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "deprecated-verification-token",
            "trigger_id": self.sim.issue_trigger(),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
        }
        if isinstance(source, SimMessage):
            payload["container"] = {
                "type": "message",
                "message_ts": source.ts,
                "channel_id": source.channel,
                "is_ephemeral": source.kind == "ephemeral",
            }
            payload["channel"] = {"id": source.channel, "name": self._channel_name(source.channel)}
            payload["message"] = source.to_api()
            payload["response_url"] = self.sim.response_url(
                source.channel, user, source.ts if source.kind == "message" else None
            )
        else:
            payload["container"] = {"type": "view", "view_id": source.get("id")}
            payload["view"] = source
        sent = self.send(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )
        sent.payload = payload
        return self._finish(sent, wait)

    def find_button(
        self, target: str, *, user: str = DEFAULT_USER, message: SimMessage | None = None
    ) -> tuple[SimMessage | dict[str, Any], dict[str, Any], str]:
        candidates: list[SimMessage | dict[str, Any]]
        if message is not None:
            candidates = [message]
        else:
            visible = [
                m
                for m in self.sim.all_messages()
                if m.kind == "message" or (m.kind == "ephemeral" and m.to_user == user)
            ]
            candidates = list(reversed(visible))
            view = self.sim.views.get(user)
            if view is not None:
                candidates.append(view)
        for source in candidates:
            blocks = source.blocks if isinstance(source, SimMessage) else source.get("blocks")
            for block_id, element in iter_buttons(blocks):
                label = str((element.get("text") or {}).get("text", ""))
                if target in (label, element.get("action_id")):
                    return source, element, block_id
        raise ButtonNotFound(f"no button {target!r} visible to {user}")

    # --- what the bot said -------------------------------------------------------------------
    def messages(self, channel: str | None = None) -> list[SimMessage]:
        return self.sim.messages(channel)

    def ephemerals(self, user: str | None = None) -> list[SimMessage]:
        return self.sim.ephemerals(user)

    def last_text(self) -> str:
        """Text of the newest bot message or ephemeral (a card's current text if updated)."""
        bot = [m for m in self.sim.all_messages() if m.user == BOT_USER_ID]
        if not bot:
            raise LookupError("the bot has not said anything yet")
        return bot[-1].text

    def calls(self, method: str | None = None) -> list[Call]:
        return self.sim.calls(method)

    def uploads(self) -> list[SimFile]:
        return self.sim.uploads()

    # --- internals -----------------------------------------------------------------------------
    def _channel_name(self, channel: str) -> str:
        known = self.sim.channels.get(channel)
        if known is None:
            return "privategroup" if channel.startswith("G") else channel.lower()
        return "directmessage" if known.is_im else known.name

    def _record_ack_message(self, sent: Sent, channel: str, user: str) -> None:
        """An ack() with text shows up as an ephemeral message, as in Slack."""
        if sent.status != 200 or not sent.body:
            return
        try:
            body = json.loads(sent.body)
        except json.JSONDecodeError:
            self.sim.record_ephemeral(channel, user, sent.body)
            return
        if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            self.sim.record_ephemeral(channel, user, str(body.get("text", "")), body.get("blocks"))
