"""Shopify Admin GraphQL client: one per store, through `hub.runtime` (the only way out).

- Auth: a static access token, or the client credentials grant (client id + secret → a token
  valid 24 h) refreshed before it expires and once more on a 401.
- Pacing: the leaky bucket state from `extensions.cost.throttleStatus` is tracked on the hub
  clock; before each request the client waits until the bucket covers the request's expected
  cost (the last measured `requestedQueryCost` of that operation), so normal operation never
  gets THROTTLED. A THROTTLED answer (HTTP 200 or 429) is still handled: wait and resend.
- Page sizes come from the measured cost: the first page is small, later pages are as large as
  the 1,000-point cap and the bucket allow.
- Windows longer than `settings.shopify_bulk_threshold_days` use a bulk operation (JSONL).
- Queries are sent with `retry=True` (they only read); mutations with `retry=False`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from integrations.runtime.errors import (
    AuthError,
    ClientError,
    IntegrationError,
    RateLimitedError,
)
from integrations.shopify import queries
from integrations.shopify.orders import Order, order_from_node, orders_from_jsonl

if TYPE_CHECKING:
    from bot.hub import Hub
    from bot.settings import ShopifyStore
    from integrations.runtime.client import ServiceClient

log = logging.getLogger(__name__)

MAX_QUERY_COST = 1000
MAX_PAGE = 250
TOKEN_MARGIN = timedelta(minutes=10)
VISIBLE_DAYS_WITHOUT_ALL_ORDERS = 60
THROTTLE_RETRIES = 8


class ShopifyError(Exception):
    """A GraphQL-level failure; `message` is pt-BR, safe for Slack."""

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


@dataclass
class BucketState:
    maximum: float = MAX_QUERY_COST
    available: float = MAX_QUERY_COST
    restore_rate: float = 50.0
    at: float | None = None  # clock.monotonic() of the observation

    def estimate(self, now: float) -> float:
        if self.at is None:
            return self.available
        return min(self.maximum, self.available + (now - self.at) * self.restore_rate)


@dataclass
class FetchResult:
    orders: list[Order]
    method: str  # "pages" | "bulk"
    warnings: list[str] = field(default_factory=list)


@dataclass
class CancelOutcome:
    job_id: str | None
    errors: list[str]


class ShopifyClient:
    def __init__(self, hub: Hub, name: str, store: ShopifyStore) -> None:
        self.hub = hub
        self.name = name
        self.store = store
        self.clock = hub.clock
        base = store.api_base_url or f"https://{store.shop_url}"
        secret_values = [
            s.get_secret_value() for s in (store.access_token, store.client_secret) if s is not None
        ]
        self.http: ServiceClient = hub.runtime.client(
            "shopify", base, headers={"Accept": "application/json"}, secrets=secret_values
        )
        self.path = f"/admin/api/{store.api_version}/graphql.json"
        self.bucket = BucketState()
        self.costs: dict[str, float] = {}  # operation → last requestedQueryCost
        self.throttled = 0  # THROTTLED answers received
        self._token: str | None = (
            store.access_token.get_secret_value() if store.access_token is not None else None
        )
        self._token_expires: datetime | None = None
        self._token_lock = threading.Lock()
        self._scopes: set[str] | None = None
        self._per_order: float | None = None  # measured requestedQueryCost per order

    # --- auth ---------------------------------------------------------------------------------
    def _access_token(self, *, force: bool = False) -> str:
        if self.store.access_token is not None and not force:
            return self.store.access_token.get_secret_value()
        # One grant at a time: several Slack workers may share this client.
        with self._token_lock:
            return self._client_credentials_token(force)

    def _client_credentials_token(self, force: bool) -> str:
        now = self.clock.now()
        if (
            not force
            and self._token
            and self._token_expires is not None
            and now < self._token_expires - TOKEN_MARGIN
        ):
            return self._token
        if self.store.client_id is None or self.store.client_secret is None:
            raise ShopifyError(
                f"A loja {self.name} recusou o token de acesso. Gere um novo token no admin da "
                "Shopify e atualize SHOPIFY_STORES.",
                code="AUTH",
            )
        body = self.http.json(
            "POST",
            "/admin/oauth/access_token",
            operation="oauth.client_credentials",
            data={
                "grant_type": "client_credentials",
                "client_id": self.store.client_id,
                "client_secret": self.store.client_secret.get_secret_value(),
            },
            retry=True,
        )
        token = str(body["access_token"])
        self.http.secrets = (*self.http.secrets, token)
        self._token = token
        self._token_expires = now + timedelta(seconds=int(body.get("expires_in") or 86399))
        return token

    # --- transport ----------------------------------------------------------------------------
    def _wait_for(self, cost: float) -> None:
        """Sleep (on the hub clock) until the bucket covers `cost` points."""
        # One point of margin: the bucket reported is rounded down and clocks differ slightly.
        cost = min(cost + 1.0, self.bucket.maximum)
        now = self.clock.monotonic()
        available = self.bucket.estimate(now)
        if available >= cost:
            return
        wait = (cost - available) / max(self.bucket.restore_rate, 1e-6)
        self.clock.sleep(wait)

    def _observe(self, extensions: dict[str, Any] | None, operation: str) -> None:
        cost = (extensions or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        if status:
            self.bucket = BucketState(
                maximum=float(status.get("maximumAvailable") or self.bucket.maximum),
                available=float(status.get("currentlyAvailable") or 0.0),
                restore_rate=float(status.get("restoreRate") or self.bucket.restore_rate),
                at=self.clock.monotonic(),
            )
        if cost.get("requestedQueryCost") is not None:
            self.costs[operation] = float(cost["requestedQueryCost"])

    def execute(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        operation: str,
        mutation: bool = False,
        expected_cost: float | None = None,
    ) -> dict[str, Any]:
        """Send one document; return `data`. Raises ShopifyError or IntegrationError."""
        reauthed = False
        for _attempt in range(THROTTLE_RETRIES):
            self._wait_for(expected_cost or self.costs.get(operation, 10.0))
            try:
                body = self.http.json(
                    "POST",
                    self.path,
                    operation=operation,
                    json={"query": document, "variables": variables or {}},
                    headers={"X-Shopify-Access-Token": self._access_token()},
                    retry=not mutation,
                )
            except AuthError:
                if reauthed or self.store.client_id is None:
                    raise
                reauthed = True
                self._access_token(force=True)
                continue
            except ClientError as exc:
                if exc.status_code == 404:
                    raise ShopifyError(
                        f"A Shopify não encontrou a loja {self.name} ou a versão "
                        f"{self.store.api_version} da API. Confira shop_url e api_version em "
                        "SHOPIFY_STORES.",
                        code="NOT_FOUND",
                    ) from exc
                raise
            except RateLimitedError as exc:  # 429: THROTTLED over HTTP, or a proxy limit
                body = exc.body if isinstance(exc.body, dict) else {}
                if not _is_throttled(body):
                    self.throttled += 1
                    self.clock.sleep(exc.retry_after or 1.0)
                    continue
            self._observe(body.get("extensions"), operation)
            if _is_throttled(body):
                self.throttled += 1
                log.warning("shopify throttled store=%s operation=%s", self.name, operation)
                need = self.costs.get(operation, expected_cost or 10.0)
                self._wait_for(need)
                continue
            errors = body.get("errors")
            if errors:
                raise _graphql_error(self.name, errors)
            data = body.get("data")
            if not isinstance(data, dict):
                raise ShopifyError(f"Resposta inesperada da Shopify para a loja {self.name}.")
            return data
        raise ShopifyError(
            f"A Shopify continua limitando as consultas da loja {self.name}. Tente de novo em "
            "alguns minutos.",
            code="THROTTLED",
        )

    # --- reading ------------------------------------------------------------------------------
    def access_scopes(self) -> set[str]:
        if self._scopes is None:
            data = self.execute(queries.ACCESS_SCOPES, operation="access_scopes")
            scopes = data["currentAppInstallation"]["accessScopes"]
            self._scopes = {s["handle"] for s in scopes}
        return self._scopes

    def shop_info(self) -> dict[str, Any]:
        return dict(self.execute(queries.SHOP_INFO, operation="shop")["shop"])

    def _page_size(self) -> int:
        """As many orders as the single-query cap allows at the measured cost per order."""
        if self._per_order is None:
            return 10  # first page: small, to measure the cost
        cap = min(MAX_QUERY_COST, self.bucket.maximum)
        return max(1, min(MAX_PAGE, math.floor((cap - 2) / self._per_order)))

    def iter_orders(self, search: str) -> Iterator[Order]:
        """Every order matching the search, page by page (cursor pagination)."""
        after: str | None = None
        while True:
            first = self._page_size()
            expected = 2 + self._per_order * first if self._per_order else None
            data = self.execute(
                queries.ORDERS_PAGE,
                {"first": first, "after": after, "query": search},
                operation="orders.page",
                expected_cost=expected,
            )
            measured = self.costs.get("orders.page")
            if measured:
                self._per_order = max((measured - 2) / first, 1.0)
            conn = data["orders"]
            for node in conn["nodes"]:
                yield order_from_node(node)
            if not conn["pageInfo"]["hasNextPage"]:
                return
            after = conn["pageInfo"]["endCursor"]

    def bulk_orders(
        self, search: str, *, poll_seconds: float = 2.0, timeout: float = 3600
    ) -> list[Order]:
        """Orders via a bulk operation: start, poll `node(id:)`, download and join the JSONL."""
        url = self._bulk_url(search, poll_seconds=poll_seconds, timeout=timeout)
        if not url:  # no objects matched
            return []
        # Streamed: the JSONL (hundreds of MB for a big store) is never held whole in memory;
        # each line becomes a typed order as it arrives.
        with self.http.stream_lines("GET", url, operation="bulk.download") as lines:
            return list(orders_from_jsonl(lines))

    def bulk_to_file(
        self, search: str, dest: Path, *, poll_seconds: float = 2.0, timeout: float = 3600
    ) -> None:
        """Run a bulk operation and stream its JSONL into `dest` (empty when nothing matched)."""
        url = self._bulk_url(search, poll_seconds=poll_seconds, timeout=timeout)
        with dest.open("wb") as out:
            if not url:
                return
            with self.http.stream_lines("GET", url, operation="bulk.download") as lines:
                for line in lines:
                    out.write(line)
                    out.write(b"\n")

    def _bulk_url(self, search: str, *, poll_seconds: float, timeout: float) -> str | None:
        data = self.execute(
            queries.BULK_RUN,
            {"query": queries.bulk_orders_query(search)},
            operation="bulk.run",
            mutation=True,
        )
        payload = data["bulkOperationRunQuery"]
        if payload["userErrors"] or not payload["bulkOperation"]:
            msgs = "; ".join(e["message"] for e in payload["userErrors"])
            raise ShopifyError(
                f"A Shopify recusou a exportação em massa da loja {self.name}: {msgs}",
                code="BULK",
            )
        op_id = payload["bulkOperation"]["id"]
        deadline = self.clock.monotonic() + timeout
        while True:
            status = self.execute(queries.BULK_STATUS, {"id": op_id}, operation="bulk.status")
            node = status["node"] or {}
            state = node.get("status")
            if state == "COMPLETED":
                break
            if state in ("FAILED", "CANCELED", "EXPIRED", "CANCELING"):
                raise ShopifyError(
                    f"A exportação em massa da loja {self.name} terminou com status {state}"
                    f" ({node.get('errorCode') or 'sem código'}). Tente de novo mais tarde.",
                    code="BULK",
                )
            if self.clock.monotonic() > deadline:
                raise ShopifyError(
                    f"A exportação em massa da loja {self.name} demorou demais. Tente um período "
                    "menor.",
                    code="BULK",
                )
            self.clock.sleep(poll_seconds)
        url = node.get("url")
        return str(url) if url else None

    def uses_bulk(self, days: int) -> bool:
        return days > self.hub.settings.shopify_bulk_threshold_days

    def fetch_orders(self, days: int, *, now: datetime | None = None) -> FetchResult:
        """Orders created in the last `days` days (cancelled included), pages or bulk."""
        now = now or self.clock.now()
        search, warnings = self.window_search(days, now)
        if self.uses_bulk(days):
            return FetchResult(self.bulk_orders(search), "bulk", warnings)
        return FetchResult(list(self.iter_orders(search)), "pages", warnings)

    def window_search(self, days: int, now: datetime) -> tuple[str, list[str]]:
        """The orders search for the last `days` days, and the pt-BR warnings about it."""
        start = now - timedelta(days=days)
        warnings: list[str] = []
        if days > VISIBLE_DAYS_WITHOUT_ALL_ORDERS and "read_all_orders" not in self.access_scopes():
            warnings.append(
                f"A loja {self.name} só mostra pedidos dos últimos "
                f"{VISIBLE_DAYS_WITHOUT_ALL_ORDERS} dias: o app não tem o escopo "
                "`read_all_orders`. O relatório cobre só esse período; peça a um admin da "
                "Shopify para conceder o escopo."
            )
        search = (
            f"created_at:>='{start.strftime('%Y-%m-%dT%H:%M:%SZ')}' "
            f"created_at:<='{now.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
        )
        return search, warnings

    def get_order(self, order_id: str) -> Order | None:
        data = self.execute(queries.ORDER_BY_ID, {"id": order_id}, operation="orders.get")
        node = data.get("node")
        return order_from_node(node) if node else None

    # --- writing ------------------------------------------------------------------------------
    def cancel_order(self, order_id: str, *, staff_note: str, notify: bool) -> CancelOutcome:
        data = self.execute(
            queries.ORDER_CANCEL,
            {"orderId": order_id, "notifyCustomer": notify, "staffNote": staff_note[:255]},
            operation="orders.cancel",
            mutation=True,
        )
        payload = data["orderCancel"]
        errors = [e["message"] for e in payload.get("orderCancelUserErrors") or ()]
        job = payload.get("job")
        return CancelOutcome(job["id"] if job else None, errors)

    def job_done(self, job_id: str) -> bool:
        data = self.execute(queries.JOB_STATUS, {"id": job_id}, operation="job.status")
        return bool((data.get("job") or {}).get("done"))

    def add_tags(self, order_id: str, tags: list[str]) -> list[str]:
        data = self.execute(
            queries.TAGS_ADD, {"id": order_id, "tags": tags}, operation="tags.add", mutation=True
        )
        return [e["message"] for e in data["tagsAdd"].get("userErrors") or ()]


def _is_throttled(body: dict[str, Any]) -> bool:
    for err in body.get("errors") or ():
        if isinstance(err, dict) and (err.get("extensions") or {}).get("code") == "THROTTLED":
            return True
    return False


def _graphql_error(store: str, errors: Any) -> ShopifyError:
    first = errors[0] if isinstance(errors, list) and errors else {}
    code = (first.get("extensions") or {}).get("code") if isinstance(first, dict) else None
    if code == "ACCESS_DENIED":
        return ShopifyError(
            f"O app da loja {store} não tem permissão para esta consulta (escopo faltando). "
            "Confira os escopos read_orders/write_orders no admin da Shopify.",
            code=code,
            details=errors,
        )
    if code == "MAX_COST_EXCEEDED":
        return ShopifyError(
            f"Consulta grande demais para a Shopify (loja {store}).", code=code, details=errors
        )
    return ShopifyError(
        f"A Shopify rejeitou a consulta da loja {store}. Avise o time técnico.",
        code=code,
        details=errors,
    )


def is_integration_error(exc: BaseException) -> bool:
    return isinstance(exc, IntegrationError | ShopifyError)
