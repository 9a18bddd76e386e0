"""A Shopify Admin GraphQL simulator: the subset of the API the hub uses, behaving like Shopify.

- Every document is parsed and validated against the real Admin schema (same introspection file
  as the hub's tests); invalid documents get Shopify-shaped `errors`.
- Static query cost like Shopify's calculator (scalar/enum 0, object 1, connection 2 + first ×
  node cost, mutation 10), single query cap 1,000 (MAX_COST_EXCEEDED), a leaky bucket per shop
  (maximumAvailable, restoreRate) charged the requested cost and refunded down to the actual
  cost; a request the bucket cannot cover gets `THROTTLED` with the throttle status.
- `orders` with search filters (`created_at` ranges, `status`, `tag`, `tag_not`, `id`),
  cursor pagination, `sortKey`/`reverse`; `node`, `job`, `currentAppInstallation`, `shop`.
- `bulkOperationRunQuery` → JSONL at `/bulk/<id>.jsonl`, nested connections as `__parentId`
  lines emitted after their parent but not adjacent; `orderCancel` as an asynchronous job;
  `tagsAdd`.
- Auth: `X-Shopify-Access-Token` (static token or client-credentials token valid 24 h);
  401 on a bad token, 404 for an unknown shop or API version. Without `read_all_orders`,
  orders older than 60 days are invisible.
Shops are addressed by path: `<base>/<shop domain>/admin/api/<version>/graphql.json`.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    execute_sync,
    get_named_type,
    is_abstract_type,
    is_enum_type,
    is_leaf_type,
    is_object_type,
    parse,
    validate,
    value_from_ast_untyped,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.clock import SYSTEM_CLOCK, Clock
from integrations.shopify.schema import has_schema, load_schema

DEFAULT_VERSION = "2026-04"
MAX_QUERY_COST = 1000
MAX_PAGE = 250
MUTATION_COST = 10
TOKEN_TTL = timedelta(hours=24)
VISIBLE_WITHOUT_ALL_ORDERS = timedelta(days=60)


@dataclass
class Bucket:
    maximum: float = 1000.0
    restore_rate: float = 50.0
    available: float = 1000.0
    at: float | None = None

    def refill(self, now: float) -> float:
        if self.at is not None:
            self.available = min(self.maximum, self.available + (now - self.at) * self.restore_rate)
        self.at = now
        return self.available

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(self.available),
            "restoreRate": self.restore_rate,
        }


@dataclass
class BulkOp:
    id: str
    query: str
    created_at: datetime
    done_at: datetime
    lines: list[str] = field(default_factory=list)
    root_count: int = 0
    status: str = "CREATED"


@dataclass
class CancelJob:
    id: str
    order_id: str
    done_at: datetime
    staff_note: str | None


@dataclass
class Shop:
    domain: str
    name: str
    currency: str = "BRL"
    timezone: str = "America/Sao_Paulo"
    access_tokens: set[str] = field(default_factory=set)
    client_id: str | None = None
    client_secret: str | None = None
    scopes: set[str] = field(
        default_factory=lambda: {"read_orders", "write_orders", "read_customers", "read_all_orders"}
    )
    bucket: Bucket = field(default_factory=Bucket)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    issued: dict[str, datetime] = field(default_factory=dict)  # token → expiry
    bulk_ops: dict[str, BulkOp] = field(default_factory=dict)
    jobs: dict[str, CancelJob] = field(default_factory=dict)
    fail_cancel: set[str] = field(default_factory=set)  # order ids whose cancel fails
    cancel_calls: list[str] = field(default_factory=list)  # order ids, every orderCancel
    throttled: int = 0  # THROTTLED answers given
    requests: int = 0
    points_charged: float = 0.0  # actual cost of executed queries


def gid(kind: str, num: int | str) -> str:
    return f"gid://shopify/{kind}/{num}"


class ShopifySimulator:
    """Holds shops and serves them; `app` is the Starlette ASGI app."""

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        specs_dir: str | None = None,
        bulk_seconds: float = 3.0,
        job_seconds: float = 2.0,
    ) -> None:
        self.clock = clock
        self.specs_dir = specs_dir
        self.bulk_seconds = bulk_seconds
        self.job_seconds = job_seconds
        # Fail at start with a clear message (SchemaNotFound) when the spec file is missing,
        # instead of answering 404 to every request.
        load_schema(DEFAULT_VERSION, specs_dir)
        self.shops: dict[str, Shop] = {}
        self.base_url = ""  # set by whoever serves it (for bulk URLs)
        self._lock = threading.RLock()
        self._seq = 0
        self.app = Starlette(
            routes=[
                Route("/{shop}/admin/api/{version}/graphql.json", self._graphql, methods=["POST"]),
                Route("/{shop}/admin/oauth/access_token", self._token, methods=["POST"]),
                Route("/bulk/{shop}/{op_id}.jsonl", self._bulk_file, methods=["GET"]),
            ]
        )

    # --- set-up ------------------------------------------------------------------------------
    def add_shop(self, shop: Shop) -> Shop:
        self.shops[shop.domain] = shop
        return shop

    def next_id(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    # --- HTTP ----------------------------------------------------------------------------------
    async def _token(self, request: Request) -> Response:
        shop = self.shops.get(request.path_params["shop"])
        if shop is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        ctype = request.headers.get("content-type", "")
        if "json" in ctype:
            form: dict[str, Any] = await request.json()
        else:
            raw = (await request.body()).decode("utf-8", "replace")
            form = {k: v[0] for k, v in parse_qs(raw).items()}
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "grant_type"}, 400
            )
        if (
            shop.client_id is None
            or form.get("client_id") != shop.client_id
            or form.get("client_secret") != shop.client_secret
        ):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                status_code=401,
            )
        token = "shpat_" + secrets.token_hex(16)
        with self._lock:
            shop.issued[token] = self.clock.now() + TOKEN_TTL
        return JSONResponse(
            {
                "access_token": token,
                "scope": ",".join(sorted(shop.scopes)),
                "expires_in": int(TOKEN_TTL.total_seconds()) - 1,
            }
        )

    def _authorized(self, shop: Shop, token: str | None) -> bool:
        if not token:
            return False
        if token in shop.access_tokens:
            return True
        expiry = shop.issued.get(token)
        return expiry is not None and self.clock.now() < expiry

    async def _graphql(self, request: Request) -> Response:
        shop = self.shops.get(request.path_params["shop"])
        version = request.path_params["version"]
        if shop is None or not re.fullmatch(r"\d{4}-\d{2}", version):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if not has_schema(version, self.specs_dir):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if not self._authorized(shop, request.headers.get("x-shopify-access-token")):
            return JSONResponse(
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
                status_code=401,
            )
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        result = self.handle(
            shop, version, body["query"], body.get("variables") or {}, body.get("operationName")
        )
        return JSONResponse(result)

    async def _bulk_file(self, request: Request) -> Response:
        shop = self.shops.get(request.path_params["shop"])
        op = shop.bulk_ops.get(gid("BulkOperation", request.path_params["op_id"])) if shop else None
        if op is None or op.status != "COMPLETED":
            return Response("Not Found", status_code=404)

        def chunks() -> Iterator[bytes]:
            batch: list[str] = []
            for line in op.lines:
                batch.append(line)
                if len(batch) >= 500:
                    yield ("\n".join(batch) + "\n").encode()
                    batch = []
            if batch:
                yield ("\n".join(batch) + "\n").encode()

        return StreamingResponse(chunks(), media_type="application/jsonl")

    # --- GraphQL -------------------------------------------------------------------------------
    def handle(
        self,
        shop: Shop,
        version: str,
        query: str,
        variables: dict[str, Any],
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        schema = load_schema(version, self.specs_dir)
        try:
            document = parse(query)
        except GraphQLError as exc:
            return {"errors": [exc.formatted]}
        errors = validate(schema, document)
        if errors:
            return {"errors": [e.formatted for e in errors]}
        operation = _operation(document, operation_name)
        if operation is None:
            return {"errors": [{"message": "No operation named " + str(operation_name)}]}
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        calc = _CostCalculator(schema, fragments, variables)
        is_mutation = operation.operation.value == "mutation"
        root = schema.mutation_type if is_mutation else schema.query_type
        try:
            requested = calc.selection_cost(operation.selection_set, root, None)
        except _CostError as exc:
            return {"errors": [{"message": str(exc), "extensions": {"code": exc.code}}]}
        if is_mutation:
            requested += MUTATION_COST
        with self._lock:
            shop.requests += 1
            now = self.clock.monotonic()
            available = shop.bucket.refill(now)
            if requested > MAX_QUERY_COST:
                return {
                    "errors": [
                        {
                            "message": f"Query cost is {requested}, which exceeds the single "
                            f"query max cost limit ({MAX_QUERY_COST}).",
                            "extensions": {
                                "code": "MAX_COST_EXCEEDED",
                                "cost": requested,
                                "maxCost": MAX_QUERY_COST,
                            },
                        }
                    ],
                    "extensions": {"cost": self._cost(requested, None, shop)},
                }
            if requested > available:
                shop.throttled += 1
                return {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {"cost": self._cost(requested, None, shop)},
                }
            shop.bucket.available -= requested
            resolver = _Resolvers(self, shop, version)
            root_value = resolver.mutation_root() if is_mutation else resolver.query_root()
            result = execute_sync(
                schema,
                document,
                root_value=root_value,
                variable_values=variables,
                operation_name=operation_name,
            )
            data = result.data
            actual = (
                calc.selection_cost(operation.selection_set, root, data or {})
                + (MUTATION_COST if is_mutation else 0)
                if data is not None
                else requested
            )
            actual = min(actual, requested)
            shop.bucket.available = min(
                shop.bucket.maximum, shop.bucket.available + requested - actual
            )
            shop.points_charged += actual
            out: dict[str, Any] = {"data": data}
            if result.errors:
                out["errors"] = [e.formatted for e in result.errors]
            out["extensions"] = {"cost": self._cost(requested, actual, shop)}
            return out

    def _cost(self, requested: int, actual: int | None, shop: Shop) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": shop.bucket.status(),
        }

    # --- domain helpers used by the resolvers -------------------------------------------------
    def visible(self, shop: Shop, order: dict[str, Any]) -> bool:
        if "read_all_orders" in shop.scopes:
            return True
        created = _parse_dt(order["createdAt"])
        return created >= self.clock.now() - VISIBLE_WITHOUT_ALL_ORDERS

    def finish_due(self, shop: Shop) -> None:
        """Complete bulk operations and cancel jobs whose time has come."""
        now = self.clock.now()
        for op in shop.bulk_ops.values():
            if op.status in ("CREATED", "RUNNING"):
                op.status = "COMPLETED" if now >= op.done_at else "RUNNING"
        for job in shop.jobs.values():
            order = shop.orders.get(job.order_id)
            if now >= job.done_at and order is not None and order.get("cancelledAt") is None:
                order["cancelledAt"] = _iso(job.done_at)
                order["displayFinancialStatus"] = "VOIDED"


class _CostError(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class _CostCalculator:
    """Shopify's static cost rules; with `data` given, the actual cost of what was returned."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def _arg(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, self.variables)
        return None

    def selection_cost(self, selection_set: SelectionSetNode | None, parent: Any, data: Any) -> int:
        if selection_set is None:
            return 0
        total = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                total += self.field_cost(sel, parent, data)
            elif isinstance(sel, InlineFragmentNode):
                cond = (
                    self.schema.get_type(sel.type_condition.name.value)
                    if sel.type_condition
                    else parent
                )
                total += self.selection_cost(sel.selection_set, cond, data)
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.fragments[sel.name.value]
                cond = self.schema.get_type(frag.type_condition.name.value)
                total += self.selection_cost(frag.selection_set, cond, data)
        return total

    def field_cost(self, node: FieldNode, parent: Any, data: Any) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        fields = getattr(parent, "fields", None)
        if not fields or name not in fields:
            return 0  # a fragment on another concrete type
        named = get_named_type(fields[name].type)
        if is_leaf_type(named) or is_enum_type(named):
            return 0
        key = node.alias.value if node.alias else name
        value: Any = None
        if data is not None:
            if not isinstance(data, dict) or key not in data:
                return 0
            value = data[key]
            if value is None:
                return 0
        if named.name.endswith("Connection") and is_object_type(named):
            first = self._arg(node, "first")
            last = self._arg(node, "last")
            if data is None:
                if first is None and last is None:
                    raise _CostError(
                        f"you must provide one of first or last for the {name} connection",
                        "BAD_REQUEST",
                    )
                size = int(first if first is not None else last)
                if size > MAX_PAGE:
                    raise _CostError(
                        f"The maximum page size is {MAX_PAGE} for the {name} connection",
                        "BAD_REQUEST",
                    )
                return 2 + size * self._node_cost(node, named, None)
            items = _connection_items(value)
            return 2 + sum(self._node_cost(node, named, item) for item in items)
        if isinstance(value, list):
            return sum(1 + self.selection_cost(node.selection_set, named, v) for v in value) or 0
        target = named
        if data is not None and is_abstract_type(named) and isinstance(value, dict):
            typename = value.get("__typename")
            target = self.schema.get_type(typename) if typename else named
        return 1 + self.selection_cost(node.selection_set, target, value)

    def _node_cost(self, node: FieldNode, conn_type: Any, item: Any) -> int:
        """Cost of one element of a connection: its node selections (nodes or edges.node)."""
        node_type = get_named_type(conn_type.fields["nodes"].type)
        best = 1
        for sel in node.selection_set.selections if node.selection_set else ():
            if not isinstance(sel, FieldNode):
                continue
            if sel.name.value == "nodes":
                best = max(best, 1 + self.selection_cost(sel.selection_set, node_type, item))
            elif sel.name.value == "edges" and sel.selection_set:
                for inner in sel.selection_set.selections:
                    if isinstance(inner, FieldNode) and inner.name.value == "node":
                        best = max(
                            best, 1 + self.selection_cost(inner.selection_set, node_type, item)
                        )
        return best


