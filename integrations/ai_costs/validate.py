"""Admin key validation: a bad key, a key of the wrong type/scope and a transient failure are
three different answers. An outage is never reported as a bad key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from integrations.ai_costs.common import VENDORS, Vendor
from integrations.runtime.errors import AuthError, ClientError, IntegrationError, NotConfigured

if TYPE_CHECKING:
    from bot.hub import Hub

KeyStatus = Literal["ok", "invalid", "wrong_scope", "transient", "unexpected", "not_configured"]


@dataclass(frozen=True)
class KeyCheck:
    vendor: str
    status: KeyStatus
    detail: str  # pt-BR, safe to show (never contains the key)
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _error_text(body: Any) -> tuple[str, str]:
    """(code or type, message) from an OpenAI or Anthropic error body."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code") or error.get("type") or ""
            return str(code), str(error.get("message") or "")
    return "", str(body or "")


def classify_openai(exc: IntegrationError) -> KeyStatus:
    if isinstance(exc, AuthError):
        code, message = _error_text(exc.body)
        lowered = message.lower()
        if "missing scopes" in lowered or "insufficient permissions" in lowered:
            return "wrong_scope"
        if exc.status_code == 403:
            return "wrong_scope"
        if code == "invalid_api_key" or "incorrect api key" in lowered or exc.status_code == 401:
            return "invalid"
    if isinstance(exc, ClientError):
        return "unexpected"
    return "transient"  # rate limit, 5xx, timeout, network, malformed body


def classify_anthropic(exc: IntegrationError) -> KeyStatus:
    if isinstance(exc, AuthError):
        code, _ = _error_text(exc.body)
        if exc.status_code == 403 or code == "permission_error":
            return "wrong_scope"
        return "invalid"
    if isinstance(exc, ClientError):
        return "unexpected"
    return "transient"


DETAILS: dict[str, dict[KeyStatus, str]] = {
    "openai": {
        "ok": "chave de administrador válida, com acesso a custos e uso",
        "invalid": "chave inválida ou revogada: gere uma nova chave de administrador "
        "(sk-admin-…) em platform.openai.com › Settings › Organization › Admin keys "
        "e atualize `OPENAI_ADMIN_API_KEY`",
        "wrong_scope": "a chave não tem permissão para ler custos (escopo `api.usage.read`): "
        "use uma chave de administrador da organização (sk-admin-…), não uma chave de projeto",
        "transient": "a OpenAI não respondeu agora (instabilidade ou limite de requisições); "
        "a chave não foi avaliada. Tente de novo em alguns minutos",
        "unexpected": "a OpenAI recusou a consulta de teste de um jeito inesperado; "
        "veja o log do hub",
    },
    "anthropic": {
        "ok": "chave Admin válida",
        "invalid": "chave inválida ou revogada: gere uma nova chave Admin (sk-ant-admin…) "
        "em console.anthropic.com › Settings › Admin keys e atualize `ANTHROPIC_ADMIN_API_KEY`",
        "wrong_scope": "a chave não é de administrador: relatórios de custo exigem uma chave "
        "Admin (sk-ant-admin…), não uma chave de API comum",
        "transient": "a Anthropic não respondeu agora (instabilidade ou limite de requisições); "
        "a chave não foi avaliada. Tente de novo em alguns minutos",
        "unexpected": "a Anthropic recusou a consulta de teste de um jeito inesperado; "
        "veja o log do hub",
    },
}


def _check(
    hub: Hub,
    vendor: str,
    make: Callable[[], Any],
    classify: Callable[[IntegrationError], KeyStatus],
) -> KeyCheck:
    try:
        client = make()
    except NotConfigured as exc:
        return KeyCheck(vendor, "not_configured", str(exc))
    try:
        client.probe()
    except IntegrationError as exc:
        status = classify(exc)
        return KeyCheck(vendor, status, DETAILS[vendor][status], exc.status_code)
    finally:
        client.close()
    return KeyCheck(vendor, "ok", DETAILS[vendor]["ok"], 200)


def validate_keys(hub: Hub, vendors: Sequence[Vendor] = VENDORS) -> list[KeyCheck]:
    """One cheap call per vendor in `vendors` (in that order)."""
    from integrations.ai_costs.anthropic_client import AnthropicAdminClient
    from integrations.ai_costs.openai_client import OpenAIAdminClient

    kinds: dict[str, tuple[Callable[[Hub], Any], Callable[[IntegrationError], KeyStatus]]] = {
        "openai": (OpenAIAdminClient, classify_openai),
        "anthropic": (AnthropicAdminClient, classify_anthropic),
    }
    return [
        _check(hub, vendor, partial(kinds[vendor][0], hub), kinds[vendor][1]) for vendor in vendors
    ]
