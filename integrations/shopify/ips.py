"""Suspicious buyer IPs: many orders from one IP by more than one distinct customer.

The IP comes from a configurable list of sources, first hit wins: `attribute:<name>` reads an
order attribute (COD-form apps write the buyer's IP into `IP address`), `clientIp` reads the
checkout IP. Addresses are normalised with `ipaddress` (IPv6 compressed, IPv4-mapped IPv6 as
IPv4); invalid values are ignored. No prefix-based filtering: it discards real customers.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from integrations.shopify.orders import Order, find_attribute, paused_gc
from integrations.shopify.phones import suffix

DEFAULT_IP_SOURCES = ("attribute:IP address", "clientIp")


# A dotted quad already in its normal form (most buyer IPs): no need for `ipaddress`.
_CANONICAL_V4 = re.compile(
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
)


def normalize_ip(value: str | None) -> str | None:
    if not value:
        return None
    if _CANONICAL_V4.fullmatch(value):  # fast path: canonical dotted quad
        return value
    if _SYSTEM_V6_IS_CANONICAL and ":" in value and "." not in value:
        # Fast path: IPv6 already in its normal form once lower-cased. The C library writes
        # the RFC 5952 form, which is what `ipaddress` writes for addresses without a dotted
        # tail (those may be IPv4-mapped: the slow path decides).
        low = value.lower()
        try:
            if socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, low)) == low:
                return low
        except (OSError, ValueError):
            pass
    return _normalize_ip(value)


def _system_v6_is_canonical() -> bool:
    """Whether this platform's inet_ntop writes IPv6 exactly as `ipaddress` does."""
    samples = (
        "2001:db8::1",
        "1:0:3:4:5:6:7:8",  # a single zero group is not compressed
        "1:0:0:4:0:0:0:8",  # the longest run is
        "1:0:0:4:5:0:0:8",  # the first of equal runs is
        "::",
        "::1",
        "fe80::abcd:ef01:2345:6789",
        "::ffff:102:304",  # IPv4-mapped: the C library writes a dotted tail
    )
    try:
        for sample in samples:
            packed = socket.inet_pton(socket.AF_INET6, sample)
            if socket.inet_ntop(socket.AF_INET6, packed) != str(ipaddress.IPv6Address(sample)):
                return sample == "::ffff:102:304"  # expected to differ; the rest matched
        return False
    except (OSError, ValueError, AttributeError):
        return False


_SYSTEM_V6_IS_CANONICAL = _system_v6_is_canonical()


