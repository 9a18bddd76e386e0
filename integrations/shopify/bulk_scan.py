"""A bulk detection worker's first pass: one byte range of the JSONL, down to grouping keys.

Each line is decoded with msgspec into a small typed struct (`Line`) that declares only the
fields the detectors group by: the decoder skips the rest of the line without building it and
parses the timestamps in C. A line the struct rejects (a number where Shopify sends a string,
say) is decoded again with orjson and read leniently, the way the paged path reads a node, so
an odd line costs time, never a finding.

Per order the scan keeps the file offset (full orders are built later, for candidates only),
the phone block of orders that count for duplicates and whether they are pending, and the
hashed buyer IP and customer key of orders in the IP window. Line items are only located: their
offset and their order's position.
Hashes are CRC-32, the same in every process; a collision only adds a candidate that the real
detectors then leave out.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zlib import crc32

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from integrations.shopify.duplicates import has_processed_tag, phone_block, processed_matcher
from integrations.shopify.ips import customer_key_of, normalize_ip
from integrations.shopify.orders import parse_time


class _Ref(msgspec.Struct, gc=False):
    id: str | None = None


class _PhoneNumber(msgspec.Struct, gc=False):
    phoneNumber: str | None = None


class _Customer(msgspec.Struct, gc=False):
    id: str | None = None
    defaultPhoneNumber: _PhoneNumber | None = None


class _Address(msgspec.Struct, gc=False):
    phone: str | None = None


class _Attribute(msgspec.Struct, gc=False):
    key: str
    value: str | None = None


class Line(msgspec.Struct, gc=False):
    """An order line or a line-item line (`__parentId`): only the fields the scan reads."""

    id: str | None = None
    createdAt: datetime | None = None
    cancelledAt: datetime | None = None
    phone: str | None = None
    email: str | None = None
    clientIp: str | None = None
    tags: list[str] | None = None
    customAttributes: list[_Attribute] | None = None
    customer: _Customer | None = None
    shippingAddress: _Address | None = None
    billingAddress: _Address | None = None
    parentId: str | None = msgspec.field(default=None, name="__parentId")
    sku: str | None = None
    title: str | None = None
    variant: _Ref | None = None
    product: _Ref | None = None


_decode = msgspec.json.Decoder(Line).decode


class BadLine(ValueError):
    """The export holds a line that is not an order or line item (truncated, not JSON)."""


def decode_line(raw: bytes, at: int | None = None) -> Line:
    """A JSONL line as a `Line`; odd shapes are read leniently (see the module docstring).

    Raises `BadLine` for a line that is not JSON or not an order or line item at all.
    """
    try:
        return _decode(raw)
    except msgspec.ValidationError:
        try:
            return _lenient(orjson.loads(raw))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadLine(f"line{_at(at)} is not an order or line item ({exc})") from None
    except msgspec.DecodeError:
        raise BadLine(f"line{_at(at)} is not valid JSON") from None


def _at(offset: int | None) -> str:
    return "" if offset is None else f" at byte {offset}"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _ref(value: Any) -> _Ref | None:
    return _Ref(_text(value.get("id"))) if value else None


def _lenient(node: Mapping[str, Any]) -> Line:
    """`Line` from a decoded dict, with the paged path's tolerance (`order_from_node`)."""
    get = node.get
    parent = get("__parentId")
    if parent is not None:
        return Line(
            parentId=str(parent),
            sku=_text(get("sku")),
            title=_text(get("title")),
            variant=_ref(get("variant")),
            product=_ref(get("product")),
        )
    customer = get("customer") or {}
    default_phone = customer.get("defaultPhoneNumber") or {}
    cancelled = get("cancelledAt")
    attrs = get("customAttributes") or ()
    return Line(
        id=str(node["id"]),
        createdAt=parse_time(node["createdAt"]),
        cancelledAt=parse_time(cancelled) if cancelled else None,
        phone=_text(get("phone") or None),
        tags=[str(t) for t in get("tags") or ()],
        email=_text(get("email")),
        clientIp=_text(get("clientIp")),
        customAttributes=[_Attribute(str(a["key"]), _text(a.get("value"))) for a in attrs],
        customer=_Customer(
            _text(customer.get("id")),
            _PhoneNumber(_text(default_phone.get("phoneNumber") or None)),
        ),
        shippingAddress=_Address(_text((get("shippingAddress") or {}).get("phone") or None)),
        billingAddress=_Address(_text((get("billingAddress") or {}).get("phone") or None)),
    )


