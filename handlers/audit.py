"""`/hub audit [n] [tipo]`: the latest audit log entries (admins only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.security import audit
from bot.security.roles import Role
from handlers.registry import UsageError, subcommand

if TYPE_CHECKING:
    from handlers.registry import CommandContext

EVENT_LABELS = {
    "requested": "pediu",
    "refused": "foi recusado em",
    "confirmed": "confirmou",
    "cancelled": "cancelou",
    "expired": "encontrou expirada",
    "invalid": "encontrou inválida",
    "executed": "executou",
    "failed": "falhou ao executar",
}
MAX_ENTRIES = 50


@subcommand(
    "audit",
    usage="/hub audit [quantidade] [tipo de ação]",
    summary="Últimos registros de auditoria (pedidos, confirmações, execuções, falhas)",
    examples=["/hub audit", "/hub audit 50", "/hub audit 20 shopify"],
    min_role=Role.ADMIN,
    aliases=("auditoria",),
)
def audit_command(ctx: CommandContext) -> None:
    limit, kind = 20, None
    for arg in ctx.args:
        if arg.isdigit():
            limit = int(arg)
            if not 1 <= limit <= MAX_ENTRIES:
                raise UsageError(f"A quantidade deve ficar entre 1 e {MAX_ENTRIES}.")
        elif kind is None:
            kind = arg
        else:
            raise UsageError(f"Não entendi `{arg}`.")
    entries = audit.recent(ctx.hub, limit=limit, kind=kind)
    if not entries:
        ctx.reply("Nenhum registro de auditoria" + (f" para `{kind}`." if kind else " ainda."))
        return
    tz = ctx.hub.settings.tz
    lines = []
    for entry in entries:
        when = entry.at.astimezone(tz).strftime("%d/%m %H:%M")
        verb = EVENT_LABELS.get(entry.event, entry.event)
        what = f"`{entry.kind}`" if entry.kind else "ação"
        ref = f" · ref `{entry.detail['ref']}`" if "ref" in entry.detail else ""
        ident = f" ({entry.action_id})" if entry.action_id else ""
        lines.append(f"{when} · <@{entry.actor_id}> {verb} {what}{ident}{ref}")
    text = f"Últimos {len(lines)} registros de auditoria:\n" + "\n".join(lines)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Auditoria"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"Horários em {ctx.hub.settings.hub_time_zone}."}
            ],
        },
    ]
    ctx.reply(text, blocks)
