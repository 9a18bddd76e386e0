"""Typed errors of external calls, each mapped to one recorded category."""

from __future__ import annotations

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
        super().__init__(message)
        self.message = message
        self.integration = integration
        self.operation = operation
        self.status_code = status_code
        # Parsed (and redacted) response body, for callers that must tell error kinds apart.
        self.body = body

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


class NotConfigured(Exception):
    """The integration has no credentials; the message says how to configure it (pt-BR)."""
