"""Scheduled Shopify reports: duplicates daily and suspicious IPs weekly, one post per store.

Each store is a batch (`ctx.batches`), so a retry of the slot only redoes the stores that
failed; the scheduler posts a slot at most once. Both use the same views as `/hub`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from jobs.registry import JobOutcome, scheduled

if TYPE_CHECKING:
    from jobs.registry import JobContext

log = logging.getLogger(__name__)

WEEKLY_IP_DAYS = 7


@scheduled(
    "shopify.duplicates_daily",
    cron={"hour": 8, "minute": 0},
    priority="normal",
    description="Relatório diário de pedidos duplicados por loja Shopify",
    route="shopify",
)
def duplicates_daily(ctx: JobContext) -> JobOutcome:
    from handlers.shopify import duplicates_blocks
    from integrations.shopify.service import configured_stores, duplicates_report

    hub = ctx.hub
    stores = sorted(configured_stores(hub))
    found = 0
    for batch in ctx.batches(stores, key=lambda s: s):
        for store in batch:
            report = duplicates_report(hub, store)
            text, blocks = duplicates_blocks(hub, report)
            if report.findings:
                blocks.append(
                    {
                        "type": "context",
                        "elements": [
                            {
                                "type": "mrkdwn",
                                "text": f"Para revisar e cancelar: `/hub duplicados {store}`.",
                            }
                        ],
                    }
                )
            ctx.post("shopify", text, blocks)
            found += sum(len(f.duplicates) for f in report.findings)
    return JobOutcome(items=found, summary=f"{found} duplicado(s) em {len(stores)} loja(s)")


@scheduled(
    "shopify.ips_weekly",
    cron={"day_of_week": "mon", "hour": 8, "minute": 30},
    priority="low",
    description="Relatório semanal de IPs suspeitos por loja Shopify",
    route="shopify",
)
def ips_weekly(ctx: JobContext) -> JobOutcome:
    from handlers.shopify import MAX_IPS_SHOWN, ips_blocks, ips_csv
    from integrations.shopify.service import configured_stores, ips_report

    hub = ctx.hub
    stores = sorted(configured_stores(hub))
    total = 0
    for batch in ctx.batches(stores, key=lambda s: s):
        for store in batch:
            report = ips_report(hub, store, WEEKLY_IP_DAYS, 2)
            text, blocks = ips_blocks(hub, report)
            attachment = None
            if len(report.entries) > MAX_IPS_SHOWN:
                attachment = (f"ips-suspeitos-{store}-{ctx.slot}.csv", ips_csv(hub, report))
            ctx.post("shopify", text, blocks, file=attachment)
            total += len(report.entries)
    return JobOutcome(items=total, summary=f"{total} IP(s) suspeito(s) em {len(stores)} loja(s)")
