"""`/hub status`: the integrations' health (same data as `/health`) as Block Kit.

Reads `integrations.runtime.health.health_report(hub)` when the runtime provides it; otherwise
(or if it fails) falls back to the registry's configuration state, so the command always works.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handlers.registry import subcommand

if TYPE_CHECKING:
    from bot.hub import Hub
    from handlers.registry import CommandContext

log = logging.getLogger(__name__)

STATUS_LABELS = {
    "pass": (":large_green_circle:", "funcionando"),
    "warn": (":large_yellow_circle:", "instável"),
    "fail": (":red_circle:", "com falha"),
    "not_configured": (":white_circle:", "não configurada"),
}


@dataclass(frozen=True)
class HealthRow:
    name: str
    display_name: str
    status: str
    detail: str


def _from_report(report: Any) -> list[HealthRow]:
    data = report.to_dict() if hasattr(report, "to_dict") else report
    items: Any = data.get("integrations", data) if isinstance(data, dict) else data
    if isinstance(items, dict):
        items = [{"name": key, **value} for key, value in items.items() if isinstance(value, dict)]
    rows = []
    for item in items or []:
        if not isinstance(item, dict) or "status" not in item:
            continue
        name = str(item.get("name", "?"))
        detail = item.get("detail") or item.get("how_to_configure") or ""
        errors = item.get("config_errors") or []
        if errors and not detail:
            detail = "; ".join(map(str, errors))
        rows.append(
            HealthRow(name, str(item.get("display_name") or name), str(item["status"]), str(detail))
        )
    return rows


def _from_registry(hub: Hub) -> list[HealthRow]:
    from integrations.runtime.registry import all_integrations

    rows = []
    for integration in all_integrations():
        configured = integration.is_configured(hub.settings)
        errors = integration.config_errors(hub.settings) if configured else []
        if not configured:
            status, detail = "not_configured", integration.how_to_configure
        elif errors:
            status, detail = "fail", "; ".join(errors)
        else:
            status, detail = "pass", "configurada"
        rows.append(HealthRow(integration.name, integration.display_name, status, detail))
    return rows


def health_rows(hub: Hub) -> list[HealthRow]:
    import importlib

    try:
        # Built by the runtime area; imported dynamically so this works before it lands.
        health_report = importlib.import_module("integrations.runtime.health").health_report
    except (ImportError, AttributeError):
        return _from_registry(hub)
    try:
        rows = _from_report(health_report(hub))
    except Exception:
        log.exception("health_report failed; showing configuration state only")
        return _from_registry(hub)
    return rows or _from_registry(hub)


def status_blocks(rows: list[HealthRow]) -> tuple[str, list[dict[str, Any]]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Status das integrações"}}
    ]
    if not rows:
        text = "Status das integrações: nenhuma integração registrada ainda."
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        return text, blocks
    lines = []
    for row in rows:
        emoji, label = STATUS_LABELS.get(row.status, (":grey_question:", row.status))
        detail = f"\n{row.detail}" if row.detail else ""
        line = f"{emoji} *{row.display_name}* — {label}{detail}"
        lines.append(line)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line[:3000]}})
    failing = sum(r.status == "fail" for r in rows)
    summary = (
        f"{failing} integração(ões) com falha." if failing else "Nenhuma integração com falha."
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": summary}]})
    return "Status das integrações:\n" + "\n".join(lines), blocks[:50]


@subcommand(
    "status",
    usage="/hub status",
    summary="Saúde das integrações (configuração, falhas, lentidão)",
    examples=["/hub status"],
)
def status_command(ctx: CommandContext) -> None:
    text, blocks = status_blocks(health_rows(ctx.hub))
    ctx.reply(text, blocks)
