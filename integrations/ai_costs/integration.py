"""Registry entries of the two admin APIs behind AI spend monitoring."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from integrations.runtime.registry import CheckResult, Integration, register

if TYPE_CHECKING:
    from bot.hub import Hub
    from bot.settings import Settings
    from integrations.ai_costs.common import Vendor


def _openai_errors(settings: Settings) -> list[str]:
    key = settings.openai_admin_api_key
    if key is None:
        return []
    value = key.get_secret_value()
    if value.startswith(("sk-proj-", "sk-svcacct-")):
        return [
            "OPENAI_ADMIN_API_KEY parece uma chave de projeto; custos exigem uma chave de "
            "administrador (sk-admin-…)"
        ]
    if not value.startswith("sk-"):
        return ["OPENAI_ADMIN_API_KEY não parece uma chave da OpenAI (esperado sk-admin-…)"]
    return []


def _anthropic_errors(settings: Settings) -> list[str]:
    key = settings.anthropic_admin_api_key
    if key is None:
        return []
    value = key.get_secret_value()
    if value.startswith("sk-ant-api"):
        return [
            "ANTHROPIC_ADMIN_API_KEY é uma chave de API comum; relatórios de custo exigem uma "
            "chave Admin (sk-ant-admin…)"
        ]
    if not value.startswith("sk-ant-"):
        return ["ANTHROPIC_ADMIN_API_KEY não parece uma chave da Anthropic (sk-ant-admin…)"]
    return []


def _health(vendor: Vendor) -> Callable[[Hub], CheckResult]:
    def check(hub: Hub) -> CheckResult:
        from integrations.ai_costs.validate import validate_keys

        [result] = validate_keys(hub, [vendor])  # probes this vendor only
        if result.status == "ok":
            return CheckResult("pass", result.detail)
        if result.status == "not_configured":
            return CheckResult("not_configured", result.detail)
        return CheckResult("fail", result.detail)

    return check


register(
    Integration(
        name="openai",
        display_name="OpenAI (custos e uso)",
        is_configured=lambda s: s.openai_admin_api_key is not None,
        config_errors=_openai_errors,
        how_to_configure=(
            "Defina `OPENAI_ADMIN_API_KEY` com uma chave de administrador da organização "
            "(sk-admin-…, em platform.openai.com › Settings › Organization › Admin keys)."
        ),
        health_check=_health("openai"),
        settings_fields=(
            "openai_admin_api_key",
            "openai_base_url",
            "ai_costs_backfill_days",
            "ai_costs_resync_days",
            "ai_budgets",
            "ai_spike_min_usd",
            "ai_spike_cooldown_hours",
        ),
    )
)

register(
    Integration(
        name="anthropic_admin",
        display_name="Anthropic (custos e uso)",
        is_configured=lambda s: s.anthropic_admin_api_key is not None,
        config_errors=_anthropic_errors,
        how_to_configure=(
            "Defina `ANTHROPIC_ADMIN_API_KEY` com uma chave Admin da organização "
            "(sk-ant-admin…, em console.anthropic.com › Settings › Admin keys)."
        ),
        health_check=_health("anthropic"),
        settings_fields=(
            "anthropic_admin_api_key",
            "anthropic_admin_base_url",
            "ai_budgets",
            "ai_model_prices",
        ),
    )
)
