"""Per-integration token bucket that also obeys the server (Retry-After, cost headers).

`acquire(cost)` reserves `cost` tokens and waits (on the runtime's clock) until the bucket
covers them; reservations are taken in arrival order, so concurrent callers are paced at `rate`
after the first `burst`. `pause(seconds)` stops every caller until the server's window is over
(after a 429 with Retry-After); `charge(cost)` books a cost learnt after the fact. Area clients
that learn their real budget from the response (Shopify's `throttleStatus`,
`X-Shopify-Shop-Api-Call-Limit`) call `pause()` or `charge()` from the client's `on_response`
hook, on top of this.

When the wait would be longer than `max_wait` (settings.retry_after_cap_seconds), `acquire`
raises `RateLimitedError(retry_after=…)` at once instead of parking a worker thread for minutes
(a daily quota answered with `Retry-After: 3600` must reach the caller, not block it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bot.clock import Clock
from integrations.runtime.errors import RateLimitedError


@dataclass(frozen=True)
class RateLimit:
    rate: float  # tokens per second (0 or less: unlimited)
    burst: float  # bucket size


# The company's defaults (requests per second, burst). Overridable per integration with
# HUB_RATE_LIMITS='{"shopify": {"rate": 4, "burst": 80}}'.
DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    # Admin/usage APIs: generous, but no reason to hammer them.
    "openai": RateLimit(5, 10),
    "anthropic_admin": RateLimit(5, 10),
    "anthropic": RateLimit(5, 10),
    # Shopify REST leaky bucket on standard plans: 40 requests, leaking 2/s (per store).
    "shopify": RateLimit(2, 40),
    "smmraja": RateLimit(2, 5),
    "novelties": RateLimit(5, 10),
    # Order platforms ask for >= 50 ms between requests.
    "primecod": RateLimit(20, 1),
    "ecomhub": RateLimit(20, 1),
    "dropi": RateLimit(20, 1),
    "google_calendar": RateLimit(10, 20),
    "slack": RateLimit(10, 20),
}
FALLBACK_RATE_LIMIT = RateLimit(10, 20)


class RateLimiter:
    def __init__(
        self,
        name: str,
        limit: RateLimit,
        clock: Clock,
        *,
        max_wait: float | None = None,
    ) -> None:
        self.name = name
        self.rate = float(limit.rate)
        self.burst = max(float(limit.burst), 1.0)
        self.clock = clock
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock.monotonic()
        self._paused_until = 0.0
        self.waited_seconds = 0.0  # total time callers spent waiting (metrics)

    def _refill(self, now: float) -> None:
        if self.rate > 0 and now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = max(self._updated, now)

    def acquire(self, cost: float = 1.0) -> float:
        """Take `cost` tokens, waiting as needed; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self.clock.monotonic()
            self._refill(now)
            pause = max(0.0, self._paused_until - now)
            # After a pause the bucket restarts from what it holds; the deficit is paid at `rate`.
            deficit = max(0.0, cost - self._tokens)
            wait = max(pause, deficit / self.rate)
            if self.max_wait is not None and wait > self.max_wait:
                raise RateLimitedError(
                    "rate limited locally: waiting would exceed the cap",
                    integration=self.name,
                    operation="rate_limiter",
                    retry_after=wait,
                )
            self._tokens -= cost
            self.waited_seconds += wait
        if wait > 0:
            self.clock.sleep(wait)
        return wait

    def charge(self, cost: float) -> None:
        """Take `cost` tokens without waiting (a cost the server reported after the fact, such
        as a GraphQL query's actual cost): the debt delays the next `acquire`."""
        if self.rate <= 0 or cost <= 0:
            return
        with self._lock:
            self._refill(self.clock.monotonic())
            self._tokens -= cost

    def pause(self, seconds: float) -> None:
        """Stop every caller for `seconds` (the server said so)."""
        if seconds <= 0:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock.monotonic() + seconds)

    def paused_for(self) -> float:
        with self._lock:
            return max(0.0, self._paused_until - self.clock.monotonic())

    @property
    def tokens(self) -> float:
        with self._lock:
            self._refill(self.clock.monotonic())
            return self._tokens
