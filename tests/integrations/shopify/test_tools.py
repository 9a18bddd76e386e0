from __future__ import annotations

from typing import Any

from bot.hub import Hub
from integrations.runtime.harness import SimulatorServer
from integrations.runtime.tools import ToolContext
from integrations.shopify.simulator import ShopifySimulator
from integrations.shopify.tools import get_tools
from tests.integrations.shopify.fixtures import BR

Sim = tuple[ShopifySimulator, SimulatorServer]


def context(proposals: list[tuple[str, dict[str, Any]]]) -> ToolContext:
    def propose(kind: str, args: dict[str, Any]) -> str:
        proposals.append((kind, args))
        return "Cartão de confirmação enviado."

    return ToolContext(user_id="U1", channel_id="C1", thread_ts=None, propose=propose)


def test_no_tools_without_stores(hub: Hub) -> None:
    assert get_tools(hub) == []


def test_read_tools(shopify_sim: Sim, shop_hub: Hub) -> None:
    tools = {t.name: t for t in get_tools(shop_hub)}
    assert {t.kind for t in tools.values()} == {"read", "proposal"}
    dups = tools["shopify_find_duplicates"].run(context([]), {"store": "br"})
    assert dups["total_findings"] >= 5 and dups["findings"][0]["kept_order"]["id"]
    ips = tools["shopify_ip_report"].run(context([]), {"store": "br", "days": 30})
    assert "187.45.210.77" in {e["ip"] for e in ips["ips"]}
    assert tools["shopify_find_duplicates"].input_schema["properties"]["store"]["enum"] == [
        "br",
        "mx",
    ]


def test_proposal_tool_only_proposes(shopify_sim: Sim, shop_hub: Hub) -> None:
    sim, _ = shopify_sim
    tool = next(t for t in get_tools(shop_hub) if t.kind == "proposal")
    proposals: list[tuple[str, dict[str, Any]]] = []
    out = tool.run(context(proposals), {"store": "br"})
    assert out == {"result": "Cartão de confirmação enviado."}
    kind, args = proposals[0]
    assert kind == "shopify.cancel_duplicates" and len(args["orders"]) == 4
    assert all(o["confidence"] == "certain" for o in args["orders"])
    assert sim.shops[BR].cancel_calls == []  # nothing executed
    missing = tool.run(context(proposals), {"store": "br", "order_names": ["#1"]})
    assert "não encontrados" in missing["error"]
