"""The only way out to external HTTP APIs.

A `Runtime` owns, per integration, one pooled httpx client, a rate limiter, a TTL cache with
single-flight, the retry policy and the call recorder. Area clients build on `ServiceClient`:

    client = hub.runtime.client("shopify", base_url, headers={...}, secrets=[token])
    resp = client.request("POST", "/graphql.json", operation="orders.page", json=..., retry=True)

`retry=None` means "retry only if the method is safe" (GET/HEAD/OPTIONS); pass `retry=True` for
POSTs that only read (GraphQL queries) and never for calls that spend money or change state.

What one `request` does:

1. `cache=True` and the integration's TTL > 0: answer from the cache, or join the identical
   request already in flight (single-flight), or become that request.
2. Up to `retry_attempts` attempts (1 when retrying is not allowed). Before each attempt the
   integration's rate limiter is asked for `cost` tokens (waiting on the clock; failing fast
   with `RateLimitedError` if the server paused us for longer than `retry_after_cap_seconds`).
3. Each attempt is recorded (integration, operation, latency, status, category, attempt) in the
   batched `api_calls` buffer and in Prometheus.
4. Retried only on timeouts, network errors, 502/503/504 and 429; 429 waits `Retry-After`
   (and pauses the whole integration for it); a `Retry-After` above the cap is not waited for:
   the caller gets the `RateLimitedError` with `retry_after`. Other waits are exponential between
   `retry_wait_min_seconds` and `retry_wait_max_seconds`, through `clock.sleep`.

Integration keys may carry a sub-key (`shopify:loja1`): each key gets its own limiter and cache
(Shopify's limits are per store) with the defaults and overrides of its base name.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity import wait_exponential as _wait_exponential

from bot.clock import SYSTEM_CLOCK, Clock
from bot.logging_setup import REDACTOR, install_redaction
from integrations.runtime import metrics
from integrations.runtime.cache import DEFAULT_CACHE_TTLS, TTLCache, request_key
from integrations.runtime.errors import (
    AuthError,
    BadResponse,
    ClientError,
    IntegrationError,
    NetworkError,
    RateLimitedError,
    TimeoutError_,
    UpstreamUnavailable,
    category_of,
)
from integrations.runtime.ratelimit import (
    DEFAULT_RATE_LIMITS,
    FALLBACK_RATE_LIMIT,
    RateLimit,
    RateLimiter,
)
from integrations.runtime.recorder import CallRecord, CallRecorder, base_name

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.settings import Settings

__all__ = [
    "SAFE_METHODS",
    "CallRecord",
    "Runtime",
    "ServiceClient",
]

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})
RECENT_RECORDS = 1000
_BODY_SNIPPET = 200


# A request that got no HTTP answer, most specific httpx type first (the last one matches all).
_TRANSPORT_ERRORS: tuple[tuple[type[httpx.RequestError], type[IntegrationError], str], ...] = (
    (httpx.TimeoutException, TimeoutError_, "timed out"),
    (httpx.TransportError, NetworkError, "network error"),
    (httpx.DecodingError, BadResponse, "undecodable response"),
    (httpx.RequestError, ClientError, "request failed"),
)


@dataclass(frozen=True)
class CachedResponse:
    """An immutable copy of a successful response (what the cache and flights share)."""

    status_code: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    method: str
    url: str

    @classmethod
    def of(cls, response: httpx.Response) -> CachedResponse:
        return cls(
            response.status_code,
            tuple(response.headers.multi_items()),
            response.content,
            response.request.method,
            str(response.request.url),
        )

    def to_response(self) -> httpx.Response:
        return httpx.Response(
            self.status_code,
            headers=list(self.headers),
            content=self.content,
            request=httpx.Request(self.method, self.url),
        )


class ServiceClient:
    def __init__(
        self,
        runtime: Runtime,
        integration: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        secrets: Sequence[str] = (),
        timeout: httpx.Timeout | None = None,
        on_response: Callable[[httpx.Response, RateLimiter], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.integration = integration
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        # Credentials in headers are secrets even if the caller forgot to say so.
        implied = [_credential(value) for name, value in self._headers.items() if _sensitive(name)]
        self.secrets = tuple(s for s in (*secrets, *implied) if s)
        REDACTOR.add(*self.secrets)
        self.on_response = on_response
        settings = runtime.settings
        # Two clients of one integration with different credentials never share cache entries.
        self._identity = hashlib.sha256(
            jsonlib.dumps(sorted(self._headers.items())).encode()
        ).hexdigest()
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self._headers,
            timeout=timeout
            or httpx.Timeout(
                settings.http_read_timeout_seconds, connect=settings.http_connect_timeout_seconds
            ),
            limits=httpx.Limits(
                max_connections=20, max_keepalive_connections=10, keepalive_expiry=30
            ),
        )

    # --- public API -----------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
        cache: bool = False,
        cost: float = 1.0,
    ) -> httpx.Response:
        """Send one request; raise a typed `IntegrationError` for any failure."""
        response, _ = self._call(
            method,
            path,
            operation=operation,
            params=params,
            json=json,
            data=data,
            content=content,
            headers=headers,
            retry=retry,
            cache=cache,
            cost=cost,
            parse=False,
        )
        return response

    def json(self, method: str, path: str, *, operation: str, **kwargs: Any) -> Any:
        """`request` + JSON decoding; a body that is not JSON is a recorded `bad_response`."""
        _, parsed = self._call(method, path, operation=operation, parse=True, **kwargs)
        return parsed

    @contextmanager
    def stream_lines(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Any = None,
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
        cost: float = 1.0,
        chunk_size: int | None = None,
    ) -> Iterator[Iterator[bytes]]:
        """Stream the response body line by line (bytes, without the newline), never buffered.

            with client.stream_lines("GET", url, operation="bulk.download") as lines:
                for line in lines: ...

        Like `request`: rate limited, recorded (one record per attempt; the successful one when
        the body has been read or the block exits) and errors mapped to `IntegrationError`s.
        `chunk_size` None reads what the network delivers (a number makes httpx wait for that
        many bytes). Never cached. Retried (safe methods, or `retry=True`) only before the
        first byte reaches the caller: connection errors, timeouts and 429/5xx answers; a
        failure while reading the body is raised (`NetworkError`/`TimeoutError_`), since lines
        were already consumed.
        """
        method = method.upper()
        allowed = retry if retry is not None else method in SAFE_METHODS
        response, (started, t0, attempt) = self._with_retries(
            allowed,
            lambda n: self._open_stream(
                method,
                path,
                operation=operation,
                params=params,
                headers=headers,
                cost=cost,
                attempt=n,
            ),
        )
        recorded = False

        def record(error: IntegrationError | None) -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                self._record(operation, started, t0, response.status_code, error, attempt)

        def lines() -> Iterator[bytes]:
            pending = b""
            try:
                for chunk in response.iter_bytes(chunk_size):
                    if pending:
                        chunk = pending + chunk
                    parts = chunk.split(b"\n")
                    pending = parts.pop()
                    yield from parts
            except httpx.TimeoutException as exc:
                err: IntegrationError = TimeoutError_(
                    f"timed out while reading the body ({type(exc).__name__})",
                    integration=self.integration,
                    operation=operation,
                )
                record(err)
                raise err from None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                err = NetworkError(
                    f"connection lost while reading the body ({type(exc).__name__})",
                    integration=self.integration,
                    operation=operation,
                )
                record(err)
                raise err from None
            if pending:
                yield pending

        try:
            yield lines()
        finally:
            response.close()
            record(None)

    def _open_stream(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Any,
        headers: dict[str, str] | None,
        cost: float,
        attempt: int,
    ) -> tuple[httpx.Response, tuple[Any, float, int]]:
        """One attempt: send, read only the status line and headers, map the errors."""
        runtime = self.runtime
        waited = runtime.limiter(self.integration).acquire(cost)
        if waited:
            metrics.RATE_LIMIT_WAIT.labels(base_name(self.integration)).inc(waited)
        clock = runtime.clock
        started = clock.now()
        t0 = clock.monotonic()
        status: int | None = None
        try:
            request = self._http.build_request(method, path, params=params, headers=headers)
            try:
                response = self._http.send(request, stream=True)
            except httpx.RequestError as exc:
                raise self._transport_error(exc, operation) from None
            status = response.status_code
            if status >= 400:
                try:
                    response.read()  # an error body is small; _raise_for_status reads it
                except httpx.HTTPError:
                    pass
                finally:
                    response.close()
            self._rate_signals(response)
            self._raise_for_status(response, operation)
        except IntegrationError as err:
            if isinstance(err, RateLimitedError) and err.retry_after:
                runtime.limiter(self.integration).pause(err.retry_after)
            self._record(operation, started, t0, status, err, attempt)
            raise
        return response, (started, t0, attempt)

    def close(self) -> None:
        self._http.close()

    # --- internals ------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
        cache: bool = False,
        cost: float = 1.0,
        parse: bool,
    ) -> tuple[httpx.Response, Any]:
        method = method.upper()
        allowed = retry if retry is not None else method in SAFE_METHODS
        if cache and not (method in SAFE_METHODS or retry is True):
            # Collapsing or replaying a call that changes state would silently drop a purchase.
            raise ValueError("cache=True is only for reads (a safe method, or retry=True)")

        def fetch() -> tuple[httpx.Response, Any]:
            return self._with_retries(
                allowed,
                lambda attempt: self._attempt(
                    method,
                    path,
                    operation=operation,
                    params=params,
                    json=json,
                    data=data,
                    content=content,
                    headers=headers,
                    cost=cost,
                    parse=parse,
                    attempt=attempt,
                ),
            )

        store = self.runtime.cache(self.integration)
        if not (cache and store.enabled):
            return fetch()

        key = request_key(
            method,
            self.base_url + path,
            params,
            json if json is not None else data if data is not None else content,
            [self._identity, sorted((headers or {}).items())],
        )
        stored, outcome = store.get_or_fetch(key, lambda: CachedResponse.of(fetch()[0]))
        metrics.CACHE.labels(base_name(self.integration), outcome).inc()
        response = stored.to_response()
        if not parse:
            return response, None
        try:
            return response, response.json()
        except ValueError as exc:  # only reachable if a non-JSON body was cached by request()
            raise BadResponse(
                "cached response is not valid JSON",
                integration=self.integration,
                operation=operation,
                status_code=response.status_code,
            ) from exc

    def _with_retries(
        self, allowed: bool, attempt_fn: Callable[[int], tuple[httpx.Response, Any]]
    ) -> tuple[httpx.Response, Any]:
        runtime = self.runtime
        attempts = max(1, runtime.settings.retry_attempts) if allowed else 1
        if attempts == 1:
            return attempt_fn(1)
        counter = {"n": 0}

        def one() -> tuple[httpx.Response, Any]:
            counter["n"] += 1
            return attempt_fn(counter["n"])

        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=runtime.retry_wait,
            retry=retry_if_exception(runtime.is_retryable),
            sleep=runtime.clock.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(one)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        category = category_of(exc) if exc else "unknown"
        metrics.RETRIES.labels(base_name(self.integration), category).inc()
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "retrying call integration=%s operation=%s attempt=%d category=%s wait_s=%.2f",
            self.integration,
            getattr(exc, "operation", ""),
            state.attempt_number + 1,
            category,
            wait,
        )

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Any,
        json: Any,
        data: Any,
        content: bytes | None,
        headers: dict[str, str] | None,
        cost: float,
        parse: bool,
        attempt: int,
    ) -> tuple[httpx.Response, Any]:
        runtime = self.runtime
        waited = runtime.limiter(self.integration).acquire(cost)
        if waited:
            metrics.RATE_LIMIT_WAIT.labels(base_name(self.integration)).inc(waited)
        clock = runtime.clock
        started = clock.now()
        t0 = clock.monotonic()
        status: int | None = None
        try:
            try:
                response = self._http.request(
                    method,
                    path,
                    params=params,
                    json=json,
                    data=data,
                    content=content,
                    headers=headers,
                )
            except httpx.RequestError as exc:
                raise self._transport_error(exc, operation) from None
            status = response.status_code
            self._rate_signals(response)
            self._raise_for_status(response, operation)
            parsed: Any = None
            if parse:
                try:
                    parsed = response.json()
                except ValueError:
                    raise BadResponse(
                        "response is not valid JSON: " + _snippet(response.text),
                        integration=self.integration,
                        operation=operation,
                        status_code=status,
                    ) from None
        except IntegrationError as err:
            if isinstance(err, RateLimitedError) and err.retry_after:
                runtime.limiter(self.integration).pause(err.retry_after)
            self._record(operation, started, t0, status, err, attempt)
            log.debug(
                "call failed integration=%s operation=%s method=%s path=%s status=%s category=%s",
                self.integration,
                operation,
                method,
                path.split("?", 1)[0],
                status,
                err.category,
            )
            raise
        self._record(operation, started, t0, status, None, attempt)
        return response, parsed

    def _transport_error(self, exc: httpx.RequestError, operation: str) -> IntegrationError:
        """The typed error of a request that got no HTTP answer."""
        error_type, what = next((e, w) for t, e, w in _TRANSPORT_ERRORS if isinstance(exc, t))
        return error_type(
            f"{what} ({type(exc).__name__})", integration=self.integration, operation=operation
        )

    def _rate_signals(self, response: httpx.Response) -> None:
        limiter = self.runtime.limiter(self.integration)
        standard_rate_signals(response, limiter, self.runtime.clock)
        if self.on_response is not None:
            try:
                self.on_response(response, limiter)
            except Exception:  # a pacing hook must not turn a good answer into a failure
                log.exception(
                    "on_response hook failed integration=%s status=%s",
                    self.integration,
                    response.status_code,
                )

    def _raise_for_status(self, response: httpx.Response, operation: str) -> None:
        status = response.status_code
        if status < 400:
            return
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:500]
        snippet = _snippet(body if isinstance(body, str) else jsonlib.dumps(body, default=str))
        kw: dict[str, Any] = {
            "integration": self.integration,
            "operation": operation,
            "status_code": status,
            "body": body,
        }
        if status in (401, 403):
            raise AuthError(f"authentication failed: {snippet}", **kw)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"), self.runtime.clock)
            raise RateLimitedError(f"rate limited: {snippet}", retry_after=retry_after, **kw)
        if status >= 500:
            raise UpstreamUnavailable(f"upstream unavailable: {snippet}", **kw)
        raise ClientError(f"request rejected: {snippet}", **kw)

    def _record(
        self,
        operation: str,
        started: Any,
        t0: float,
        status: int | None,
        error: IntegrationError | None,
        attempt: int = 1,
    ) -> None:
        latency_ms = (self.runtime.clock.monotonic() - t0) * 1000.0
        self.runtime.record(
            CallRecord(
                integration=self.integration,
                operation=operation,
                started_at=started,
                latency_ms=latency_ms,
                ok=error is None,
                status_code=status,
                category=error.category if error else None,
                error=error.message if error else None,
                attempt=attempt,
            )
        )


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _BODY_SNIPPET else text[: _BODY_SNIPPET - 1] + "…"


def parse_retry_after(value: str | None, clock: Clock = SYSTEM_CLOCK) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    from datetime import UTC
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - clock.now()).total_seconds(), 0.0)


def standard_rate_signals(response: httpx.Response, limiter: RateLimiter, clock: Clock) -> None:
    """Obey the common quota headers: `RateLimit-Remaining`/`RateLimit-Reset` (IETF draft) and
    `X-RateLimit-Remaining`/`X-RateLimit-Reset` (seconds, or an epoch timestamp). An exhausted
    quota pauses the integration until the reset. Vendor-specific signals (Shopify's query cost)
    go through the client's `on_response` hook."""
    headers = response.headers
    for prefix in ("ratelimit-", "x-ratelimit-"):
        remaining = headers.get(prefix + "remaining")
        if remaining is None:
            continue
        try:
            left = float(remaining.split(",")[0].split(";")[0])
            reset = float(headers.get(prefix + "reset", "").split(",")[0].split(";")[0] or 0)
        except ValueError:
            return
        if left > 0 or reset <= 0:
            return
        if reset > 1_000_000_000:  # an epoch timestamp rather than a delta
            reset = reset - clock.now().timestamp()
        limiter.pause(min(max(reset, 0.0), 3600.0))
        return


_SENSITIVE_HEADERS = ("authorization", "token", "secret", "api-key", "apikey", "x-api-key")


def _sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in _SENSITIVE_HEADERS)


