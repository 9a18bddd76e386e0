"""`/hub <sub>`: the router, the Slack `CommandContext`, failure reporting and `/hub help`.

The listener only parses the text and acks (an unknown subcommand is answered in the ack
itself, since that needs nothing slow); everything else runs in the work pool after the ack:
role check, the handler, and the reply through the command's `response_url` (falling back to
`chat.postEphemeral`). Every failure reaches the user in pt-BR with a reference id that is
also in the log; `UsageError` becomes its message plus the subcommand's usage. An
`IntegrationError` is an expected upstream failure: its category's message
(`integrations.runtime.errors.user_message`) and a WARNING without traceback; anything else is
logged at ERROR with its traceback.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.notify import SlackNotifier
from bot.security.confirmations import Origin, Refused
from bot.security.roles import Role
from handlers.registry import SUBCOMMANDS, Subcommand, UsageError, subcommand
from integrations.runtime.errors import IntegrationError, NotConfigured, user_message

if TYPE_CHECKING:
    from slack_bolt import Ack
    from slack_sdk import WebClient

    from bot.app import HubApp
    from bot.hub import Hub
    from handlers.registry import CommandContext

log = logging.getLogger(__name__)

COMMAND = "/hub"
BUSY_TEXT = (
    "O Chegou Hub está com muitos pedidos na fila agora. Tente de novo em um minuto, por favor."
)


def new_reference() -> str:
    return "REF-" + secrets.token_hex(4).upper()


def describe_failure(exc: BaseException, what: str, ref: str) -> str:
    """The pt-BR text a person sees when `what` failed (never a trace)."""
    tail = f"\nReferência: `{ref}` (informe-a a um administrador se o problema continuar)."
    if isinstance(exc, NotConfigured):
        return f"{exc}{tail}"
    if isinstance(exc, IntegrationError):
        return f"Não consegui {what}: {user_message(exc)}{tail}"
    slack_error = slack_error_code(exc)
    if slack_error == "not_in_channel":
        return (
            f"Não consegui {what}: não estou neste canal. Me convide com "
            f"`/invite @Chegou Hub` e tente de novo.{tail}"
        )
    if slack_error == "ratelimited":
        return (
            f"Não consegui {what}: o Slack pediu para esperarmos (limite de mensagens). "
            f"Tente de novo em um minuto.{tail}"
        )
    if slack_error in ("invalid_auth", "token_revoked", "account_inactive", "not_authed"):
        return (
            f"Não consegui {what}: o Slack recusou o token do Chegou Hub. Um administrador "
            f"precisa conferir `SLACK_BOT_TOKEN` (veja docs/slack-setup.md).{tail}"
        )
    if slack_error == "channel_not_found":
        return f"Não consegui {what}: não encontrei o canal (ele existe e é acessível?).{tail}"
    return f"Algo deu errado ao {what}. Tente de novo em alguns minutos.{tail}"


def slack_error_code(exc: BaseException) -> str | None:
    """Slack's error code of a failed Web API call (e.g. `message_not_found`), else None."""
    response = getattr(exc, "response", None)
    if response is None or exc.__class__.__name__ != "SlackApiError":
        return None
    try:
        return str(response.get("error"))
    except Exception:
        return None


