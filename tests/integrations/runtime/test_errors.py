"""`user_message`: one pt-BR sentence per error category, with the integration's display name."""

from __future__ import annotations

import pytest

from integrations.runtime.errors import (
    CATEGORIES,
    CATEGORY_LABELS_PT,
    AuthError,
    BadResponse,
    ClientError,
    IntegrationError,
    NetworkError,
    RateLimitedError,
    TimeoutError_,
    UpstreamUnavailable,
    user_message,
)
from integrations.runtime.registry import display_name


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimeoutError_("timed out"), "Loja X demorou demais para responder."),
        (AuthError("401 sk-secret"), "Loja X recusou as credenciais configuradas. Avise um admin"),
        (
            RateLimitedError("429", retry_after=7.2),
            "Loja X atingiu o limite de requisições. Tente de novo em 8 s.",
        ),
        (RateLimitedError("429"), "Tente de novo em alguns minutos."),
        (UpstreamUnavailable("503"), "Loja X está fora do ar ou sobrecarregado agora."),
        (NetworkError("reset"), "Loja X está fora do ar ou sobrecarregado agora."),
        (BadResponse("not json"), "Loja X respondeu de forma inesperada."),
        (ClientError("422 bad field"), "Loja X recusou o pedido."),
    ],
)
def test_each_category_has_its_own_message(exc: IntegrationError, expected: str) -> None:
    text = user_message(exc, "Loja X")
    assert expected in text
    assert "sk-secret" not in text and "422" not in text and "HTTP" not in text


def test_display_name_comes_from_the_registry_for_sub_keys_too() -> None:
    assert display_name("shopify:loja-br") == "Shopify"
    assert display_name("claude") == "Claude (assistente)"
    assert display_name("desconhecida") == "desconhecida"
    text = user_message(TimeoutError_("timed out", integration="shopify:loja-br"))
    assert text.startswith("Shopify demorou demais")
    assert user_message(TimeoutError_("timed out")).startswith("o serviço externo demorou")


def test_every_category_has_a_pt_br_label() -> None:
    assert set(CATEGORY_LABELS_PT) == set(CATEGORIES)
