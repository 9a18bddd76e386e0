"""The only way out to external HTTP APIs.

A `Runtime` owns, per integration, one pooled httpx client, a rate limiter, a TTL cache with
single-flight, the retry policy and the call recorder. Area clients build on `ServiceClient`:

    client = hub.runtime.client("shopify", base_url, headers={...}, secrets=[token])
    resp = client.request("POST", "/graphql.json", operation="orders.page", json=..., retry=True)

`retry=None` means "retry only if the method is safe" (GET/HEAD/OPTIONS); pass `retry=True` for
POSTs that only read (GraphQL queries) and never for calls that spend money or change state.
"""

from __future__ import annotations

import json as jsonlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from bot.clock import SYSTEM_CLOCK, Clock
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
from integrations.runtime.recorder import CallRecord, CallRecorder

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RECENT_RECORDS = 1000


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
    ) -> None:
        self.runtime = runtime
        self.integration = integration
        self.base_url = base_url.rstrip("/")
        self.secrets = tuple(s for s in secrets if s)
        settings = runtime.settings
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers or {},
            timeout=timeout
            or httpx.Timeout(
                settings.http_read_timeout_seconds, connect=settings.http_connect_timeout_seconds
            ),
        )

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
        clock = self.runtime.clock
        started = clock.now()
        t0 = clock.monotonic()
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
            self._raise_for_status(response, operation)
        except IntegrationError as exc:
            self._record(operation, started, t0, exc.status_code, exc)
            raise
        except httpx.TimeoutException as exc:
            err = TimeoutError_("timed out", integration=self.integration, operation=operation)
            self._record(operation, started, t0, None, err)
            raise err from exc
        except httpx.TransportError as exc:
            err2 = NetworkError(
                f"network error: {type(exc).__name__}",
                integration=self.integration,
                operation=operation,
            )
            self._record(operation, started, t0, None, err2)
            raise err2 from exc
        self._record(operation, started, t0, response.status_code, None)
        return response

    def json(self, method: str, path: str, *, operation: str, **kwargs: Any) -> Any:
        response = self.request(method, path, operation=operation, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise BadResponse(
                "response is not valid JSON", integration=self.integration, operation=operation
            ) from exc

    def close(self) -> None:
        self._http.close()

    def _raise_for_status(self, response: httpx.Response, operation: str) -> None:
        status = response.status_code
        if status < 400:
            return
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:500]
        kw: dict[str, Any] = {
            "integration": self.integration,
            "operation": operation,
            "status_code": status,
            "body": body,
        }
        if status in (401, 403):
            raise AuthError("authentication failed", **kw)
        if status == 429:
            retry_after = _parse_retry_after(response.headers.get("retry-after"))
            raise RateLimitedError("rate limited", retry_after=retry_after, **kw)
        if status >= 500:
            raise UpstreamUnavailable("upstream unavailable", **kw)
        raise ClientError("request rejected", **kw)

    def _record(
        self,
        operation: str,
        started: Any,
        t0: float,
        status: int | None,
        error: IntegrationError | None,
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
            )
        )


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


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
        self._clients: list[ServiceClient] = []
        self.recorder = CallRecorder(
            engine,
            flush_size=settings.call_record_flush_size,
            flush_seconds=settings.call_record_flush_seconds,
            unavailable_after=settings.alert_consecutive_failures,
        )

    def client(self, integration: str, base_url: str, **kwargs: Any) -> ServiceClient:
        client = ServiceClient(self, integration, base_url, **kwargs)
        with self._lock:
            self._clients.append(client)
        return client

    def record(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)
            if len(self.records) > 2 * RECENT_RECORDS:
                del self.records[:RECENT_RECORDS]
        self.recorder.add(record)

    @contextmanager
    def track(self, integration: str, operation: str) -> Iterator[None]:
        """Time and record a call made through a vendor SDK (Anthropic, Google)."""
        started = self.clock.now()
        t0 = self.clock.monotonic()
        try:
            yield
        except IntegrationError as exc:
            self.record(
                CallRecord(
                    integration,
                    operation,
                    started,
                    (self.clock.monotonic() - t0) * 1000,
                    False,
                    exc.status_code,
                    exc.category,
                    exc.message,
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
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


def dumps(value: Any) -> str:
    return jsonlib.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
