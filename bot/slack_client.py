"""The Slack WebClient used by the Bolt app and by notifiers.

One place decides the base URL (Slack or the local simulator), the timeout and the retry
handlers: slack-sdk retries only connection errors by default, so `RateLimitErrorRetryHandler`
is added to honour `Retry-After` on HTTP 429. Bolt copies base_url, timeout and retry handlers
into the per-request clients it builds, so listeners get the same behaviour.

The retry handler sleeps in the calling thread: never call the Web API on the ack path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.settings import Settings

SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT_SECONDS = 30
RATE_LIMIT_RETRIES = 3


def api_base_url(settings: Settings) -> str:
    """`SLACK_BASE_URL` points at a simulator root (e.g. http://127.0.0.1:9000); Slack otherwise."""
    if settings.slack_base_url:
        return settings.slack_base_url.rstrip("/") + "/api/"
    return SLACK_API_URL


def make_web_client(settings: Settings, *, token: str | None = None) -> WebClient:
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )

    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    return WebClient(
        token=token,
        base_url=api_base_url(settings),
        timeout=DEFAULT_TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )
