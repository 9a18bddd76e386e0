"""The anthropic SDK behind one small, typed, timed client.

Every SDK call runs inside `hub.runtime.track("claude", ...)` and SDK exceptions become the
runtime's typed errors (`integrations.runtime.errors`). The SDK's own retries are off
(`max_retries=0`): `stream_message` retries deliberately, only before any text reached the user
(429 honouring `retry-after` up to the cap, 5xx/529, network errors, timeouts), sleeping on the
hub's clock so tests never wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from integrations.runtime.errors import (
    AuthError,
    BadResponse,
    ClientError,
    IntegrationError,
    NetworkError,
    RateLimitedError,
    TimeoutError_,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import Message

    from bot.hub import Hub

log = logging.getLogger(__name__)

INTEGRATION = "claude"
RETRYABLE = (RateLimitedError, UpstreamUnavailable, NetworkError, TimeoutError_)


class ContextWindowExceeded(ClientError):
    """The prompt does not fit the model's context window (HTTP 400 from the API)."""


@dataclass
class CallTiming:
    """Wall time spent waiting on the model (for the hub-overhead benchmark)."""

    seconds: float = 0.0
    calls: int = 0


class ClaudeClient:
    def __init__(self, hub: Hub, sdk: anthropic.Anthropic) -> None:
        self.hub = hub
        self.sdk = sdk
        self.timing = CallTiming()

    @classmethod
    def from_hub(cls, hub: Hub) -> ClaudeClient:
        """One client per hub (pooled connections), built on first use."""
        existing = hub.services.get("claude.client")
        if isinstance(existing, ClaudeClient):
            return existing
        import anthropic
        import httpx2

        settings = hub.settings
        if settings.anthropic_api_key is None:
            raise AuthError("ANTHROPIC_API_KEY is not set", integration=INTEGRATION)
        sdk = anthropic.Anthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            max_retries=0,
            timeout=httpx2.Timeout(
                settings.assistant_timeout_seconds, connect=settings.http_connect_timeout_seconds
            ),
        )
        client = cls(hub, sdk)
        hub.services["claude.client"] = client
        return client

    # --- calls --------------------------------------------------------------------------------
    def list_models(self) -> list[str]:
        with self.hub.runtime.track(INTEGRATION, "models.list"), _mapped("models.list"):
            return [m.id for m in self.sdk.models.list(limit=100)]

    def stream_message(
        self, params: dict[str, Any], on_text: Callable[[str], None] | None = None
    ) -> Message:
        """One Messages API call streamed; text deltas go to `on_text` as they arrive."""
        settings = self.hub.settings
        attempts = max(1, settings.retry_attempts)
        for attempt in range(1, attempts + 1):
            emitted = False

            def forward(text: str) -> None:
                nonlocal emitted
                emitted = True
                if on_text is not None:
                    on_text(text)

            try:
                return self._stream_once(params, forward)
            except RETRYABLE as exc:
                if emitted or attempt == attempts:
                    raise
                wait = self._backoff(exc, attempt)
                log.warning(
                    "claude call failed, retrying category=%s attempt=%d wait_s=%.1f",
                    exc.category,
                    attempt,
                    wait,
                )
                self.hub.clock.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _stream_once(self, params: dict[str, Any], on_text: Callable[[str], None]) -> Message:
        t0 = time.perf_counter()
        try:
            with (
                self.hub.runtime.track(INTEGRATION, "messages.create"),
                _mapped("messages.create"),
                self.sdk.messages.stream(**params) as stream,
            ):
                for event in stream:
                    if event.type == "text":
                        on_text(event.text)
                return stream.get_final_message()
        finally:
            self.timing.seconds += time.perf_counter() - t0
            self.timing.calls += 1

    def _backoff(self, exc: IntegrationError, attempt: int) -> float:
        settings = self.hub.settings
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, settings.retry_after_cap_seconds)
        wait = settings.retry_wait_min_seconds * (2 ** (attempt - 1))
        return float(min(wait, settings.retry_wait_max_seconds))


@contextmanager
def _mapped(operation: str) -> Iterator[None]:
    """Turn anthropic SDK exceptions into the runtime's typed errors (no secrets in them)."""
    import anthropic

    try:
        yield
    except anthropic.APIStatusError as exc:
        raise map_status_error(exc, operation) from exc
    except anthropic.APITimeoutError as exc:
        raise TimeoutError_("timed out", integration=INTEGRATION, operation=operation) from exc
    except anthropic.APIConnectionError as exc:
        raise NetworkError(
            "connection error", integration=INTEGRATION, operation=operation
        ) from exc
    except anthropic.APIResponseValidationError as exc:
        raise BadResponse(
            "response did not match the schema", integration=INTEGRATION, operation=operation
        ) from exc


def map_status_error(exc: Any, operation: str) -> IntegrationError:
    status = int(getattr(exc, "status_code", 0) or 0)
    body = getattr(exc, "body", None)
    error_type = getattr(exc, "type", None)
    api_message = str(getattr(exc, "api_message", "") or "")
    kw: dict[str, Any] = {
        "integration": INTEGRATION,
        "operation": operation,
        "status_code": status,
        "body": body,
    }
    # An `error` event in the middle of a stream arrives with the stream's HTTP 200.
    if error_type == "overloaded_error" or status == 529:
        return UpstreamUnavailable("overloaded", **kw)
    if error_type == "rate_limit_error" or status == 429:
        retry_after = None
        response = getattr(exc, "response", None)
        if response is not None:
            try:
                retry_after = float(response.headers.get("retry-after", ""))
            except ValueError:
                retry_after = None
        return RateLimitedError("rate limited", retry_after=retry_after, **kw)
    if status in (401, 403) or error_type in ("authentication_error", "permission_error"):
        return AuthError("authentication failed", **kw)
    if status >= 500 or error_type == "api_error":
        return UpstreamUnavailable("upstream unavailable", **kw)
    if "context window" in api_message.lower() or "prompt is too long" in api_message.lower():
        return ContextWindowExceeded("prompt too long", **kw)
    return ClientError("request rejected", **kw)
