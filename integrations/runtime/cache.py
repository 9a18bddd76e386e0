"""Per-integration TTL cache with single-flight.

`get_or_fetch(key, fetch)` returns a fresh cached value, or joins the call already fetching the
same key (N concurrent identical requests make one upstream call and all get its result or its
error), or becomes that call. Only successful results are stored; errors are shared with the
callers waiting at that moment and then forgotten. Expiry runs on the runtime's clock, so tests
move a FakeClock past the TTL instead of sleeping. Bounded (least recently used entries go).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from bot.clock import Clock

T = TypeVar("T")

# The company's defaults, in seconds (0 = never cached). HUB_CACHE_TTLS overrides per integration.
DEFAULT_CACHE_TTLS: dict[str, float] = {
    "openai": 0,  # financial data: never cached
    "anthropic_admin": 0,  # financial data: never cached
    "anthropic": 0,
    "shopify": 300,
    "smmraja": 600,
    "novelties": 900,
    "primecod": 300,
    "ecomhub": 300,
    "dropi": 300,
}
MAX_ENTRIES = 1024

Outcome = Literal["hit", "miss", "shared"]


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None
    waiters: int = 0


class TTLCache(Generic[T]):
    def __init__(self, ttl: float, clock: Clock, *, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = float(ttl)
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: str) -> T | None:
        with self._lock:
            return self._get_locked(key)

    def _get_locked(self, key: str) -> T | None:
        item = self._entries.get(key)
        if item is None:
            return None
        expires, value = item
        if self.clock.monotonic() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: T) -> None:
        with self._lock:
            self._put_locked(key, value)

    def _put_locked(self, key: str, value: T) -> None:
        self._entries[key] = (self.clock.monotonic() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get_or_fetch(
        self,
        key: str,
        fetch: Callable[[], T],
        *,
        should_store: Callable[[T], bool] = lambda _v: True,
    ) -> tuple[T, Outcome]:
        with self._lock:
            cached = self._get_locked(key)
            if cached is not None:
                return cached, "hit"
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            else:
                flight.waiters += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value, "shared"
        try:
            value = fetch()
        except BaseException as exc:
            with self._lock:
                flight.error = exc
                del self._flights[key]
            flight.done.set()
            raise
        with self._lock:
            flight.value = value
            if should_store(value):
                self._put_locked(key, value)
            del self._flights[key]
        flight.done.set()
        return value, "miss"


def request_key(
    method: str,
    url: str,
    params: Any = None,
    body: Any = None,
    headers: Any = None,
) -> str:
    """A stable key for a request: method, URL, params, body, and a hash of the headers that
    differ between credentials (two clients with different tokens never share an entry)."""
    payload = json.dumps(
        [method.upper(), url, _norm(params), _norm(body), _norm(headers)],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _norm(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, dict):
        return sorted((str(k), _norm(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value