def phone_of(line: Line) -> str | None:
    """The first non-blank phone of: order, shipping address, customer, billing address."""
    phone = line.phone
    if phone and (phone := phone.strip()):
        return phone
    shipping = line.shippingAddress
    if shipping is not None and (phone := shipping.phone) and (phone := phone.strip()):
        return phone
    customer = line.customer
    default = customer.defaultPhoneNumber if customer is not None else None
    if default is not None and (phone := default.phoneNumber) and (phone := phone.strip()):
        return phone
    billing = line.billingAddress
    if billing is not None and (phone := billing.phone) and (phone := phone.strip()):
        return phone
    return None


def _attribute(attrs: list[_Attribute] | None, name: str, folded: str) -> str | None:
    """`orders.find_attribute` on the struct: first value whose key matches case-insensitively."""
    if attrs:
        for attr in attrs:
            key = attr.key
            if attr.value is not None and (key == name or key.casefold() == folded):
                return attr.value
    return None


def ip_of(line: Line, sources: Sequence[tuple[str | None, str]]) -> str | None:
    """The buyer IP from the first source that gives a valid address (`ips._extract_values`).

    `sources` holds (attribute name or None for clientIp, the name casefolded).
    """
    for attribute, folded in sources:
        raw = (
            line.clientIp
            if attribute is None
            else _attribute(line.customAttributes, attribute, folded)
        )
        if raw:
            ip = normalize_ip(raw)
            if ip is not None:
                return ip
    return None


def key_hash(text: str, start: int = 0) -> int:
    """CRC-32 of `text` continuing from `start`, never 0 (0 means "no key" in the arrays)."""
    return crc32(text.encode(), start) or 1


@dataclass(frozen=True)
class ScanSpec:
    """What the scan counts: orders created inside each window (an empty window: none), the
    IP sources in order, and the store's processed tags (casefolded, as `processed_matcher`)."""

    dup_start: datetime
    dup_end: datetime
    ip_start: datetime
    ip_end: datetime
    ip_sources: tuple[tuple[str | None, str], ...]  # (attribute or None, casefolded name)
    processed: frozenset[str]

    @classmethod
    def of(
        cls,
        now: datetime,
        dup_days: int | None,
        ip_days: int | None,
        ip_sources: Sequence[tuple[str, str | None]],
        processed_tags: Iterable[str],
    ) -> ScanSpec:
        # An end before the start: nothing falls in a window that was not asked for.
        never = (now, now - timedelta(days=1))
        dup = (now - timedelta(days=dup_days), now) if dup_days else never
        ip = (now - timedelta(days=ip_days), now) if ip_days else never
        sources = tuple((a, a.casefold() if a is not None else "") for _, a in ip_sources)
        return cls(dup[0], dup[1], ip[0], ip[1], sources, processed_matcher(processed_tags))


_PARENT_KEY = b'"__parentId":"'


def _decoded_parent(raw: bytes) -> str:
    """The `__parentId` of a line-item line whose id the byte scan cannot take as is."""
    parent = decode_line(raw).parentId
    return parent if parent is not None else ""


