"""`/hub custos …`: AI spend in Slack, and the views (text + blocks, charts) jobs reuse.

/hub custos [7d|30d|mes|mes-passado|AAAA-MM-DD..AAAA-MM-DD] [openai|anthropic|todos]
            [projeto|modelo|chave|fornecedor]
/hub custos exportar csv|json [período] [openai|anthropic|todos]
/hub custos validar
/hub custos sincronizar          (operador)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.security.roles import Role
from handlers.registry import CommandContext, UsageError, subcommand
from integrations.ai_costs.common import VENDOR_NAMES, VENDORS
from integrations.ai_costs.report import (
    DIMENSION_LABELS,
    DIMENSION_WORDS,
    Dimension,
    Period,
    PeriodError,
    Report,
    money,
    parse_period,
    today_utc,
)

if TYPE_CHECKING:
    from bot.hub import Hub
    from bot.settings import Settings
    from integrations.ai_costs.budgets import BudgetAlert, BudgetStatus
    from integrations.ai_costs.spikes import Spike
    from integrations.ai_costs.sync import SyncReport
    from integrations.ai_costs.validate import KeyCheck

log = logging.getLogger(__name__)

USAGE = (
    "/hub custos [7d|30d|mes|AAAA-MM-DD..AAAA-MM-DD] [openai|anthropic|todos] "
    "[projeto|modelo|chave]"
)
REFRESH_AFTER = timedelta(hours=1)
TOP_LINES = 10
NOT_CONFIGURED = (
    "O monitoramento de gastos com IA ainda não está configurado. Um administrador precisa "
    "definir `OPENAI_ADMIN_API_KEY` (chave sk-admin-… da OpenAI) e/ou `ANTHROPIC_ADMIN_API_KEY` "
    "(chave sk-ant-admin… da Anthropic) no ambiente do Chegou Hub. "
    "Depois, confira com `/hub custos validar`."
)
VENDOR_WORDS = {"openai": ("openai",), "anthropic": ("anthropic",), "todos": VENDORS}


# --------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportArgs:
    period: Period
    vendors: tuple[str, ...]
    dimension: Dimension


def parse_report_args(
    words: Sequence[str], hub: Hub, *, default_period: str = "7d", allow_dimension: bool = True
) -> ReportArgs:
    period: Period | None = None
    vendors: tuple[str, ...] | None = None
    dimension: Dimension | None = None
    today = today_utc(hub)
    for raw in words:
        word = raw.strip().lower()
        if not word:
            continue
        if word in VENDOR_WORDS:
            if vendors is not None:
                raise UsageError("Informe só um fornecedor: `openai`, `anthropic` ou `todos`.")
            vendors = tuple(VENDOR_WORDS[word])
            continue
        if allow_dimension and word in DIMENSION_WORDS:
            if dimension is not None:
                raise UsageError("Informe só um detalhamento: `projeto`, `modelo` ou `chave`.")
            dimension = DIMENSION_WORDS[word]
            continue
        if period is not None:
            raise UsageError(f"Não entendi `{raw}`: o período já foi informado.")
        try:
            period = parse_period(word, today)
        except PeriodError as exc:
            raise UsageError(f"Não entendi `{raw}`: {exc}.") from None
    return ReportArgs(
        period or parse_period(default_period, today),
        vendors or VENDORS,
        dimension or "project",
    )


# --------------------------------------------------------------------------------------------
# views (also used by jobs/costs.py)
# --------------------------------------------------------------------------------------------


def _pct(value: Decimal | None) -> str:
    if value is None:
        return "sem base de comparação"
    arrow = "▲" if value > 0 else ("▼" if value < 0 else "=")
    return f"{arrow} {abs(value):.1f} %".replace(".", ",")


def _share(value: Decimal) -> str:
    return f"{value:.1f} %".replace(".", ",")


def local_time(settings: Settings, when: datetime) -> str:
    return when.astimezone(settings.tz).strftime("%d/%m %H:%M")


def report_view(
    report: Report,
    settings: Settings,
    *,
    budgets: Sequence[BudgetStatus] = (),
    sync_report: SyncReport | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    period = report.period
    last_day = period.end - timedelta(days=1)
    title = f"Gastos com IA — {period.label}"
    vendors = " · ".join(f"*{VENDOR_NAMES[v]}:* {money(a)}" for v, a in report.by_vendor.items())
    summary = (
        f"*Total:* {money(report.total)}  ({_pct(report.change_pct)} vs período anterior: "
        f"{money(report.previous_total)})\n{vendors}"
    )
    if report.hub_responses:
        summary += (
            f"\n*{VENDOR_NAMES['hub']}:* {money(report.hub_cost)} em "
            f"{report.hub_responses} respostas (estimado; já faz parte da conta Anthropic "
            "quando a chave do assistente é da mesma organização)"
        )
    if report.input_tokens or report.output_tokens:
        summary += (
            f"\nTokens: {report.input_tokens:,} de entrada · {report.output_tokens:,} de saída"
        ).replace(",", ".")
    fc = report.forecast
    month = f"{fc.month[5:]}/{fc.month[:4]}"
    forecast_text = (
        f"*Mês {month}:* {money(fc.month_to_date)} até agora (dia {fc.days_elapsed} de "
        f"{fc.days_in_month}) · previsão de fechamento *{money(fc.projected)}*"
    )
    for b in budgets:
        if b.project_id is None and b.vendor in report.vendors:
            forecast_text += (
                f"\nOrçamento {b.label}: {money(b.spent_usd)} de {money(b.limit_usd)} "
                f"({_share(b.pct)})"
            )
    lines_text = "\n".join(
        f"• {line.label} — {money(line.cost)} ({_share(line.share)}; {_pct(line.change_pct)})"
        for line in report.lines[:TOP_LINES]
    )
    if len(report.lines) > TOP_LINES:
        rest = sum((line.cost for line in report.lines[TOP_LINES:]), Decimal(0))
        lines_text += f"\n• outros {len(report.lines) - TOP_LINES} — {money(rest)}"
    if not lines_text:
        lines_text = "_Sem gastos registrados neste período._"
    notes = [
        f"{period.start:%d/%m/%Y} a {last_day:%d/%m/%Y}, dias em UTC (como nas faturas)"
        + ("; hoje ainda parcial" if report.includes_today else "")
    ]
    synced = [f.last_success_at for f in report.freshness if f.last_success_at]
    if synced:
        notes.append(
            f"atualizado em {local_time(settings, max(synced))} ({settings.hub_time_zone})"
        )
    warnings: list[str] = []
    failed = {s.vendor for s in (sync_report.streams if sync_report else []) if s.error}
    for f in report.freshness:
        name = VENDOR_NAMES[f.vendor]
        if f.vendor in failed:
            warnings.append(
                f":warning: Não consegui atualizar {name} agora; mostrando os dados salvos"
                + (
                    f" (última atualização {local_time(settings, f.last_success_at)})"
                    if f.last_success_at
                    else ""
                )
                + ". Tente de novo em alguns minutos ou veja `/hub custos validar`."
            )
        elif f.stale:
            warnings.append(
                f":warning: Dados de {name} desatualizados"
                + (f" desde {local_time(settings, f.last_success_at)}" if f.last_success_at else "")
                + "."
            )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
        {"type": "section", "text": {"type": "mrkdwn", "text": forecast_text}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*Por {DIMENSION_LABELS[report.dimension]}:*\n{lines_text}"[:3000],
            },
        },
    ]
    if warnings:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(warnings)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(notes)}]})
    text = f"{title}: {money(report.total)} ({_pct(report.change_pct)} vs período anterior)"
    return text, blocks


def report_chart(report: Report) -> bytes:
    from integrations.ai_costs.charts import stacked_daily_png

    return stacked_daily_png(
        report.daily,
        title=f"Gasto diário com IA por {DIMENSION_LABELS[report.dimension]} "
        f"— {report.period.label}",
    )


def _contributors(spike: Spike) -> str:
    parts = []
    for dim, title in (("project", "Projetos"), ("model", "Modelos"), ("key", "Chaves")):
        items = spike.contributors.get(dim) or []  # type: ignore[call-overload]
        if items:
            parts.append(
                f"*{title}:* "
                + "; ".join(
                    f"{c.label} {money(c.actual)} (normal ~{money(c.typical)})" for c in items
                )
            )
    return "\n".join(parts) or "_sem detalhamento disponível_"


def spike_view(spike: Spike) -> tuple[str, list[dict[str, Any]]]:
    name = VENDOR_NAMES[spike.vendor]
    title = f"Pico de gasto com IA na {name} em {spike.day:%d/%m}"
    text = (
        f"{title}: {money(spike.actual)} contra ~{money(spike.baseline.expected)} esperado "
        f"(+{money(spike.excess)})"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"*{money(spike.actual)}* no dia (UTC), contra "
                    f"*~{money(spike.baseline.expected)}* esperado para {_weekday(spike.day)}: "
                    f"*+{money(spike.excess)}*."
                ),
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Quem mais subiu:*\n{_contributors(spike)}"},
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Linha de base: mediana dos 28 dias anteriores ajustada pelo dia da "
                    "semana. Detalhe com `/hub custos 30d "
                    f"{spike.vendor} projeto` ou `/hub custos 30d {spike.vendor} chave`.",
                }
            ],
        },
    ]
    return text, blocks


def spike_chart(spike: Spike, hub: Hub) -> bytes:
    from integrations.ai_costs.charts import stacked_daily_png
    from integrations.ai_costs.report import build_report

    period = Period(spike.day - timedelta(days=27), spike.day + timedelta(days=1), "28 dias")
    report = build_report(hub, period, vendors=[spike.vendor], dimension="project", top=6)
    return stacked_daily_png(
        report.daily,
        title=f"{VENDOR_NAMES[spike.vendor]}: gasto diário por projeto (28 dias)",
        highlight=spike.day,
    )


def _weekday(day: Any) -> str:
    return (
        "uma segunda-feira",
        "uma terça-feira",
        "uma quarta-feira",
        "uma quinta-feira",
        "uma sexta-feira",
        "um sábado",
        "um domingo",
    )[day.weekday()]


def budget_view(alert: BudgetAlert) -> tuple[str, list[dict[str, Any]]]:
    s = alert.status
    month = f"{s.month[5:]}/{s.month[:4]}"
    title = f"Orçamento de IA: {s.label} atingiu {alert.threshold} % em {month}"
    body = f"*{money(s.spent_usd)}* de *{money(s.limit_usd)}* ({_share(s.pct)}) no mês."
    if s.projected_usd is not None:
        body += f" Previsão de fechamento: *{money(s.projected_usd)}*."
        if s.projected_usd > s.limit_usd and alert.threshold < 100:
            body += " No ritmo atual, o orçamento estoura antes do fim do mês."
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Cada faixa (50/75/90/100 %) é avisada uma vez por mês. "
                    f"Detalhe com `/hub custos mes {s.vendor} projeto`.",
                }
            ],
        },
    ]
    return f"{title} ({money(s.spent_usd)} de {money(s.limit_usd)})", blocks


STATUS_ICONS = {
    "ok": ":white_check_mark:",
    "invalid": ":x:",
    "wrong_scope": ":no_entry:",
    "transient": ":hourglass:",
    "unexpected": ":warning:",
    "not_configured": ":heavy_minus_sign:",
}


def validate_view(checks: Sequence[KeyCheck]) -> tuple[str, list[dict[str, Any]]]:
    lines = [f"{STATUS_ICONS[c.status]} *{VENDOR_NAMES[c.vendor]}:* {c.detail}" for c in checks]
    text = "Chaves de administrador de IA:\n" + "\n".join(lines)
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------


def _refresh(ctx: CommandContext, vendors: Sequence[str]) -> SyncReport | None:
    """Bring recent days up to date when the stored data is older than REFRESH_AFTER (saying
    so first: the very first sync fetches the whole backfill and takes a while)."""
    from integrations.ai_costs.sync import stale_vendors, sync, sync_state

    hub = ctx.hub
    stale = stale_vendors(hub, vendors, REFRESH_AFTER)
    if not stale:
        return None
    first_time = not any(s.vendor in stale and s.complete_until for s in sync_state(hub))
    names = " e na ".join(VENDOR_NAMES[v] for v in stale)
    ctx.reply(
        f"Buscando os custos mais recentes na {names}…"
        + (
            f" É a primeira vez: trazendo os últimos {hub.settings.ai_costs_backfill_days} dias, "
            "pode levar alguns segundos."
            if first_time
            else ""
        )
    )
    report = sync(hub, vendors=vendors, max_age=REFRESH_AFTER)
    return report if report.streams else None


def _configured(ctx: CommandContext) -> list[str]:
    from integrations.ai_costs.sync import configured_vendors

    vendors: list[str] = list(configured_vendors(ctx.hub))
    if not vendors:
        ctx.reply(NOT_CONFIGURED)
    return vendors


def _report(ctx: CommandContext, words: Sequence[str]) -> None:
    from integrations.ai_costs.budgets import budget_statuses
    from integrations.ai_costs.report import build_report

    hub = ctx.hub
    args = parse_report_args(words, hub)
    configured = _configured(ctx)
    if not configured:
        return
    vendors = [v for v in args.vendors if v in configured]
    if not vendors:
        missing = " e ".join(VENDOR_NAMES[v] for v in args.vendors)
        ctx.reply(f"{missing} não está configurada. {NOT_CONFIGURED}")
        return
    sync_report = _refresh(ctx, vendors)
    report = build_report(hub, args.period, vendors=vendors, dimension=args.dimension)
    text, blocks = report_view(
        report, hub.settings, budgets=budget_statuses(hub), sync_report=sync_report
    )
    ts = ctx.post(text, blocks)
    if report.total > 0:
        ctx.upload(
            f"custos-ia_{args.period.start:%Y%m%d}_{args.dimension}.png",
            report_chart(report),
            title=f"Gasto diário por {DIMENSION_LABELS[args.dimension]} — {args.period.label}",
            thread_ts=ts,
        )


def _export(ctx: CommandContext, words: Sequence[str]) -> None:
    from integrations.ai_costs.export import build_export

    if not words or words[0].lower() not in ("csv", "json"):
        raise UsageError(
            "Informe o formato: `/hub custos exportar csv mes` ou `/hub custos exportar json 30d`."
        )
    fmt = words[0].lower()
    args = parse_report_args(words[1:], ctx.hub, default_period="mes", allow_dimension=False)
    configured = _configured(ctx)
    if not configured:
        return
    vendors = [v for v in args.vendors if v in configured]
    sync_report = _refresh(ctx, vendors)
    exported = build_export(ctx.hub, args.period, "csv" if fmt == "csv" else "json", vendors)
    comment = (
        f"Exportação de gastos com IA — {args.period.label}: {exported.rows} linhas, total "
        f"{money(exported.total_usd)} (soma das linhas `source=cost`). Colunas explicadas no "
        "guia de custos de IA."
    )
    if sync_report is not None and not sync_report.ok:
        comment += " Atenção: a atualização de agora falhou; o arquivo tem os dados já salvos."
    ctx.upload(exported.filename, exported.content, title=exported.filename, comment=comment)


def _validate(ctx: CommandContext) -> None:
    from integrations.ai_costs.validate import validate_keys

    text, blocks = validate_view(validate_keys(ctx.hub))
    ctx.reply(text, blocks)


def _sync_now(ctx: CommandContext) -> None:
    from integrations.ai_costs.sync import sync

    if ctx.role < Role.OPERATOR:
        ctx.reply("Só operadores e administradores podem forçar a sincronização de custos.")
        return
    if not _configured(ctx):
        return
    report = sync(ctx.hub)
    lines = []
    for s in report.streams:
        status = "ok" if s.error is None else "falhou (tente de novo mais tarde)"
        lines.append(
            f"• {VENDOR_NAMES[s.vendor]} ({'custos' if s.source == 'cost' else 'uso'}): "
            f"{s.start:%d/%m}–{(s.end - timedelta(days=1)):%d/%m}, {s.rows} linhas — {status}"
        )
    ctx.reply("Sincronização de custos de IA:\n" + "\n".join(lines))


@subcommand(
    "custos",
    usage=USAGE,
    summary="Gastos com IA (OpenAI e Anthropic): totais, detalhes, gráfico, previsão",
    examples=(
        "/hub custos",
        "/hub custos 30d openai modelo",
        "/hub custos mes anthropic projeto",
        "/hub custos 2026-10-01..2026-10-31 chave",
        "/hub custos exportar csv mes",
        "/hub custos validar",
    ),
    aliases=("custo", "gastos"),
    details=(
        "exportar csv|json [período] [openai|anthropic|todos]",
        "validar",
        "sincronizar (operador)",
    ),
)
def custos(ctx: CommandContext) -> None:
    words = [w for w in ctx.args if w.strip()]
    verb = words[0].lower() if words else ""
    if verb in ("exportar", "export"):
        _export(ctx, words[1:])
    elif verb in ("validar", "validate"):
        if len(words) > 1:
            raise UsageError("`/hub custos validar` não recebe outros argumentos.")
        _validate(ctx)
    elif verb in ("sincronizar", "sync"):
        _sync_now(ctx)
    else:
        _report(ctx, words)