@dataclass
class SlackCommandContext:
    """`CommandContext` for a slash command (also used by Home-tab quick actions)."""

    hub: Hub
    client: WebClient
    user_id: str
    channel_id: str
    args: list[str]
    text: str
    role: Role
    trigger_id: str | None = None
    response_url: str | None = None
    command: str = COMMAND
    thread_ts: str | None = None
    # Home-tab quick actions have no channel to be ephemeral in: replies go to the DM.
    reply_in_dm: bool = False
    replies: list[str] = field(default_factory=list)

    def reply(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self.replies.append(text)
        if self.reply_in_dm:
            self.client.chat_postMessage(channel=self.user_id, text=text, blocks=blocks)
            return
        if self.response_url and self._respond(text, blocks):
            return
        try:
            self.client.chat_postEphemeral(
                channel=self.channel_id, user=self.user_id, text=text, blocks=blocks
            )
        except Exception as exc:
            if slack_error_code(exc) not in ("not_in_channel", "channel_not_found"):
                raise
            # Not a member of the channel: a DM still reaches the person.
            self.client.chat_postMessage(channel=self.user_id, text=text, blocks=blocks)

    def _respond(self, text: str, blocks: list[dict[str, Any]] | None) -> bool:
        from slack_sdk.webhook import WebhookClient

        assert self.response_url is not None
        try:
            response = WebhookClient(self.response_url, timeout=10).send(
                text=text, blocks=blocks, response_type="ephemeral"
            )
        except Exception as exc:
            log.warning("response_url failed, using chat.postEphemeral error=%r", exc)
            return False
        if response.status_code != 200:
            log.info(
                "response_url refused status=%s; using chat.postEphemeral", response.status_code
            )
            # response_url allows 5 uses in 30 min; later replies go through the Web API.
            self.response_url = None
            return False
        return True

    def post(
        self, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None
    ) -> str | None:
        return SlackNotifier(self.client).post(self.channel_id, text, blocks, thread_ts)

    def upload(
        self,
        filename: str,
        content: bytes,
        *,
        title: str | None = None,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        SlackNotifier(self.client).upload(
            self.channel_id, filename, content, title=title, comment=comment, thread_ts=thread_ts
        )

    def propose(self, kind: str, args: dict[str, Any], *, origin: Origin | None = None) -> None:
        from bot.security.confirmations import post_proposal

        post_proposal(
            self.hub,
            self.client,
            kind,
            args,
            requester=self.user_id,
            channel=self.channel_id,
            thread_ts=self.thread_ts,
            role=self.role,
            origin=origin,
        )


def parse(text: str) -> tuple[str, list[str], str]:
    """`"custos 7d openai"` → ("custos", ["7d", "openai"], "7d openai")."""
    stripped = (text or "").strip()
    if not stripped:
        return "help", [], ""
    name, _, rest = stripped.partition(" ")
    rest = rest.strip()
    return name.lower(), rest.split(), rest


def usage_text(spec: Subcommand) -> str:
    return f"Uso: `{spec.usage}`"


def unknown_text(name: str) -> str:
    from difflib import get_close_matches

    close = get_close_matches(name, sorted(SUBCOMMANDS), n=1)
    hint = f" Você quis dizer `/hub {close[0]}`?" if close else ""
    return (
        f"Não conheço o comando `/hub {name}`.{hint} "
        "Use `/hub help` para ver todos os comandos disponíveis."
    )


def run_subcommand(ctx: SlackCommandContext, spec: Subcommand, app: HubApp | None = None) -> None:
    """Run one subcommand with the role check and every failure turned into a reply."""
    what = f"executar `/hub {spec.name}`"
    try:
        if app is not None:
            ctx.role = app.role_of(ctx.user_id)
        if ctx.role < spec.min_role:
            ctx.reply(
                f"Você não tem permissão para `/hub {spec.name}`: é preciso ser "
                f"*{spec.min_role.label}* (seu papel: {ctx.role.label}). Peça acesso a um "
                "administrador do Chegou Hub."
            )
            return
        spec.handler(ctx)
    except UsageError as exc:
        _safe_reply(ctx, f"{exc}\n{usage_text(spec)}")
    except Refused as exc:
        _safe_reply(ctx, str(exc))
    except IntegrationError as exc:
        # An expected upstream failure (already recorded by the runtime): no traceback.
        ref = new_reference()
        log.warning(
            "command failed upstream ref=%s command=%s user=%s channel=%s integration=%s "
            "operation=%s category=%s status=%s error=%s",
            ref,
            spec.name,
            ctx.user_id,
            ctx.channel_id,
            exc.integration,
            exc.operation,
            exc.category,
            exc.status_code,
            exc,
        )
        _safe_reply(ctx, describe_failure(exc, what, ref))
    except Exception as exc:
        ref = new_reference()
        log.exception(
            "command failed ref=%s command=%s user=%s channel=%s",
            ref,
            spec.name,
            ctx.user_id,
            ctx.channel_id,
        )
        _safe_reply(ctx, describe_failure(exc, what, ref))


def _safe_reply(ctx: SlackCommandContext, text: str) -> None:
    try:
        ctx.reply(text)
    except Exception:
        log.exception("could not deliver a reply user=%s channel=%s", ctx.user_id, ctx.channel_id)


def register(app: HubApp) -> None:
    @app.command(COMMAND)
    def hub_command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        name, args, rest = parse(str(body.get("text", "")))
        spec = SUBCOMMANDS.get(name)
        if spec is None:
            ack(response_type="ephemeral", text=unknown_text(name))
            return
        ctx = SlackCommandContext(
            hub=app.hub,
            client=client,
            user_id=str(body.get("user_id", "")),
            channel_id=str(body.get("channel_id", "")),
            args=args,
            text=rest,
            role=Role.NONE,
            trigger_id=body.get("trigger_id"),
            response_url=body.get("response_url"),
        )
        # Nothing slow before the ack: the work pool takes it from here.
        ack()
        if not app.submit_work(run_subcommand, ctx, spec, app):
            _safe_reply(ctx, BUSY_TEXT)


# --- /hub help ----------------------------------------------------------------------------------
def help_blocks(role: Role) -> tuple[str, list[dict[str, Any]]]:
    seen: set[str] = set()
    lines: list[str] = []
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Comandos do Chegou Hub"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Seu papel: *{role.label}*. Você também pode me mencionar "
                    "(`@Chegou Hub`) ou escrever no meu DM com uma pergunta em português.",
                }
            ],
        },
    ]
    specs = sorted({s.name: s for s in SUBCOMMANDS.values()}.values(), key=lambda s: s.name)
    for spec in specs:
        if spec.name in seen:
            continue
        seen.add(spec.name)
        parts = [f"*`/hub {spec.name}`* — {spec.summary}", f"Uso: `{spec.usage}`"]
        if spec.aliases:
            parts.append("Também: " + ", ".join(f"`{a}`" for a in spec.aliases))
        for detail in spec.details:
            parts.append(f"• `{detail}`")
        if spec.examples:
            parts.append("Exemplos: " + " · ".join(f"`{e}`" for e in spec.examples))
        if spec.min_role > Role.VIEWER:
            lock = "" if role >= spec.min_role else " (você não tem acesso)"
            parts.append(f"_Requer papel {spec.min_role.label}{lock}_")
        section = "\n".join(parts)
        lines.append(section)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section[:2900]}})
    text = "Comandos do Chegou Hub:\n\n" + "\n\n".join(lines)
    if len(blocks) > 50:
        blocks = [*blocks[:49], _more_block(len(blocks) - 49)]
    return text, blocks


def _more_block(count: int) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"… e mais {count} comandos."}],
    }


@subcommand(
    "help",
    usage="/hub help",
    summary="Lista todos os comandos com exemplos",
    examples=["/hub help", "/hub ajuda"],
    aliases=("ajuda",),
)
def help_command(ctx: CommandContext) -> None:
    text, blocks = help_blocks(ctx.role)
    ctx.reply(text, blocks)