@dataclass
class RangeScan:
    """One byte range read down to the grouping keys (no Order objects)."""

    offsets: array[int] = field(default_factory=lambda: array("q"))  # each order line's offset
    index: dict[str, int] = field(default_factory=dict)  # order id → position
    blocks: array[int] = field(default_factory=lambda: array("I"))  # phone block hash; 0: none
    pending: bytearray = field(default_factory=bytearray)  # 1: counts and is not processed
    ip_hashes: array[int] = field(default_factory=lambda: array("I"))  # 0: no IP / outside
    customer_hashes: array[int] = field(default_factory=lambda: array("I"))
    child_offsets: array[int] = field(default_factory=lambda: array("q"))  # each line item's
    child_orders: array[int] = field(default_factory=lambda: array("q"))  # its order, or -1
    orphans: dict[str, list[int]] = field(default_factory=dict)  # parent elsewhere → offsets
    # line items met before their order (another range's, usually): (parent id, item number)
    early: list[tuple[str, int]] = field(default_factory=list)
    dup_scanned: int = 0
    ip_scanned: int = 0
    ip_without: int = 0

    def finish(self) -> None:
        """Attach the line items met before their order; the rest are orphans (their order
        is in a range another worker read)."""
        for parent, item in self.early:
            owner = self.index.get(parent)
            if owner is None:
                self.orphans.setdefault(parent, []).append(self.child_offsets[item])
            else:
                self.child_orders[item] = owner
        self.early.clear()

    def items_of(
        self, orders: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Line items of `orders` (ascending positions): a count per order, and their offsets
        one order after the other, each order's in file order."""
        owners = np.frombuffer(self.child_orders, dtype=np.int64)
        hits = np.flatnonzero(np.isin(owners, orders))
        rows = np.searchsorted(orders, owners[hits])
        by_row = np.argsort(rows, kind="stable")  # stable: file order within an order
        offsets = np.frombuffer(self.child_offsets, dtype=np.int64)[hits][by_row]
        return np.bincount(rows, minlength=len(orders)).astype(np.int64), offsets


def scan_range(
    path: str, start: int, end: int, spec: ScanSpec, into: RangeScan | None = None
) -> RangeScan:
    """Read the lines in [start, end) of `path` (cut at line ends) into a `RangeScan`.

    With `into`, adds to that scan (a worker handed several ranges, in any order); call
    `RangeScan.finish` once every range is read.

    Line items are only located here (parent id and offset, in two flat lists: a dict of lists
    per parent cost more than the rest of the line items' scan); their product keys are read
    later, and only for candidate orders. An unescaped `"__parentId":"` can only be that key (a
    quote inside a JSON string is always escaped), and Shopify writes it only on line items; an
    id with an escape in it is decoded properly. This loop runs once per line of a
    million-order file, hence the local names and the inlined checks.
    """
    scan = RangeScan() if into is None else into
    offsets, index, blocks = scan.offsets, scan.index, scan.blocks
    ip_hashes, customer_hashes = scan.ip_hashes, scan.customer_hashes
    child_offsets, child_orders = scan.child_offsets, scan.child_orders
    dup_start, dup_end, processed = spec.dup_start, spec.dup_end, spec.processed
    ip_start, ip_end, sources = spec.ip_start, spec.ip_end, spec.ip_sources
    pending = scan.pending
    dup_scanned = ip_scanned = ip_without = 0
    marker, skip = _PARENT_KEY, len(_PARENT_KEY)
    early = scan.early
    n = len(offsets)  # orders so far
    with open(path, "rb") as fh:
        fh.seek(start)
        pos = start
        for raw in fh:
            at = pos
            pos += len(raw)
            marked = raw.find(marker)
            if marked >= 0:
                marked += skip
                stop = raw.find(b'"', marked)
                value = raw[marked:stop]
                escaped = stop < 0 or b"\\" in value
                parent = _decoded_parent(raw) if escaped else value.decode()
                owner = index.get(parent)
                if owner is None:
                    early.append((parent, len(child_orders)))
                    owner = -1
                child_offsets.append(at)
                child_orders.append(owner)
            elif raw[0] == 123 or raw.strip():  # "{" starts every order line: no copy
                line = decode_line(raw, at)
                order_id = line.id
                created = line.createdAt
                if order_id is None or created is None:
                    raise BadLine(f"order line at byte {at} has no id or createdAt")
                index[order_id] = n
                n += 1
                offsets.append(at)
                phone = phone_of(line)
                block = waiting = 0
                if line.cancelledAt is None and dup_start <= created <= dup_end:
                    dup_scanned += 1
                    digits = phone_block(phone)
                    if digits is not None:
                        block = crc32(digits.encode()) or 1  # key_hash(digits), inlined
                        waiting = not has_processed_tag(line.tags or (), processed)
                blocks.append(block)
                pending.append(waiting)
                ip_hash = customer_hash = 0
                if ip_start <= created <= ip_end:
                    ip_scanned += 1
                    ip = ip_of(line, sources)
                    if ip is None:
                        ip_without += 1
                    else:
                        ip_hash = crc32(ip.encode()) or 1
                        customer = line.customer
                        who = customer.id if customer is not None else None
                        if not who:
                            who = customer_key_of(None, phone, line.email, order_id)
                        customer_hash = crc32(who.encode()) or 1
                ip_hashes.append(ip_hash)
                customer_hashes.append(customer_hash)
            if pos >= end:
                break
    scan.dup_scanned += dup_scanned
    scan.ip_scanned += ip_scanned
    scan.ip_without += ip_without
    if into is None:
        scan.finish()
    return scan
