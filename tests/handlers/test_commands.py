from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from handlers.commands import describe_failure, parse
from integrations.runtime.errors import (
    AuthError,
    RateLimitedError,
    TimeoutError_,
    UpstreamUnavailable,
)


def _slack_error(code: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": code},
        headers={},
        status_code=200,
    )
    return SlackApiError(f"The request to the Slack API failed. {code}", response)


def test_parse() -> None:
    assert parse("") == ("help", [], "")
    assert parse("  Custos   7d openai ") == ("custos", ["7d", "openai"], "7d openai")


def test_failures_are_pt_br_with_reference_and_no_internals() -> None:
    ref = "REF-0000ABCD"
    cases = {
        "recusou as credenciais": AuthError("401 xoxb-secret", integration="shopify"),
        "Tente de novo em 30 s": RateLimitedError("429", retry_after=30, integration="openai"),
        "dropi está fora do ar": UpstreamUnavailable("503 body", integration="dropi"),
        "Shopify demorou demais": TimeoutError_("timed out", integration="shopify:br"),
        "não estou neste canal": _slack_error("not_in_channel"),
        "o Slack pediu para esperarmos": _slack_error("ratelimited"),
        "recusou o token do Chegou Hub": _slack_error("invalid_auth"),
        "Algo deu errado ao executar": KeyError("internal"),
    }
    for expected, exc in cases.items():
        text = describe_failure(exc, "executar `/hub x`", ref)
        assert expected in text, text
        assert ref in text
        assert "xoxb" not in text and "body" not in text and "internal" not in text