@lru_cache(maxsize=65_536)
def _normalize_ip(value: str) -> str | None:
    text = value.strip().strip("[]")
    if "%" in text:
        text = text.split("%", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _parse_sources(sources: Sequence[str]) -> list[tuple[str, str | None]]:
    """(source, attribute name or None for clientIp); unknown sources are dropped."""
    parsed: list[tuple[str, str | None]] = []
    for source in sources:
        if source.startswith("attribute:"):
            parsed.append((source, source.removeprefix("attribute:")))
        elif source == "clientIp":
            parsed.append((source, None))
    return parsed


def _extract(order: Order, parsed: list[tuple[str, str | None]]) -> tuple[str, str] | None:
    return _extract_values(order.client_ip, order.attributes, parsed)


def _extract_values(
    client_ip: str | None,
    attributes: tuple[tuple[str, str], ...],
    parsed: list[tuple[str, str | None]],
) -> tuple[str, str] | None:
    """`_extract` on an order's raw fields (the bulk scan reads them without an Order)."""
    for source, attribute in parsed:
        raw = client_ip if attribute is None else find_attribute(attributes, attribute)
        if raw:
            ip = normalize_ip(raw)
            if ip is not None:
                return ip, source
    return None


def extract_ip(order: Order, sources: Sequence[str]) -> tuple[str, str] | None:
    """(ip, source) from the first source that gives a valid address."""
    return _extract(order, _parse_sources(sources))


def customer_key(order: Order) -> str:
    """Who bought: the customer id, else the phone, else the e-mail, else the order itself."""
    return customer_key_of(order.customer_id, order.phone, order.email, order.id)


def customer_key_of(
    customer_id: str | None, phone: str | None, email: str | None, order_id: str
) -> str:
    """`customer_key` on an order's raw fields."""
    if customer_id:
        return customer_id
    sfx = suffix(phone)
    if sfx:
        return f"phone:{sfx}"
    if email:
        return f"email:{email.strip().casefold()}"
    return f"order:{order_id}"


@dataclass
class IpEntry:
    ip: str
    orders: list[Order] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    watching: bool = False

    @property
    def active_orders(self) -> int:
        return sum(1 for o in self.orders if not o.cancelled)

    @property
    def cancelled_orders(self) -> int:
        return sum(1 for o in self.orders if o.cancelled)

    @property
    def totals(self) -> dict[str, Decimal]:
        """Value of the active orders, per currency (never added across currencies)."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        for o in self.orders:
            if not o.cancelled:
                out[o.currency] += o.total
        return dict(out)

    @property
    def currency(self) -> str:
        counts = Counter(o.currency for o in self.orders)
        return counts.most_common(1)[0][0] if counts else ""

    @property
    def total_value(self) -> Decimal:
        return self.totals.get(self.currency, Decimal("0"))

    @property
    def first_order_at(self) -> datetime:
        return min(o.created_at for o in self.orders)

    @property
    def last_order_at(self) -> datetime:
        return max(o.created_at for o in self.orders)

    def to_json(self, tz: object = None) -> dict[str, object]:
        totals = self.totals
        data: dict[str, object] = {
            "ip": self.ip,
            "orders": len(self.orders),
            "active_orders": self.active_orders,
            "cancelled_orders": self.cancelled_orders,
            "distinct_customers": len(self.customers),
            "total_value": str(self.total_value),
            "currency": self.currency,
            "first_order_at": self.first_order_at.isoformat(),
            "last_order_at": self.last_order_at.isoformat(),
            "sources": sorted(self.sources),
            "order_ids": [o.id for o in sorted(self.orders, key=lambda o: o.created_at)],
        }
        if len(totals) > 1:
            data["totals"] = {cur: str(val) for cur, val in sorted(totals.items())}
        if self.watching:
            data["watching"] = True
        return data


@dataclass
class IpReport:
    store: str
    days: int
    min_orders: int
    generated_at: datetime
    entries: list[IpEntry] = field(default_factory=list)
    orders_scanned: int = 0
    orders_without_ip: int = 0
    excluded: int = 0  # suspicious IPs left out because allowed or resolved
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "store": self.store,
            "days": self.days,
            "min_orders": self.min_orders,
            "generated_at": self.generated_at.isoformat(),
            "ips": [e.to_json() for e in self.entries],
        }


def ip_report(
    orders: Iterable[Order],
    *,
    now: datetime,
    days: int,
    min_orders: int = 2,
    sources: Sequence[str] = DEFAULT_IP_SOURCES,
    excluded_ips: Iterable[str] = (),
    watched_ips: Iterable[str] = (),
    store: str = "",
) -> IpReport:
    """Suspicious = at least `min_orders` orders (cancelled included) from > 1 customer.

    `excluded_ips` (allowed + resolved lists) are left out; `watched_ips` are flagged.
    """
    with paused_gc():  # one small group per IP: no cycles, no need for the cyclic collector
        return _ip_report(
            orders,
            now=now,
            days=days,
            min_orders=min_orders,
            sources=sources,
            excluded_ips=excluded_ips,
            watched_ips=watched_ips,
            store=store,
        )


def _ip_report(
    orders: Iterable[Order],
    *,
    now: datetime,
    days: int,
    min_orders: int = 2,
    sources: Sequence[str] = DEFAULT_IP_SOURCES,
    excluded_ips: Iterable[str] = (),
    watched_ips: Iterable[str] = (),
    store: str = "",
) -> IpReport:
    end = now
    start = now - timedelta(days=days)
    skip = {n for n in (normalize_ip(ip) for ip in excluded_ips) if n}
    watch = {n for n in (normalize_ip(ip) for ip in watched_ips) if n}
    report = IpReport(store=store, days=days, min_orders=min_orders, generated_at=now)
    parsed = _parse_sources(sources)
    # Group cheaply first (most IPs have one order); build entries only for candidates.
    groups: dict[str, list[tuple[Order, str]]] = {}
    scanned = without_ip = 0
    for order in orders:
        if order.created_at < start or order.created_at > end:
            continue
        scanned += 1
        found = _extract(order, parsed)
        if found is None:
            without_ip += 1
            continue
        ip, source = found
        bucket = groups.get(ip)
        if bucket is None:
            groups[ip] = [(order, source)]
        else:
            bucket.append((order, source))
    report.orders_scanned = scanned
    report.orders_without_ip = without_ip
    for ip, members in groups.items():
        if len(members) < min_orders:
            continue
        customers = {customer_key(o) for o, _ in members}
        if len(customers) < 2:
            continue
        if ip in skip:
            report.excluded += 1
            continue
        report.entries.append(
            IpEntry(
                ip,
                orders=[o for o, _ in members],
                sources={src for _, src in members},
                customers=customers,
                watching=ip in watch,
            )
        )
    report.entries = sort_entries(report.entries)
    return report


def sort_entries(entries: Iterable[IpEntry]) -> list[IpEntry]:
    """Most orders first, then most customers, then by IP (a total order: IPs are unique)."""
    return sorted(entries, key=lambda e: (-len(e.orders), -len(e.customers), e.ip))
