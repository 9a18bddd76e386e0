"""`chegou-hub costs …`: sync, report, export, validate (heavy imports stay inside commands)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.hub import Hub


def _hub() -> Hub:
    from bot.db import upgrade
    from bot.hub import Hub
    from bot.settings import load_settings

    hub = Hub.create(load_settings())
    upgrade(hub.engine)
    return hub


def _vendors(value: str) -> list[str]:
    return ["openai", "anthropic"] if value == "todos" else [value]


def _cmd_sync(args: argparse.Namespace) -> int:
    from integrations.ai_costs.sync import sync

    hub = _hub()
    try:
        report = sync(hub, vendors=_vendors(args.vendor))
    finally:
        hub.close()
    for vendor in report.skipped:
        print(f"{vendor}: não configurado (pulado)")
    for s in report.streams:
        status = f"ERRO: {s.error}" if s.error else "ok"
        print(
            f"{s.vendor}/{s.source}: {s.start}..{s.end} páginas={s.pages} linhas={s.rows} {status}"
        )
    print(f"requisições: {report.requests}")
    return 0 if report.ok else 1


def _decimal_str(value: Any) -> str:
    return format(value, "f")


def _cmd_report(args: argparse.Namespace) -> int:
    import json

    from integrations.ai_costs.common import VENDOR_NAMES
    from integrations.ai_costs.report import (
        DIMENSION_LABELS,
        DIMENSION_WORDS,
        build_report,
        money,
        parse_period,
        today_utc,
    )

    hub = _hub()
    try:
        period = parse_period(f"{args.days}d", today_utc(hub))
        dimension = DIMENSION_WORDS.get(args.by, "project")
        report = build_report(hub, period, vendors=_vendors(args.vendor), dimension=dimension)
    finally:
        hub.close()
    if args.json:
        doc = {
            "period": {
                "start": period.start.isoformat(),
                "end_exclusive": period.end.isoformat(),
                "label": period.label,
            },
            "currency": "USD",
            "total_usd": _decimal_str(report.total),
            "previous_total_usd": _decimal_str(report.previous_total),
            "change_pct": None if report.change_pct is None else str(report.change_pct),
            "by_vendor": {v: _decimal_str(a) for v, a in report.by_vendor.items()},
            "dimension": DIMENSION_LABELS[dimension],
            "lines": [
                {
                    "key": line.key,
                    "name": line.label,
                    "cost_usd": _decimal_str(line.cost),
                    "previous_usd": _decimal_str(line.previous),
                    "share_pct": str(line.share),
                }
                for line in report.lines
            ],
            "month_to_date_usd": _decimal_str(report.forecast.month_to_date),
            "month_end_forecast_usd": _decimal_str(report.forecast.projected),
            "hub_assistant_usd": _decimal_str(report.hub_cost),
            "input_tokens": report.input_tokens,
            "output_tokens": report.output_tokens,
            "includes_partial_today": report.includes_today,
        }
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(f"Gastos com IA — {period.label} ({period.start}..{period.end} UTC, fim exclusivo)")
    print(f"Total: {money(report.total)}  (anterior: {money(report.previous_total)})")
    for vendor, amount in report.by_vendor.items():
        print(f"  {vendor}: {money(amount)}")
    print(f"  {VENDOR_NAMES['hub']}: {money(report.hub_cost)} (já incluso na Anthropic)")
    print(f"Por {DIMENSION_LABELS[dimension]}:")
    for line in report.lines[:20]:
        print(f"  {line.label:<50} {money(line.cost):>16} {line.share:>5}%")
    fc = report.forecast
    print(f"Mês {fc.month}: {money(fc.month_to_date)} até agora, previsão {money(fc.projected)}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from integrations.ai_costs.export import build_export
    from integrations.ai_costs.report import PeriodError, parse_period, today_utc

    hub = _hub()
    try:
        try:
            period = parse_period(f"{args.date_from}..{args.date_to}", today_utc(hub))
        except PeriodError as exc:
            print(f"período inválido: {exc}", file=sys.stderr)
            return 2
        exported = build_export(hub, period, args.format, _vendors(args.vendor))
    finally:
        hub.close()
    if args.output == "-":
        sys.stdout.buffer.write(exported.content)
    else:
        path = Path(args.output or exported.filename)
        path.write_bytes(exported.content)
        print(f"{exported.rows} linhas, total US$ {exported.total_usd:.2f} → {path}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from integrations.ai_costs.validate import validate_keys

    hub = _hub()
    try:
        checks = validate_keys(hub)
    finally:
        hub.close()
    for check in checks:
        print(f"{check.vendor}: {check.status} — {check.detail}")
    return 0 if all(c.status in ("ok", "not_configured") for c in checks) else 1


def register(subparsers: Any) -> None:
    costs = subparsers.add_parser("costs", help="AI spend (OpenAI and Anthropic admin APIs)")
    sub = costs.add_subparsers(dest="costs_command", metavar="ACTION")
    vendor_kw: dict[str, Any] = {
        "choices": ["openai", "anthropic", "todos"],
        "default": "todos",
        "help": "vendor (default: todos)",
    }

    p_sync = sub.add_parser("sync", help="sync daily costs and usage now")
    p_sync.add_argument("--vendor", **vendor_kw)
    p_sync.set_defaults(func=_cmd_sync)

    p_report = sub.add_parser("report", help="spend report for the last N days")
    p_report.add_argument("--days", type=int, default=7)
    p_report.add_argument("--vendor", **vendor_kw)
    p_report.add_argument(
        "--by", choices=["projeto", "modelo", "chave", "fornecedor"], default="projeto"
    )
    p_report.add_argument("--json", action="store_true", help="machine-readable output")
    p_report.set_defaults(func=_cmd_report)

    p_export = sub.add_parser("export", help="export daily facts as CSV or JSON")
    p_export.add_argument("--format", choices=["csv", "json"], default="csv")
    p_export.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    p_export.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
    p_export.add_argument("--vendor", **vendor_kw)
    p_export.add_argument("--output", "-o", help="file path ('-' for stdout)")
    p_export.set_defaults(func=_cmd_export)

    p_validate = sub.add_parser("validate", help="check the admin keys")
    p_validate.set_defaults(func=_cmd_validate)
