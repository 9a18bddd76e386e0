"""The App Home: the Home tab (status, open alerts, quick actions) and the Messages tab prompts.

`app_home_opened` with tab=home publishes the view (views.publish); tab=messages sets the
suggested prompts of the bot's DM (assistant.threads.setSuggestedPrompts, no thread_ts).
Quick-action buttons run a `/hub` subcommand and answer in the person's DM.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.security.roles import Role
from handlers.registry import SUBCOMMANDS

if TYPE_CHECKING:
    from slack_bolt import Ack
    from slack_sdk import WebClient

    from bot.app import HubApp
    from bot.hub import Hub

log = logging.getLogger(__name__)

HOME_ACTION_ID = "home.run"
QUICK_ACTIONS = (
    ("Ajuda", "help"),
    ("Status", "status"),
    ("Custos de IA", "custos"),
    ("Alertas", "alerts"),
    ("Duplicados", "duplicados"),
)
SUGGESTED_PROMPTS = [
    {"title": "Gastos com IA", "message": "Quanto gastamos com OpenAI e Anthropic esta semana?"},
    {"title": "Pedidos duplicados", "message": "Tem pedido duplicado nas lojas hoje?"},
    {"title": "Status", "message": "Alguma integração está com problema agora?"},
    {"title": "Como usar", "message": "O que você consegue fazer por mim?"},
]


def _open_alerts(hub: Hub) -> list[str] | None:
    """One line per open incident, or None when they could not be read."""
    from jobs.alerts import SEVERITY_PT, open_incidents

    try:
        incidents = open_incidents(hub)
    except Exception:
        log.exception("open_incidents failed; Home tab shows no alerts")
        return None
    tz = hub.settings.tz
    return [
        f"*{incident.title}* ({SEVERITY_PT.get(incident.severity, incident.severity)}, "
        f"desde {incident.opened_at.astimezone(tz).strftime('%d/%m %H:%M')})"
        for incident in incidents
    ]


def home_view(hub: Hub, user_id: str, role: Role) -> dict[str, Any]:
    from handlers.status import STATUS_LABELS, health_rows

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Chegou Hub"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"Olá, <@{user_id}>! Seu papel: *{role.label}*. Use `/hub help` para ver "
                "os comandos ou me escreva na aba *Mensagens*.",
            },
        },
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "Integrações"}},
    ]
    rows = health_rows(hub)
    if rows:
        lines = []
        for row in rows:
            emoji, label = STATUS_LABELS.get(row.status, (":grey_question:", row.status))
            lines.append(f"{emoji} *{row.display_name}* — {label}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    else:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "Nenhuma integração ainda."}}
        )
    blocks.append({"type": "header", "text": {"type": "plain_text", "text": "Alertas abertos"}})
    alerts = _open_alerts(hub)
    if alerts is None:
        alert_text = "_Não consegui ler os alertas agora; tente `/hub alerts`._"
    elif not alerts:
        alert_text = ":white_check_mark: Nenhum alerta aberto."
    else:
        alert_text = "\n".join(f":rotating_light: {line}" for line in alerts[:20])
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": alert_text[:3000]}})
    buttons = [
        {
            "type": "button",
            "action_id": f"{HOME_ACTION_ID}.{name}",
            "text": {"type": "plain_text", "text": label},
            "value": name,
        }
        for label, name in QUICK_ACTIONS
        if name in SUBCOMMANDS and role >= SUBCOMMANDS[name].min_role
    ]
    if buttons:
        blocks.append({"type": "divider"})
        blocks.append({"type": "actions", "block_id": "home.quick", "elements": buttons})
    return {"type": "home", "blocks": blocks}


def publish_home(app: HubApp, client: WebClient, user_id: str) -> None:
    role = app.role_of(user_id)
    client.views_publish(user_id=user_id, view=home_view(app.hub, user_id, role))


def run_quick_action(app: HubApp, client: WebClient, user_id: str, name: str) -> None:
    from handlers.commands import SlackCommandContext, run_subcommand

    spec = SUBCOMMANDS.get(name)
    if spec is None:
        return
    ctx = SlackCommandContext(
        hub=app.hub,
        client=client,
        user_id=user_id,
        channel_id=user_id,  # posting to a user id lands in the bot's DM with them
        args=[],
        text="",
        role=Role.NONE,
        reply_in_dm=True,
    )
    run_subcommand(ctx, spec, app)


def set_prompts(client: WebClient, channel_id: str) -> None:
    client.assistant_threads_setSuggestedPrompts(
        channel_id=channel_id, title="Experimente perguntar:", prompts=SUGGESTED_PROMPTS
    )


def register(app: HubApp) -> None:
    import re

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        user_id = str(event.get("user", ""))
        tab = event.get("tab")
        if tab == "home":
            app.submit_work(publish_home, app, client, user_id)
        elif tab == "messages" and event.get("channel"):
            app.submit_work(set_prompts, client, str(event["channel"]))

    @app.action(re.compile(rf"^{re.escape(HOME_ACTION_ID)}\."))
    def on_quick_action(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user_id = str((body.get("user") or {}).get("id", ""))
        name = str(((body.get("actions") or [{}])[0]).get("value", ""))
        app.submit_work(run_quick_action, app, client, user_id, name)
