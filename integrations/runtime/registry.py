"""A uniform interface for integrations and the registry that finds them.

Each service package has an `integration.py` that calls `register(...)` at import; the
registry imports them all on first use. A failing integration module is skipped with an error
log instead of failing the whole app.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.hub import Hub
    from bot.settings import Settings

log = logging.getLogger(__name__)

HealthStatus = Literal["pass", "warn", "fail", "not_configured"]


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one live health probe."""

    status: HealthStatus
    detail: str = ""


@dataclass(frozen=True)
class Integration:
    name: str  # the runtime/integration key, e.g. "shopify", "openai"
    display_name: str
    # True when credentials are present (configured means enabled).
    is_configured: Callable[[Settings], bool]
    # Problems with present values (malformed), empty when fine.
    config_errors: Callable[[Settings], list[str]] = field(default=lambda _s: [])
    # How to configure it, in pt-BR, shown to users when it is not configured.
    how_to_configure: str = ""
    # One cheap upstream call; None when the integration has nothing to probe.
    health_check: Callable[[Hub], CheckResult] | None = None
    # Names of the settings fields it reads (for `chegou-hub config check`).
    settings_fields: tuple[str, ...] = ()


_REGISTRY: dict[str, Integration] = {}
_loaded = False


def register(integration: Integration) -> Integration:
    _REGISTRY[integration.name] = integration
    return integration


def all_integrations() -> list[Integration]:
    load_integrations()
    return sorted(_REGISTRY.values(), key=lambda i: i.name)


def get(name: str) -> Integration:
    load_integrations()
    return _REGISTRY[name]


def display_name(name: str) -> str:
    """How people know integration `name` ("shopify:br" → "Shopify"); the name if unknown."""
    from integrations.runtime.recorder import base_name

    load_integrations()
    integration = _REGISTRY.get(name) or _REGISTRY.get(base_name(name))
    return integration.display_name if integration else name


def load_integrations() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import integrations

    for info in pkgutil.walk_packages(integrations.__path__, prefix="integrations."):
        if info.name.rsplit(".", 1)[-1] != "integration":
            continue
        try:
            importlib.import_module(info.name)
        except Exception:
            log.exception("integration module failed to load module=%s", info.name)
