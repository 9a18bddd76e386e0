"""`/hub status`: the integrations' health (same data as `/health`) as Block Kit.

Reads `integrations.runtime.health.health_report(hub)`; if that fails, falls back to the
registry's configuration state, so the command always answers. Each configured integration
also gets a line with its last 24 h: calls, success rate and latency percentiles.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handlers.registry import subcommand

if TYPE_CHECKING:
    from bot.hub import Hub
    from handlers.registry import CommandContext
    from integrations.runtime.health import HealthReport, IntegrationStats
    from integrations.runtime.registry import HealthStatus

log = logging.getLogger(__name__)

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "pass": (":large_green_circle:", "funcionando"),
    "warn": (":large_yellow_circle:", "instável"),
    "fail": (":red_circle:", "com falha"),
    "not_configured": (":white_circle:", "não configurada"),
}


@dataclass(frozen=True)
class HealthRow:
    name: str
    display_name: str
    status: HealthStatus
    detail: str
    numbers: str = ""  # the window's figures, empty without calls


def _from_report(report: HealthReport) -> list[HealthRow]:
    return [
        HealthRow(
            item.name,
            item.display_name,
            item.status,
            item.detail,
            stats_line(item.stats) if item.stats else "",
        )
        for item in report.integrations
    ]


def stats_line(stats: IntegrationStats) -> str:
    """`24 h: 120 chamadas · 99,2% de sucesso · p50 0,21 s · p95 0,80 s · p99 1,30 s`."""
    if not stats.calls:
        return ""
    hours = f"{stats.window_seconds / 3600:g} h"
    parts = [f"{stats.calls} chamada{'s' if stats.calls != 1 else ''}"]
    if stats.success_rate is not None:
        parts.append(f"{stats.success_rate:.1%} de sucesso".replace(".", ","))
    for label, ms in (("p50", stats.p50_ms), ("p95", stats.p95_ms), ("p99", stats.p99_ms)):
        if ms is not None:
            parts.append(f"{label} {ms / 1000:.2f} s".replace(".", ","))
    return f"{hours}: " + " · ".join(parts)


def _from_registry(hub: Hub) -> list[HealthRow]:
    from integrations.runtime.registry import all_integrations

    rows = []
    for integration in all_integrations():
        configured = integration.is_configured(hub.settings)
        errors = integration.config_errors(hub.settings) if configured else []
        status: HealthStatus
        if not configured:
            status, detail = "not_configured", integration.how_to_configure
        elif errors:
            status, detail = "fail", "; ".join(errors)
        else:
            status, detail = "pass", "configurada"
        rows.append(HealthRow(integration.name, integration.display_name, status, detail))
    return rows


def health_rows(hub: Hub) -> list[HealthRow]:
    from integrations.runtime.health import health_report

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
        empty = "Nenhuma integração registrada ainda."
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": empty}})
        return f"Status das integrações: {empty}", blocks
    lines = []
    for row in rows:
        emoji, label = STATUS_LABELS.get(row.status, (":grey_question:", row.status))
        # A healthy integration's figures say it all; otherwise why first, then the figures.
        healthy = row.status == "pass" and row.numbers
        parts = (row.numbers,) if healthy else (row.detail, row.numbers)
        detail = "".join(f"\n{part}" for part in parts if part)
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
