"""Registers "claude": the assistant's model, enabled when ANTHROPIC_API_KEY is set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.runtime.registry import CheckResult, Integration, register

if TYPE_CHECKING:
    from bot.hub import Hub
    from bot.settings import Settings


def _configured(settings: Settings) -> bool:
    return settings.anthropic_api_key is not None and bool(
        settings.anthropic_api_key.get_secret_value().strip()
    )


def _config_errors(settings: Settings) -> list[str]:
    errors: list[str] = []
    if settings.assistant_max_tokens < 1:
        errors.append("ASSISTANT_MAX_TOKENS precisa ser maior que zero")
    if settings.assistant_max_rounds < 1:
        errors.append("ASSISTANT_MAX_ROUNDS precisa ser maior que zero")
    return errors


def _health_check(hub: Hub) -> CheckResult:
    """List the models (one cheap call) and check the configured one is available."""
    from integrations.claude.client import ClaudeClient
    from integrations.runtime.errors import AuthError, IntegrationError, category_label

    try:
        models = ClaudeClient.from_hub(hub).list_models()
    except AuthError:
        return CheckResult("fail", "chave ANTHROPIC_API_KEY recusada")
    except IntegrationError as exc:
        detail = f"API da Anthropic indisponível ({category_label(exc.category)})"
        return CheckResult("fail", detail)
    if hub.settings.assistant_model not in models:
        return CheckResult(
            "warn", f"modelo {hub.settings.assistant_model} não aparece em /v1/models"
        )
    return CheckResult("pass", f"modelo {hub.settings.assistant_model} disponível")


CLAUDE = register(
    Integration(
        name="claude",
        display_name="Claude (assistente)",
        is_configured=_configured,
        config_errors=_config_errors,
        how_to_configure=(
            "Defina `ANTHROPIC_API_KEY` (chave da API da Anthropic, console.anthropic.com → "
            "API keys). Opcional: `ASSISTANT_MODEL`, `ASSISTANT_MAX_TOKENS`."
        ),
        health_check=_health_check,
        settings_fields=(
            "anthropic_api_key",
            "anthropic_base_url",
            "assistant_model",
            "assistant_max_tokens",
            "assistant_timeout_seconds",
            "assistant_max_rounds",
            "assistant_rate_limit_count",
            "assistant_rate_limit_window_seconds",
            "assistant_max_input_chars",
            "assistant_history_token_budget",
            "assistant_thread_wait_seconds",
        ),
    )
)
