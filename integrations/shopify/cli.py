"""`chegou-hub shopify duplicates|ips …` (a stable JSON shape with --json; ops scripts use it).

    chegou-hub shopify duplicates --store NAME [--days N] --json
    chegou-hub shopify ips --store NAME [--days N] [--min-orders K] --json

The shapes are documented in docs/user-guides/shopify-duplicados.md and shopify-ips.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("shopify", help="Shopify: duplicate orders and IP report")
    sub = parser.add_subparsers(dest="shopify_command", metavar="ACTION")
    dup = sub.add_parser("duplicates", help="find duplicate orders of one store")
    dup.add_argument("--store", required=True)
    dup.add_argument("--days", type=int, default=None, help="window (default: settings)")
    dup.add_argument("--json", action="store_true", help="machine-readable output")
    dup.add_argument(
        "--dry-run",
        action="store_true",
        help="re-read each certain duplicate and show what a cancel would do (changes nothing)",
    )
    dup.set_defaults(func=_duplicates)
    ips = sub.add_parser("ips", help="suspicious IPs of one store")
    ips.add_argument("--store", required=True)
    ips.add_argument("--days", type=int, default=30)
    ips.add_argument("--min-orders", type=int, default=2)
    ips.add_argument("--json", action="store_true", help="machine-readable output")
    ips.set_defaults(func=_ips)


def _hub() -> Any:
    from bot.hub import Hub
    from bot.settings import load_settings

    return Hub.create(load_settings())


def _run(args: argparse.Namespace, build: Any) -> int:
    from integrations.runtime.errors import IntegrationError
    from integrations.shopify.client import ShopifyError
    from integrations.shopify.service import ALL_STORES, StoreError, resolve_stores

    hub = _hub()
    try:
        if args.store.casefold() in ALL_STORES:
            raise StoreError("Informe uma loja com --store NOME.")
        (store,) = resolve_stores(hub, args.store)
        report = build(hub, store)
    except StoreError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (IntegrationError, ShopifyError) as exc:
        print(f"Erro ao consultar a Shopify: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    finally:
        hub.close()
    for warning in report.warnings:
        print(f"aviso: {warning}", file=sys.stderr)
    if args.json:
        json.dump(report.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(_text(report))
    return 0


def _duplicates(args: argparse.Namespace) -> int:
    from integrations.shopify.service import duplicates_report

    if args.dry_run:
        return _run(
            args, lambda hub, store: _simulate(hub, duplicates_report(hub, store, args.days))
        )
    return _run(args, lambda hub, store: duplicates_report(hub, store, args.days))


def _simulate(hub: Any, report: Any) -> Any:
    """The report plus, on stderr, what cancelling its certain duplicates would do."""
    import logging

    from bot.security.confirmations import ExecutionContext
    from integrations.shopify.cancel import cancel_items, execute

    items = cancel_items(report.certain)
    if items:
        log = logging.getLogger("chegou_hub.shopify.dry_run")
        ctx = ExecutionContext(
            action_id="cli-dry-run",
            requester_id="cli",
            confirmer_id="cli",
            channel_id="",
            thread_ts=None,
            audit=lambda event, detail: log.debug("%s %s", event, detail),
        )
        result = execute(hub, ctx, {"store": report.store, "orders": items, "dry_run": True})
        print(result.text, file=sys.stderr)
    else:
        print("nenhum duplicado certo para cancelar", file=sys.stderr)
    return report


def _ips(args: argparse.Namespace) -> int:
    from integrations.shopify.service import ips_report

    return _run(args, lambda hub, store: ips_report(hub, store, args.days, args.min_orders))


def _text(report: Any) -> str:
    data = report.to_json()
    lines: list[str] = []
    if "findings" in data:
        lines.append(f"{data['store']}: {len(data['findings'])} grupo(s) de duplicados")
        for f in data["findings"]:
            dups = ", ".join(d["name"] for d in f["duplicates"])
            lines.append(
                f"  [{f['confidence']}/{f['match']}] {f['phone']} {f['product']['title']}: "
                f"mantém {f['kept_order']['name']}, duplicados {dups}"
            )
    else:
        lines.append(f"{data['store']}: {len(data['ips'])} IP(s) suspeito(s)")
        for e in data["ips"]:
            lines.append(
                f"  {e['ip']}: {e['orders']} pedidos, {e['distinct_customers']} clientes, "
                f"{e['total_value']} {e['currency']}"
            )
    return "\n".join(lines)