def _credential(value: str) -> str:
    """The secret part of a credential header ("Bearer abc" → "abc")."""
    scheme, _, rest = value.partition(" ")
    return rest.strip() if rest and scheme.lower() in ("bearer", "basic", "token") else value


class Runtime:
    """Shared machinery for every integration of one process."""

    def __init__(
        self, settings: Settings, engine: Engine | None = None, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()
        # Recent records of this process, newest last (tests, debugging); bounded.
        self.records: list[CallRecord] = []
        # Weak: an area client dropped by its owner is garbage collected with its pool, and the
        # ones still alive are closed with the runtime.
        self._clients: weakref.WeakSet[ServiceClient] = weakref.WeakSet()
        self._limiters: dict[str, RateLimiter] = {}
        self._caches: dict[str, TTLCache[CachedResponse]] = {}
        # Prometheus label children per (integration key, operation, category): labels() is a
        # locked dict lookup plus argument checks, too slow for every call.
        self._metric_children: dict[tuple[str, str, str], tuple[Any, Any, Any, Any]] = {}
        self.recorder = CallRecorder(
            engine,
            flush_size=settings.call_record_flush_size,
            flush_seconds=settings.call_record_flush_seconds,
            unavailable_after=settings.alert_consecutive_failures,
        )
        install_redaction()
        REDACTOR.add_from(settings)
        self._exp_wait = _wait_exponential(
            multiplier=settings.retry_wait_min_seconds,
            min=settings.retry_wait_min_seconds,
            max=settings.retry_wait_max_seconds,
        )

    # --- per-integration machinery ------------------------------------------------------
    def client(self, integration: str, base_url: str, **kwargs: Any) -> ServiceClient:
        client = ServiceClient(self, integration, base_url, **kwargs)
        with self._lock:
            self._clients.add(client)
        return client

    def rate_limit(self, integration: str) -> RateLimit:
        base = base_name(integration)
        default = DEFAULT_RATE_LIMITS.get(base, FALLBACK_RATE_LIMIT)
        overrides = self.settings.hub_rate_limits
        override = overrides.get(integration) or overrides.get(base) or {}
        return RateLimit(
            rate=float(override.get("rate", default.rate)),
            burst=float(override.get("burst", default.burst)),
        )

    def cache_ttl(self, integration: str) -> float:
        base = base_name(integration)
        ttls = self.settings.hub_cache_ttls
        if integration in ttls:
            return float(ttls[integration])
        if base in ttls:
            return float(ttls[base])
        return float(DEFAULT_CACHE_TTLS.get(base, 0.0))

    def limiter(self, integration: str) -> RateLimiter:
        """The integration's rate limiter: `acquire(cost)` and `pause(seconds)`."""
        with self._lock:
            limiter = self._limiters.get(integration)
            if limiter is None:
                limiter = self._limiters[integration] = RateLimiter(
                    integration,
                    self.rate_limit(integration),
                    self.clock,
                    max_wait=self.settings.retry_after_cap_seconds,
                )
            return limiter

    def cache(self, integration: str) -> TTLCache[CachedResponse]:
        with self._lock:
            store = self._caches.get(integration)
            if store is None:
                store = self._caches[integration] = TTLCache(
                    self.cache_ttl(integration), self.clock
                )
            return store

    # --- retry policy -------------------------------------------------------------------
    def is_retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, TimeoutError_ | NetworkError):
            return True
        if isinstance(exc, RateLimitedError):
            cap = self.settings.retry_after_cap_seconds
            return exc.retry_after is None or exc.retry_after <= cap
        if isinstance(exc, UpstreamUnavailable):
            return exc.status_code in RETRYABLE_STATUSES
        return False

    def retry_wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, self.settings.retry_after_cap_seconds)
        return float(self._exp_wait(state))

    # --- recording ----------------------------------------------------------------------
    def record(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)
            if len(self.records) > 2 * RECENT_RECORDS:
                del self.records[:RECENT_RECORDS]
        consecutive = self.recorder.add(record)
        category = record.category or "ok"
        key = (record.integration, record.operation, category)
        children = self._metric_children.get(key)
        if children is None:
            base = base_name(record.integration)
            children = self._metric_children[key] = (
                metrics.CALLS.labels(base, record.operation, category),
                metrics.LATENCY.labels(base, record.operation),
                metrics.ERRORS.labels(base, category) if record.category else None,
                metrics.CONSECUTIVE_FAILURES.labels(record.integration),
            )
        calls, latency, errors, failures = children
        calls.inc()
        latency.observe(record.latency_ms / 1000.0)
        if errors is not None and not record.ok:
            errors.inc()
        failures.set(consecutive)

    @contextmanager
    def track(self, integration: str, operation: str) -> Iterator[None]:
        """Time and record a call made through a vendor SDK (Anthropic, Google).

        Exceptions pass through unchanged; they are recorded with their category (typed errors,
        httpx errors, SDK errors with a `status_code`, timeouts and connection errors by name).
        """
        started = self.clock.now()
        t0 = self.clock.monotonic()
        try:
            yield
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            message = exc.message if isinstance(exc, IntegrationError) else type(exc).__name__
            self.record(
                CallRecord(
                    integration,
                    operation,
                    started,
                    (self.clock.monotonic() - t0) * 1000,
                    False,
                    status if isinstance(status, int) else None,
                    category_of(exc),
                    REDACTOR.scrub(message),
                )
            )
            raise
        self.record(
            CallRecord(
                integration,
                operation,
                started,
                (self.clock.monotonic() - t0) * 1000,
                True,
                None,
                None,
                None,
            )
        )

    def flush(self) -> None:
        """Write buffered call records to the database."""
        self.recorder.flush()

    def close(self) -> None:
        self.recorder.close()
        with self._lock:
            clients, self._clients = list(self._clients), weakref.WeakSet()
        for client in clients:
            client.close()


def dumps(value: Any) -> str:
    return jsonlib.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