def _connection_items(value: dict[str, Any]) -> list[Any]:
    if value.get("nodes") is not None:
        return list(value["nodes"])
    if value.get("edges") is not None:
        return [e.get("node") if isinstance(e, dict) else None for e in value["edges"]]
    return []


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        for op in ops:
            if op.name and op.name.value == name:
                return op
        return None
    return ops[0] if len(ops) == 1 else None


def _parse_dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cursor(order: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps({"id": order["id"]}).encode()).decode()


def _uncursor(cursor: str) -> str | None:
    try:
        return str(json.loads(base64.b64decode(cursor))["id"])
    except (ValueError, KeyError, TypeError):
        return None


_TERM = re.compile(r"""(-)?(\w+):(>=|<=|>|<)?('(?:[^']*)'|"(?:[^"]*)"|\S+)""")


def search_filter(query: str | None) -> Callable[[dict[str, Any]], bool]:
    """Shopify search syntax subset: created_at ranges, status, tag, tag_not, id (ANDed)."""
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for neg, fld, op, raw in _TERM.findall(query or ""):
        value = raw.strip("'\"")
        check: Callable[[dict[str, Any]], bool] | None = None
        if fld in ("created_at", "updated_at"):
            when = _parse_dt(value if "T" in value else value + "T00:00:00Z")
            key = "createdAt"

            def check(
                o: dict[str, Any], when: datetime = when, op: str = op, key: str = key
            ) -> bool:
                t = _parse_dt(o[key])
                return {
                    ">=": t >= when,
                    ">": t > when,
                    "<=": t <= when,
                    "<": t < when,
                    "": t.date() == when.date(),
                }[op]
        elif fld == "status":
            wanted = value.lower()

            def check(o: dict[str, Any], wanted: str = wanted) -> bool:
                cancelled = o.get("cancelledAt") is not None
                return wanted == "any" or (cancelled if wanted == "cancelled" else not cancelled)
        elif fld in ("tag", "tag_not"):
            tag = value.casefold()

            def check(o: dict[str, Any], tag: str = tag, fld: str = fld) -> bool:
                has = any(t.casefold() == tag for t in o.get("tags") or ())
                return has if fld == "tag" else not has
        elif fld == "id":

            def check(o: dict[str, Any], value: str = value) -> bool:
                return str(o["id"]).rsplit("/", 1)[-1] == value.rsplit("/", 1)[-1]

        if check is None:
            continue
        checks.append(_negate(check) if neg else check)
    return lambda o: all(c(o) for c in checks)


