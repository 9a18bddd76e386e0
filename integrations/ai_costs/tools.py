"""Read-only assistant tools over AI spend: spend by period/dimension, top contributors,
budget status. Amounts are decimal strings in USD (exact)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations.ai_costs.common import VENDOR_NAMES, VENDORS
from integrations.ai_costs.report import (
    DIMENSION_WORDS,
    PeriodError,
    build_report,
    parse_period,
    today_utc,
)
from integrations.runtime.tools import Tool, ToolContext

if TYPE_CHECKING:
    from bot.hub import Hub

PERIOD_SCHEMA = {
    "type": "string",
    "description": "Período: '7d', '30d', 'Nd' (até 400), 'mes' (mês atual), 'mes-passado' ou "
    "'AAAA-MM-DD..AAAA-MM-DD' (dias UTC, ambos incluídos). Padrão: '7d'.",
}
VENDOR_SCHEMA = {
    "type": "string",
    "enum": ["openai", "anthropic", "todos"],
    "description": "Fornecedor; padrão 'todos'.",
}


def _usd(value: Any) -> str:
    return f"{value:.2f}"


def _vendors(hub: Hub, value: str | None) -> list[str]:
    from integrations.ai_costs.sync import configured_vendors

    configured: list[str] = list(configured_vendors(hub))
    if value in (None, "", "todos"):
        return configured
    if value not in VENDORS:
        raise ValueError(f"fornecedor desconhecido: {value}")
    return [value]


def _period(hub: Hub, value: str | None) -> Any:
    try:
        return parse_period(value or "7d", today_utc(hub))
    except PeriodError as exc:
        raise ValueError(str(exc)) from None


def get_tools(hub: Hub) -> list[Tool]:
    from integrations.ai_costs.sync import configured_vendors

    configured = configured_vendors(hub)
    if not configured:
        return []
    integration = "openai" if "openai" in configured else "anthropic_admin"

    def spend(_ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        period = _period(hub, args.get("period"))
        dimension = DIMENSION_WORDS.get(str(args.get("dimension") or "projeto"), "project")
        report = build_report(
            hub, period, vendors=_vendors(hub, args.get("vendor")), dimension=dimension
        )
        return {
            "period": {
                "start": period.start.isoformat(),
                "end_exclusive": period.end.isoformat(),
                "label": period.label,
            },
            "currency": "USD",
            "total_usd": _usd(report.total),
            "previous_period_total_usd": _usd(report.previous_total),
            "change_pct": str(report.change_pct) if report.change_pct is not None else None,
            "by_vendor": {VENDOR_NAMES[v]: _usd(a) for v, a in report.by_vendor.items()},
            "breakdown": [
                {"name": line.label, "cost_usd": _usd(line.cost), "share_pct": str(line.share)}
                for line in report.lines[:15]
            ],
            "month_to_date_usd": _usd(report.forecast.month_to_date),
            "month_end_forecast_usd": _usd(report.forecast.projected),
            "hub_assistant_usd": _usd(report.hub_cost),
            "includes_partial_today": report.includes_today,
            "stale_vendors": [f.vendor for f in report.freshness if f.stale],
        }

    def top(_ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        period = _period(hub, args.get("period"))
        n = max(1, min(int(args.get("limit") or 5), 20))
        vendors = _vendors(hub, args.get("vendor"))
        out: dict[str, Any] = {"period": period.label}
        for word, dim in (("projetos", "project"), ("modelos", "model"), ("chaves", "key")):
            report = build_report(hub, period, vendors=vendors, dimension=dim)  # type: ignore[arg-type]
            out[word] = [
                {
                    "name": line.label,
                    "cost_usd": _usd(line.cost),
                    "share_pct": str(line.share),
                    "change_pct": str(line.change_pct) if line.change_pct is not None else None,
                }
                for line in report.lines[:n]
            ]
        return out

    def budgets(_ctx: ToolContext, _args: dict[str, Any]) -> dict[str, Any]:
        from integrations.ai_costs.budgets import budget_statuses

        statuses = budget_statuses(hub)
        if not statuses:
            return {"budgets": [], "note": "Nenhum orçamento configurado (AI_BUDGETS)."}
        return {
            "budgets": [
                {
                    "name": s.label,
                    "month": s.month,
                    "budget_usd": _usd(s.limit_usd),
                    "spent_usd": _usd(s.spent_usd),
                    "used_pct": str(s.pct),
                    "month_end_forecast_usd": _usd(s.projected_usd)
                    if s.projected_usd is not None
                    else None,
                    "thresholds_crossed": s.crossed,
                }
                for s in statuses
            ]
        }

    return [
        Tool(
            name="ai_spend",
            description="Gasto com IA (OpenAI/Anthropic) num período, com total, variação contra o "
            "período anterior, detalhamento por projeto, modelo, chave ou fornecedor, acumulado do "
            "mês e previsão de fechamento. Valores em USD.",
            input_schema={
                "type": "object",
                "properties": {
                    "period": PERIOD_SCHEMA,
                    "vendor": VENDOR_SCHEMA,
                    "dimension": {
                        "type": "string",
                        "enum": ["projeto", "modelo", "chave", "fornecedor"],
                        "description": "Como detalhar; padrão 'projeto'.",
                    },
                },
            },
            run=spend,
            integration=integration,
            status_text="consultando gastos com IA…",
        ),
        Tool(
            name="ai_top_contributors",
            description="Maiores responsáveis pelo gasto com IA num período: projetos, modelos e "
            "chaves de API, com participação e variação.",
            input_schema={
                "type": "object",
                "properties": {
                    "period": PERIOD_SCHEMA,
                    "vendor": VENDOR_SCHEMA,
                    "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                },
            },
            run=top,
            integration=integration,
            status_text="procurando os maiores gastos…",
        ),
        Tool(
            name="ai_budget_status",
            description="Situação dos orçamentos mensais de IA: gasto no mês, percentual usado, "
            "previsão de fechamento e faixas (50/75/90/100 %) já atingidas.",
            input_schema={"type": "object", "properties": {}},
            run=budgets,
            integration=integration,
            status_text="conferindo orçamentos…",
        ),
    ]
