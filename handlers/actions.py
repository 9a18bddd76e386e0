"""Confirm / Cancel clicks on confirmation cards (see bot.security.confirmations).

The click is acked at once; the claim, re-validation, execution and the card update run in the
work pool. The card is replaced with the result (`chat.update`, or `replace_original` through
the response_url for an ephemeral card); refusals go only to the clicker. Then the action's
`after_execute` hook, if any, runs with the client (e.g. to update the report it came from).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from bot.security.confirmations import (
    CANCEL_ACTION_ID,
    CONFIRM_ACTION_ID,
    ClickOutcome,
    handle_click,
    run_after_execute,
)
from handlers.commands import describe_failure, new_reference

if TYPE_CHECKING:
    from slack_bolt import Ack
    from slack_sdk import WebClient

    from bot.app import HubApp

log = logging.getLogger(__name__)


def _apply(client: WebClient, body: dict[str, Any], outcome: ClickOutcome) -> None:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    user = (body.get("user") or {}).get("id")
    response_url = body.get("response_url")
    if outcome.card_text is not None:
        if container.get("is_ephemeral") and response_url:
            from slack_sdk.webhook import WebhookClient

            WebhookClient(response_url).send(
                text=outcome.card_text, blocks=outcome.card_blocks, replace_original=True
            )
        elif channel and container.get("message_ts"):
            client.chat_update(
                channel=channel,
                ts=container["message_ts"],
                text=outcome.card_text,
                blocks=outcome.card_blocks,
            )
    if outcome.ephemeral and channel and user:
        client.chat_postEphemeral(channel=channel, user=user, text=outcome.ephemeral)


def process_click(
    app: HubApp,
    client: WebClient,
    body: dict[str, Any],
    decision: Literal["confirm", "cancel"],
) -> None:
    user = str((body.get("user") or {}).get("id", ""))
    actions = body.get("actions") or [{}]
    action_id = str(actions[0].get("value", ""))
    outcome: ClickOutcome | None = None
    try:
        outcome = handle_click(
            app.hub, action_id, clicker=user, role=app.role_of(user), decision=decision
        )
        _apply(client, body, outcome)
    except Exception as exc:
        ref = new_reference()
        log.exception("confirmation click failed ref=%s action=%s user=%s", ref, action_id, user)
        channel = (body.get("container") or {}).get("channel_id")
        if channel and user:
            try:
                client.chat_postEphemeral(
                    channel=channel,
                    user=user,
                    text=describe_failure(exc, "processar o clique", ref),
                )
            except Exception:
                log.exception("could not report a click failure ref=%s", ref)
    if outcome is not None:
        # Even when the card could not be replaced: the action ran, its origin is stale.
        run_after_execute(app.hub, client, outcome)


def _submit(
    app: HubApp, client: WebClient, body: dict[str, Any], decision: Literal["confirm", "cancel"]
) -> None:
    if app.submit_work(process_click, app, client, body, decision):
        return
    # The pool is full: nothing was claimed, so the person can simply click again later.
    channel = (body.get("container") or {}).get("channel_id")
    user = (body.get("user") or {}).get("id")
    if channel and user:
        from handlers.commands import BUSY_TEXT

        client.chat_postEphemeral(channel=channel, user=user, text=BUSY_TEXT)


def register(app: HubApp) -> None:
    @app.action(CONFIRM_ACTION_ID)
    def confirm(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _submit(app, client, body, "confirm")

    @app.action(CANCEL_ACTION_ID)
    def cancel(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _submit(app, client, body, "cancel")
