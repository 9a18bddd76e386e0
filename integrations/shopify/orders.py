"""Typed orders as the detectors need them, read from GraphQL nodes or bulk JSONL."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class LineItem:
    sku: str | None
    title: str
    quantity: int = 1
    variant_id: str | None = None
    product_id: str | None = None

    def __reduce__(self) -> tuple[type[LineItem], tuple[Any, ...]]:
        # As constructor arguments (see Order.__reduce__): cheaper than the frozen default.
        return (LineItem, (self.sku, self.title, self.quantity, self.variant_id, self.product_id))


@dataclass(slots=True)
class Order:
    id: str  # GID
    name: str
    created_at: datetime
    cancelled_at: datetime | None = None
    tags: tuple[str, ...] = ()
    phone: str | None = None  # first phone found (order, shipping, customer, billing)
    country: str | None = None  # shipping country (ISO 3166-1 alpha-2), else billing
    customer_id: str | None = None
    customer_name: str | None = None
    email: str | None = None
    client_ip: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    total: Decimal = Decimal("0")
    currency: str = ""
    lines: tuple[LineItem, ...] = ()
    financial_status: str | None = None
    fulfillment_status: str | None = None
    source_name: str | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    def __reduce__(self) -> tuple[type[Order], tuple[Any, ...]]:
        # Pickled as constructor arguments: the bulk workers send many orders to the parent,
        # and the default for a slotted dataclass sets each field from Python on unpickling.
        return (Order, _order_fields(self))

    def attribute(self, key: str) -> str | None:
        """An order attribute by key, case-insensitively."""
        return find_attribute(self.attributes, key)


def find_attribute(attributes: tuple[tuple[str, str], ...], key: str) -> str | None:
    """The first attribute value whose key is `key`, compared case-insensitively."""
    if not attributes:
        return None
    wanted = None
    for k, v in attributes:
        if k == key:
            return v
        if wanted is None:
            wanted = key.casefold()
        if k.casefold() == wanted:
            return v
    return None


_order_fields = attrgetter(*(f.name for f in fields(Order)))


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)  # Python >= 3.11 reads the trailing "Z"


_EMPTY: Mapping[str, Any] = {}
_ZERO = Decimal("0")


def _phone_of(node: Mapping[str, Any]) -> str | None:
    """The first non-blank phone of: order, shipping address, customer, billing address."""
    shipping = node.get("shippingAddress") or _EMPTY
    customer = node.get("customer") or _EMPTY
    billing = node.get("billingAddress") or _EMPTY
    default_phone = customer.get("defaultPhoneNumber") or _EMPTY
    for candidate in (
        node.get("phone"),
        shipping.get("phone"),
        default_phone.get("phoneNumber"),
        billing.get("phone"),
    ):
        if candidate:
            text = str(candidate).strip()
            if text:
                return text
    return None


def attributes_of(attrs: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """`customAttributes` as (key, value) pairs, the ones without a value left out."""
    return tuple((a["key"], a["value"]) for a in attrs if a.get("value") is not None)


def line_from_node(node: Mapping[str, Any]) -> LineItem:
    get = node.get
    variant = get("variant")
    product = get("product")
    sku = get("sku")
    if sku:
        sku = sku.strip() or None
    return LineItem(
        sku or None,
        get("title") or "",
        int(get("quantity") or 1),
        variant.get("id") if variant else None,
        product.get("id") if product else None,
    )


def order_from_node(
    node: Mapping[str, Any], line_nodes: Iterable[Mapping[str, Any]] | None = None
) -> Order:
    """An Order from a GraphQL `Order` object (paged: lineItems.nodes; bulk: separate lines)."""
    get = node.get
    if line_nodes is None:
        conn = get("lineItems") or _EMPTY
        line_nodes = conn.get("nodes") or [e["node"] for e in conn.get("edges") or []]
    shipping = get("shippingAddress") or _EMPTY
    billing = get("billingAddress") or _EMPTY
    customer = get("customer") or _EMPTY
    price = get("totalPriceSet")
    money = (price.get("shopMoney") if price else None) or _EMPTY
    amount = money.get("amount")
    cancelled = get("cancelledAt")
    attrs = get("customAttributes")
    tags = get("tags")
    return Order(
        id=node["id"],
        name=get("name") or "",
        created_at=datetime.fromisoformat(node["createdAt"]),
        cancelled_at=datetime.fromisoformat(cancelled) if cancelled else None,
        tags=tuple(t if isinstance(t, str) else str(t) for t in tags) if tags else (),
        phone=_phone_of(node),
        country=shipping.get("countryCodeV2") or billing.get("countryCodeV2"),
        customer_id=customer.get("id"),
        customer_name=customer.get("displayName"),
        email=get("email"),
        client_ip=get("clientIp"),
        attributes=attributes_of(attrs) if attrs else (),
        total=Decimal(amount if isinstance(amount, str) else str(amount)) if amount else _ZERO,
        currency=money.get("currencyCode") or "",
        lines=tuple(line_from_node(n) for n in line_nodes) if line_nodes else (),
        financial_status=get("displayFinancialStatus"),
        fulfillment_status=get("displayFulfillmentStatus"),
        source_name=get("sourceName"),
    )


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Orders, line items and the detectors' groups hold no reference cycles (reference counting
    frees them), but each allocation burst makes the collector re-scan every object still
    alive: on a million orders that is about half of the parse time. Restores the previous state.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def orders_from_jsonl(lines: Iterable[str | bytes]) -> Iterator[Order]:
    """Join a bulk operation's JSONL: order lines plus `__parentId` child lines.

    Children come after their parent but not necessarily adjacent, so orders are emitted once
    the whole file is read (in file order). Each line is decoded with orjson (bytes or str)
    and becomes a typed object at once, so the raw dicts never pile up; the line items are
    collected per parent id and attached in one pass at the end.
    """
    parents: list[Order] = []
    children: dict[str, list[LineItem]] = {}
    loads = orjson.loads
    with paused_gc():
        for raw in lines:
            try:
                obj = loads(raw)
            except orjson.JSONDecodeError:
                if not raw or not raw.strip():
                    continue  # blank line (e.g. the trailing newline)
                raise
            parent = obj.get("__parentId")
            if parent is None:
                parents.append(order_from_node(obj, ()))
                continue
            line = line_from_node(obj)
            bucket = children.get(parent)
            if bucket is None:
                children[parent] = [line]
            else:
                bucket.append(line)
        for order in parents:
            lines_of = children.pop(order.id, None)
            if lines_of:
                order.lines = tuple(lines_of)
    yield from parents
