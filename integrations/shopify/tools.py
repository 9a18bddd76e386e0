"""Assistant tools: find duplicates and the IP report (read), and a cancel proposal.

The proposal tool reads the current findings to name the orders, then only calls
`ctx.propose("shopify.cancel_duplicates", args)`: a person confirms in Slack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations.runtime.tools import Tool, ToolContext

if TYPE_CHECKING:
    from bot.hub import Hub

MAX_FINDINGS = 30
MAX_IPS = 30


def get_tools(hub: Hub) -> list[Tool]:
    from integrations.shopify.service import configured_stores

    stores = sorted(configured_stores(hub))
    if not stores:
        return []
    store_schema = {
        "type": "string",
        "description": "Nome da loja (uma de: " + ", ".join(stores) + ").",
        "enum": stores,
    }

    def find_duplicates(ctx: ToolContext, args: dict[str, Any]) -> Any:
        from integrations.shopify.service import duplicates_report

        report = duplicates_report(hub, args["store"], args.get("days"))
        data = report.to_json()
        findings = data["findings"]
        assert isinstance(findings, list)
        data["findings"] = findings[:MAX_FINDINGS]
        data["total_findings"] = len(findings)
        data["warnings"] = report.warnings
        return data

    def ip_report(ctx: ToolContext, args: dict[str, Any]) -> Any:
        from integrations.shopify.service import ips_report

        report = ips_report(
            hub, args["store"], int(args.get("days") or 30), int(args.get("min_orders") or 2)
        )
        data = report.to_json()
        ips = data["ips"]
        assert isinstance(ips, list)
        for entry in ips:
            entry["order_ids"] = entry["order_ids"][:10]
        data["ips"] = ips[:MAX_IPS]
        data["total_ips"] = len(ips)
        data["warnings"] = report.warnings
        return data

    def propose_cancel(ctx: ToolContext, args: dict[str, Any]) -> Any:
        from integrations.shopify.cancel import KIND, MAX_ORDERS, cancel_items
        from integrations.shopify.service import duplicates_report

        report = duplicates_report(hub, args["store"], args.get("days"))
        names = {("#" + str(n).lstrip("#")).casefold() for n in args.get("order_names") or []}
        if names:
            items = [i for i in cancel_items(report.findings) if i["name"].casefold() in names]
            missing = names - {i["name"].casefold() for i in items}
            if missing:
                return {"error": f"pedidos não encontrados entre os duplicados: {sorted(missing)}"}
        else:
            items = cancel_items(report.certain)
        if not items:
            return {"error": "nenhum duplicado para cancelar"}
        return {"result": ctx.propose(KIND, {"store": args["store"], "orders": items[:MAX_ORDERS]})}

    return [
        Tool(
            name="shopify_find_duplicates",
            description=(
                "Procura pedidos duplicados (mesmo telefone + mesmo produto, ao menos um não "
                "processado) numa loja Shopify. Devolve os grupos com o pedido mantido, os "
                "duplicados, o critério (sku/variant/product/title/phone_suffix) e a confiança "
                "(certain/possible)."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "store": store_schema,
                    "days": {"type": "integer", "minimum": 1, "maximum": 90},
                },
                "required": ["store"],
            },
            run=find_duplicates,
            kind="read",
            integration="shopify",
            status_text="procurando pedidos duplicados na Shopify…",
        ),
        Tool(
            name="shopify_ip_report",
            description=(
                "IPs com pedidos de mais de um cliente numa loja Shopify (possível fraude): "
                "pedidos, ativos x cancelados, clientes distintos, valor total, primeiro e "
                "último pedido, fonte do IP. IPs permitidos/resolvidos ficam de fora."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "store": store_schema,
                    "days": {"type": "integer", "minimum": 1, "maximum": 365},
                    "min_orders": {"type": "integer", "minimum": 2},
                },
                "required": ["store"],
            },
            run=ip_report,
            kind="read",
            integration="shopify",
            status_text="montando o relatório de IPs…",
        ),
        Tool(
            name="shopify_propose_cancel_duplicates",
            description=(
                "Propõe cancelar pedidos duplicados: posta um cartão de confirmação no Slack "
                "(só um operador confirma; nada é cancelado por esta ferramenta). Sem "
                "order_names, propõe todos os duplicados certos; com order_names (ex. "
                '["#1234"]), só esses (um "possível" por vez).'
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "store": store_schema,
                    "order_names": {"type": "array", "items": {"type": "string"}},
                    "days": {"type": "integer", "minimum": 1, "maximum": 90},
                },
                "required": ["store"],
            },
            run=propose_cancel,
            kind="proposal",
            integration="shopify",
            status_text="preparando o cartão de confirmação…",
        ),
    ]
