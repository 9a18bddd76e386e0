"""Typed errors of external calls, each mapped to one recorded category."""

from __future__ import annotations

import math
from typing import Any, Literal

Category = Literal["timeout", "network", "auth", "rate_limit", "server", "client", "bad_response"]
CATEGORIES: tuple[Category, ...] = (
    "timeout",
    "network",
    "auth",
    "rate_limit",
    "server",
    "client",
    "bad_response",
)


class IntegrationError(Exception):
    """Base of every error an integration call raises. Messages never contain secrets."""

    category: Category = "client"

    def __init__(
        self,
        message: str,
        *,
        integration: str = "",
        operation: str = "",
        status_code: int | None = None,
        body: Any = None,
    ) -> None:
        from bot.logging_setup import REDACTOR

        message = REDACTOR.scrub(message)
        super().__init__(message)
        self.message = message
        self.integration = integration
        self.operation = operation
        self.status_code = status_code
        # Parsed (and redacted) response body, for callers that must tell error kinds apart.
        self.body = REDACTOR.scrub_value(body)

    def __str__(self) -> str:
        where = f"{self.integration}.{self.operation}: " if self.integration else ""
        status = f" (HTTP {self.status_code})" if self.status_code else ""
        return f"{where}{self.message}{status}"


class AuthError(IntegrationError):
    category: Category = "auth"


class RateLimitedError(IntegrationError):
    category: Category = "rate_limit"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class TimeoutError_(IntegrationError):
    category: Category = "timeout"


class NetworkError(IntegrationError):
    category: Category = "network"


class UpstreamUnavailable(IntegrationError):
    category: Category = "server"


class BadResponse(IntegrationError):
    category: Category = "bad_response"


class ClientError(IntegrationError):
    category: Category = "client"


def category_of(exc: BaseException) -> Category:
    """The recorded category of any exception (typed errors, httpx's, vendor SDKs')."""
    if isinstance(exc, IntegrationError):
        return exc.category
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TransportError):
        return "network"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return category_for_status(status)
    name = type(exc).__name__.lower()
    if "timeout" in name:
        return "timeout"
    if "connection" in name or "network" in name:
        return "network"
    if isinstance(exc, ValueError):  # JSON/schema decoding of an answer
        return "bad_response"
    return "client"


def category_for_status(status: int) -> Category:
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status >= 500:
        return "server"
    return "client"


# Short pt-BR names of the categories (alerts, status views).
CATEGORY_LABELS_PT: dict[str, str] = {
    "timeout": "tempo esgotado",
    "network": "erro de rede",
    "auth": "credencial recusada",
    "rate_limit": "limite de requisições (429)",
    "server": "erro no servidor (5xx)",
    "client": "requisição recusada",
    "bad_response": "resposta inválida",
}


def category_label(category: str | None) -> str:
    """The pt-BR label of a recorded category ("?" when there is none)."""
    if not category:
        return "?"
    return CATEGORY_LABELS_PT.get(category, category)


def user_message(exc: IntegrationError, display: str | None = None) -> str:
    """What went wrong and what to do, in pt-BR for a Slack user (no internals, no secrets).

    `display` is the integration's name as people know it; by default the registry's
    `display_name` of `exc.integration`.
    """
    if display is None:
        from integrations.runtime.registry import display_name

        display = display_name(exc.integration) if exc.integration else "o serviço externo"
    match exc.category:
        case "timeout":
            return f"{display} demorou demais para responder. Tente de novo em alguns minutos."
        case "auth":
            return (
                f"{display} recusou as credenciais configuradas. Avise um administrador do "
                "Chegou Hub para renová-las (veja `/hub status`)."
            )
        case "rate_limit":
            retry_after = getattr(exc, "retry_after", None)
            wait = f"{math.ceil(retry_after)} s" if retry_after else "alguns minutos"
            return f"{display} atingiu o limite de requisições. Tente de novo em {wait}."
        case "server" | "network":
            return (
                f"{display} está fora do ar ou sobrecarregado agora. Tente de novo em alguns "
                "minutos; `/hub status` mostra a situação das integrações."
            )
        case "bad_response":
            return (
                f"{display} respondeu de forma inesperada. Tente de novo em alguns minutos; se "
                "repetir, avise um administrador."
            )
        case _:
            return (
                f"{display} recusou o pedido. Confira o que foi pedido; se repetir, avise um "
                "administrador."
            )


class NotConfigured(Exception):
    """The integration has no credentials; the message says how to configure it (pt-BR)."""