def _negate(check: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda o: not check(o)


class _Resolvers:
    """Root values for graphql-core's default resolver (callables receive info + args)."""

    def __init__(self, sim: ShopifySimulator, shop: Shop, version: str) -> None:
        self.sim = sim
        self.shop = shop
        self.version = version

    # views -------------------------------------------------------------------------------------
    def order_view(self, order: dict[str, Any]) -> dict[str, Any]:
        lines = order.get("_lines") or []

        def line_items(_info: Any, first: int | None = None, **_kw: Any) -> dict[str, Any]:
            chosen = lines[:first] if first is not None else lines
            return _connection(chosen, has_next=first is not None and len(lines) > first)

        view = {k: v for k, v in order.items() if not k.startswith("_")}
        view["__typename"] = "Order"
        view["lineItems"] = line_items
        view.setdefault("legacyResourceId", order["id"].rsplit("/", 1)[-1])
        return view

    def query_root(self) -> dict[str, Any]:
        self.sim.finish_due(self.shop)
        return {
            "orders": self.orders,
            "node": self.node,
            "bulkOperation": lambda _i, id: self._bulk_view(id),
            "job": self.job,
            "currentAppInstallation": {
                "accessScopes": [{"handle": s, "description": s} for s in sorted(self.shop.scopes)]
            },
            "shop": {
                "name": self.shop.name,
                "myshopifyDomain": self.shop.domain,
                "currencyCode": self.shop.currency,
                "ianaTimezone": self.shop.timezone,
            },
        }

    def mutation_root(self) -> dict[str, Any]:
        self.sim.finish_due(self.shop)
        return {
            "orderCancel": self.order_cancel,
            "tagsAdd": self.tags_add,
            "bulkOperationRunQuery": self.bulk_run,
        }

    # queries -----------------------------------------------------------------------------------
    def visible_orders(
        self, query: str | None, sort_key: str, reverse: bool
    ) -> list[dict[str, Any]]:
        match = search_filter(query)
        items = [
            o for o in self.shop.orders.values() if self.sim.visible(self.shop, o) and match(o)
        ]
        if sort_key == "ID":
            items.sort(key=lambda o: int(o["id"].rsplit("/", 1)[-1]))
        else:
            items.sort(key=lambda o: (o["createdAt"], int(o["id"].rsplit("/", 1)[-1])))
        if reverse:
            items.reverse()
        return items

    def orders(
        self,
        _info: Any,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sortKey: str = "ID",
        query: str | None = None,
        **_kw: Any,
    ) -> dict[str, Any]:
        items = self.visible_orders(query, sortKey, reverse)
        start = 0
        if after:
            after_id = _uncursor(after)
            if after_id is None:
                raise GraphQLError("Invalid cursor for current pagination sort.")
            for i, o in enumerate(items):
                if o["id"] == after_id:
                    start = i + 1
                    break
        size = first or last or 0
        page = items[start : start + size]
        return _connection(
            [self.order_view(o) for o in page],
            has_next=start + size < len(items),
            has_previous=start > 0,
            cursors=[_cursor(o) for o in page],
        )

    def node(self, _info: Any, id: str) -> dict[str, Any] | None:
        if "/Order/" in id:
            order = self.shop.orders.get(id)
            if order is None or not self.sim.visible(self.shop, order):
                return None
            return self.order_view(order)
        if "/BulkOperation/" in id:
            return self._bulk_view(id)
        return None

    def _bulk_view(self, op_id: str) -> dict[str, Any] | None:
        op = self.shop.bulk_ops.get(op_id)
        if op is None:
            return None
        done = op.status == "COMPLETED"
        num = op_id.rsplit("/", 1)[-1]
        return {
            "__typename": "BulkOperation",
            "id": op.id,
            "status": op.status,
            "errorCode": None,
            "objectCount": str(len(op.lines)) if done else "0",
            "rootObjectCount": str(op.root_count) if done else "0",
            "url": f"{self.sim.base_url}/bulk/{self.shop.domain}/{num}.jsonl" if done else None,
            "partialDataUrl": None,
            "createdAt": _iso(op.created_at),
            "completedAt": _iso(op.done_at) if done else None,
            "query": op.query,
            "type": "QUERY",
            "fileSize": str(sum(len(x) + 1 for x in op.lines)) if done else None,
        }

    def job(self, _info: Any, id: str) -> dict[str, Any] | None:
        job = self.shop.jobs.get(id)
        if job is None:
            return None
        return {"__typename": "Job", "id": job.id, "done": self.sim.clock.now() >= job.done_at}

    # mutations ---------------------------------------------------------------------------------
    def order_cancel(
        self,
        _info: Any,
        orderId: str,
        reason: str,
        restock: bool,
        notifyCustomer: bool | None = None,
        staffNote: str | None = None,
        **_kw: Any,
    ) -> dict[str, Any]:
        self.shop.cancel_calls.append(orderId)
        order = self.shop.orders.get(orderId)

        def user_error(message: str, code: str) -> dict[str, Any]:
            return {
                "job": None,
                "orderCancelUserErrors": [{"field": ["orderId"], "message": message, "code": code}],
                "userErrors": [{"field": ["orderId"], "message": message}],
            }

        if order is None or not self.sim.visible(self.shop, order):
            return user_error("Order does not exist", "NOT_FOUND")
        if staffNote is not None and len(staffNote) > 255:
            return user_error("Staff note is too long (maximum is 255 characters)", "INVALID")
        if order.get("cancelledAt") is not None or any(
            j.order_id == orderId for j in self.shop.jobs.values()
        ):
            return user_error("Cannot cancel an order that has already been cancelled", "INVALID")
        if orderId in self.shop.fail_cancel:
            return user_error("Order cannot be cancelled", "INVALID")
        job_id = gid("Job", secrets.token_hex(8))
        self.shop.jobs[job_id] = CancelJob(
            job_id,
            orderId,
            self.sim.clock.now() + timedelta(seconds=self.sim.job_seconds),
            staffNote,
        )
        order["_staffNote"] = staffNote
        return {
            "job": {"__typename": "Job", "id": job_id, "done": False},
            "orderCancelUserErrors": [],
            "userErrors": [],
        }

    def tags_add(self, _info: Any, id: str, tags: list[str]) -> dict[str, Any]:
        order = self.shop.orders.get(id)
        if order is None:
            return {"node": None, "userErrors": [{"field": ["id"], "message": "Not found"}]}
        current = list(order.get("tags") or [])
        for tag in tags:
            for part in tag.split(","):
                part = part.strip()
                if part and part.casefold() not in {t.casefold() for t in current}:
                    current.append(part)
        order["tags"] = current
        return {"node": {"__typename": "Order", "id": id}, "userErrors": []}

    def bulk_run(self, _info: Any, query: str, groupObjects: bool = False) -> dict[str, Any]:
        schema = load_schema(self.version, self.sim.specs_dir)
        try:
            doc = parse(query)
        except GraphQLError as exc:
            return {
                "bulkOperation": None,
                "userErrors": [
                    {"field": ["query"], "message": f"Invalid bulk query: {exc.message}"}
                ],
            }
        errors = validate(schema, doc)
        if errors:
            return {
                "bulkOperation": None,
                "userErrors": [
                    {"field": ["query"], "message": f"Invalid bulk query: {errors[0].message}"}
                ],
            }
        running = [o for o in self.shop.bulk_ops.values() if o.status in ("CREATED", "RUNNING")]
        if len(running) >= 5:
            return {
                "bulkOperation": None,
                "userErrors": [
                    {
                        "field": None,
                        "message": "A bulk query operation for this app and shop is already "
                        "in progress",
                    }
                ],
            }
        try:
            lines, roots = self._bulk_lines(doc)
        except ValueError as exc:
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["query"], "message": str(exc)}],
            }
        num = self.sim.next_id()
        op_id = gid("BulkOperation", num)
        now = self.sim.clock.now()
        op = BulkOp(op_id, query, now, now + timedelta(seconds=self.sim.bulk_seconds), lines, roots)
        self.shop.bulk_ops[op_id] = op
        return {"bulkOperation": self._bulk_view(op_id), "userErrors": []}

    def _bulk_lines(self, doc: Any) -> tuple[list[str], int]:
        """Run the bulk query and flatten it into JSONL (children deferred, not adjacent)."""
        op = _operation(doc, None)
        if op is None:
            raise ValueError("Bulk queries must contain exactly one operation")
        top = [s for s in op.selection_set.selections if isinstance(s, FieldNode)]
        if len(top) != 1 or top[0].name.value != "orders":
            raise ValueError("The hub simulator supports bulk queries on `orders` only")
        field_node = top[0]
        query_arg = None
        sort_key = "ID"
        reverse = False
        for arg in field_node.arguments or ():
            value = value_from_ast_untyped(arg.value, {})
            if arg.name.value == "query":
                query_arg = value
            elif arg.name.value == "sortKey":
                sort_key = value
            elif arg.name.value == "reverse":
                reverse = bool(value)
        orders = self.visible_orders(query_arg, sort_key, reverse)
        edges_sel = _child(field_node, "edges")
        node_sel = _child(edges_sel, "node") if edges_sel else None
        if node_sel is None:
            raise ValueError("Bulk queries must select edges { node { … } } on connections")
        lines: list[str] = []
        pending: list[str] = []
        for order in orders:
            view = self.order_view(order)
            row, children = _project(node_sel, view)
            lines.append(json.dumps(row, separators=(",", ":")))
            # Children of this order are written after the next parent line: after their
            # parent, but not adjacent to it (as Shopify documents).
            lines.extend(pending)
            pending = [
                json.dumps({**child, "__parentId": order["id"]}, separators=(",", ":"))
                for child in children
            ]
        lines.extend(pending)
        return lines, len(orders)


