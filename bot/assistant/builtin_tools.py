"""The assistant's own tools (`health`, `search_docs`) and discovery of every area's tools.

Each service package may have `integrations/<svc>/tools.py` with `get_tools(hub) -> list[Tool]`
(empty when the service is not configured). Discovery walks the packages with pkgutil; a
module that fails to import or a `get_tools` that raises is skipped with an error log, so one
broken integration never takes the assistant down.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import TYPE_CHECKING, Any

from bot.assistant.knowledge import KnowledgeBase
from integrations.runtime.tools import Tool, ToolContext

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)

CONSULTED_GUIDES = "consulted_guides"
_TOOL_MODULES: list[str] | None = None


def _health(hub: Hub) -> Any:
    def run(_ctx: ToolContext, args: dict[str, Any]) -> Any:
        from integrations.runtime.health import health_report

        report = health_report(hub, probe=bool(args.get("probe", False)))
        data: Any = report.to_dict()
        return data

    return run


def _search_docs(hub: Hub) -> Any:
    def run(ctx: ToolContext, args: dict[str, Any]) -> Any:
        query = str(args.get("query", "")).strip()
        limit = min(max(int(args.get("limit", 5) or 5), 1), 8)
        kb = KnowledgeBase.for_hub(hub)
        hits = kb.search(query, limit=limit)
        # The answer must name the guides it used; the hub checks that after the turn.
        consulted: list[str] = ctx.extra.setdefault(CONSULTED_GUIDES, [])
        for hit in hits[:2]:
            if hit.guide not in consulted:
                consulted.append(hit.guide)
        return {
            "query": query,
            # The best sections in full (the answer comes from them), the rest as snippets.
            "results": [h.to_dict(with_text=i < 3) for i, h in enumerate(hits)],
            "guides_available": kb.guides() if not hits else [],
        }

    return run


def builtin_tools(hub: Hub) -> list[Tool]:
    return [
        Tool(
            name="search_docs",
            description=(
                "Busca nos guias do Chegou Hub (pt-BR): comandos /hub, o que cada relatório e "
                "alerta significa, confirmações, regras da operação, quem procurar. Devolve as "
                "seções mais relevantes (texto completo das 3 primeiras) com o título do guia; "
                "responda a partir delas e cite o título."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "description": "Palavras-chave em português, ex.: 'cancelar duplicados'",
                    },
                    "limit": {"type": "integer", "minimum": 1, "maximum": 8, "default": 5},
                },
                "required": ["query"],
            },
            run=_search_docs(hub),
            status_text="procurando nos guias…",
        ),
        Tool(
            name="health",
            description=(
                "Estado atual das integrações do hub (Shopify, OpenAI, Anthropic, Slack, …): "
                "pass/warn/fail/not_configured, taxa de sucesso, latência e último erro. Use "
                "para perguntas como 'a Shopify está fora do ar?'."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "probe": {
                        "type": "boolean",
                        "description": "Fazer uma chamada de teste agora (mais lento)",
                        "default": False,
                    }
                },
            },
            run=_health(hub),
            status_text="verificando as integrações…",
        ),
    ]


def _tool_modules() -> list[str]:
    """`integrations.<svc>.tools` module names (walked once per process, sorted)."""
    global _TOOL_MODULES
    if _TOOL_MODULES is None:
        import integrations

        _TOOL_MODULES = sorted(
            info.name
            for info in pkgutil.walk_packages(integrations.__path__, prefix="integrations.")
            if info.name.rsplit(".", 1)[-1] == "tools" and info.name != "integrations.runtime.tools"
        )
    return _TOOL_MODULES


def discover_tools(hub: Hub) -> list[Tool]:
    """Tools of every configured integration, then the built-ins (unique names, stable order:
    the tool list is the start of the cached prompt)."""
    tools: list[Tool] = []
    for name in _tool_modules():
        try:
            module = importlib.import_module(name)
            get_tools = getattr(module, "get_tools", None)
            if get_tools is None:
                continue
            tools.extend(get_tools(hub))
        except Exception:
            log.exception("assistant tools failed to load module=%s", name)
    tools.extend(builtin_tools(hub))
    unique: dict[str, Tool] = {}
    for tool in tools:
        if tool.name in unique:
            log.error("duplicate assistant tool name=%s (kept the first)", tool.name)
            continue
        unique[tool.name] = tool
    return list(unique.values())
