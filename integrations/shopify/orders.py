"""Typed orders as the detectors need them, read from GraphQL nodes or bulk JSONL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class LineItem:
    sku: str | None
    title: str
    quantity: int = 1
    variant_id: str | None = None
    product_id: str | None = None


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

    def attribute(self, key: str) -> str | None:
        """An order attribute by key, case-insensitively."""
        if not self.attributes:
            return None
        for k, v in self.attributes:
            if k == key:
                return v
        wanted = key.casefold()
        for k, v in self.attributes:
            if k.casefold() == wanted:
                return v
        return None


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)  # Python >= 3.11 reads the trailing "Z"


def _phone_of(node: Mapping[str, Any]) -> str | None:
    shipping = node.get("shippingAddress") or {}
    customer = node.get("customer") or {}
    billing = node.get("billingAddress") or {}
    default_phone = customer.get("defaultPhoneNumber") or {}
    for candidate in (
        node.get("phone"),
        shipping.get("phone"),
        default_phone.get("phoneNumber"),
        billing.get("phone"),
    ):
        if candidate and candidate.strip():
            return str(candidate).strip()
    return None


def line_from_node(node: Mapping[str, Any]) -> LineItem:
    variant = node.get("variant") or {}
    product = node.get("product") or {}
    sku = node.get("sku")
    return LineItem(
        sku=sku.strip() if sku and sku.strip() else None,
        title=node.get("title") or "",
        quantity=int(node.get("quantity") or 1),
        variant_id=variant.get("id"),
        product_id=product.get("id"),
    )


def order_from_node(
    node: Mapping[str, Any], line_nodes: Iterable[Mapping[str, Any]] | None = None
) -> Order:
    """An Order from a GraphQL `Order` object (paged: lineItems.nodes; bulk: separate lines)."""
    if line_nodes is None:
        conn = node.get("lineItems") or {}
        line_nodes = conn.get("nodes") or [e["node"] for e in conn.get("edges") or []]
    shipping = node.get("shippingAddress") or {}
    billing = node.get("billingAddress") or {}
    customer = node.get("customer") or {}
    money = (node.get("totalPriceSet") or {}).get("shopMoney") or {}
    cancelled = node.get("cancelledAt")
    return Order(
        id=node["id"],
        name=node.get("name") or "",
        created_at=parse_time(node["createdAt"]),
        cancelled_at=parse_time(cancelled) if cancelled else None,
        tags=tuple(node.get("tags") or ()),
        phone=_phone_of(node),
        country=shipping.get("countryCodeV2") or billing.get("countryCodeV2"),
        customer_id=customer.get("id"),
        customer_name=customer.get("displayName"),
        email=node.get("email"),
        client_ip=node.get("clientIp"),
        attributes=tuple(
            (a["key"], a["value"])
            for a in node.get("customAttributes") or ()
            if a.get("value") is not None
        ),
        total=Decimal(str(money.get("amount") or "0")),
        currency=money.get("currencyCode") or "",
        lines=tuple(line_from_node(n) for n in line_nodes),
        financial_status=node.get("displayFinancialStatus"),
        fulfillment_status=node.get("displayFulfillmentStatus"),
        source_name=node.get("sourceName"),
    )


def orders_from_jsonl(lines: Iterable[str | bytes]) -> Iterator[Order]:
    """Join a bulk operation's JSONL: order lines plus `__parentId` child lines.

    Children come after their parent but not necessarily adjacent, so orders are emitted once
    the whole file is read (in file order). Each line becomes a typed object as soon as it is
    read, so the raw dicts never pile up.
    """
    parents: list[Order] = []
    children: dict[str, list[LineItem]] = {}
    decode = _DECODER.raw_decode
    for raw in lines:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if not text or text.isspace():
            continue
        obj = decode(text.lstrip())[0]
        parent = obj.get("__parentId")
        if parent is None:
            parents.append(order_from_node(obj, ()))
        else:
            children.setdefault(parent, []).append(line_from_node(obj))
    for order in parents:
        lines_of = children.pop(order.id, None)
        if lines_of:
            order.lines = tuple(lines_of)
        yield order


_DECODER = json.JSONDecoder()