def _child(node: FieldNode | None, name: str) -> FieldNode | None:
    if node is None or node.selection_set is None:
        return None
    for sel in node.selection_set.selections:
        if isinstance(sel, FieldNode) and sel.name.value == name:
            return sel
    return None


def _project(node: FieldNode, value: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The selected fields of a view; nested connections come back as separate child rows."""
    row: dict[str, Any] = {}
    children: list[dict[str, Any]] = []
    for sel in node.selection_set.selections if node.selection_set else ():
        if not isinstance(sel, FieldNode):
            continue
        name = sel.name.value
        key = sel.alias.value if sel.alias else name
        raw = value.get(name)
        if callable(raw):  # a connection (lineItems)
            conn = raw(None)
            inner = _child(_child(sel, "edges"), "node")
            if inner is None:
                raise ValueError("Bulk queries must select edges { node { … } } on connections")
            for item in conn["nodes"]:
                child_row, _ = _project(inner, item)
                children.append(child_row)
            continue
        row[key] = _select(sel, raw)
    return row, children


def _select(sel: FieldNode, raw: Any) -> Any:
    if raw is None or sel.selection_set is None:
        return raw
    if isinstance(raw, list):
        return [_select(sel, item) for item in raw]
    out: dict[str, Any] = {}
    for inner in sel.selection_set.selections:
        if isinstance(inner, FieldNode):
            k = inner.alias.value if inner.alias else inner.name.value
            out[k] = _select(inner, raw.get(inner.name.value))
    return out


def _connection(
    nodes: list[Any],
    *,
    has_next: bool = False,
    has_previous: bool = False,
    cursors: list[str] | None = None,
) -> dict[str, Any]:
    cursors = cursors or [base64.b64encode(str(i).encode()).decode() for i in range(len(nodes))]
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }
