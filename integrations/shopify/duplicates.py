"""Duplicate orders: same customer phone + same product + at least one unprocessed order.

The rule the team uses (see docs/user-guides/shopify-duplicados.md):
- cancelled orders are ignored; only orders created inside the window count;
- product match: SKU, else variant id, else product id, else normalised title (per line item);
- processed = the order carries one of the store's processed tags, compared as whole tags,
  case-insensitively (never substrings: `eh` must not match `cheho`);
- kept order: the most recent processed one; if none is processed, the oldest;
- every other unprocessed order of the group within the window of the kept order is a duplicate;
- the phone key is E.164 after country fixes (`certain`); a match only on the last 9 digits is
  `possible` and is never cancelled in bulk.

Scaling: normalising a phone is the expensive step, so orders are first blocked by the last
7 digits of the phone and the product key (cheap); only blocks with two or more orders are
normalised. Two numbers with the same E.164 always share their last 7 digits.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from integrations.shopify.orders import Order, paused_gc
from integrations.shopify.phones import digits_of, normalize, suffix

Match = Literal["sku", "variant", "product", "title", "phone_suffix"]
Confidence = Literal["certain", "possible"]

DEFAULT_PROCESSED_TAGS = ("order sent to dropi", "dropi sync error", "eh", "p cod", "prime cod")
_BLOCK_DIGITS = 7
_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def normalize_title(title: str) -> str:
    """Lower-case, accents and punctuation removed, spaces collapsed."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _PUNCT.sub(" ", text.casefold())
    return _SPACES.sub(" ", text).strip()


def product_keys(order: Order) -> dict[tuple[str, str], str]:
    """(criterion, value) → line title, one key per line item (first available criterion)."""
    keys: dict[tuple[str, str], str] = {}
    for line in order.lines:
        key = product_key(line.sku, line.variant_id, line.product_id, line.title)
        if key is not None:
            keys.setdefault(key, line.title)
    return keys


def product_key(
    sku: str | None, variant_id: str | None, product_id: str | None, title: str
) -> tuple[str, str] | None:
    """One line item's (criterion, value): SKU, else variant, else product, else title."""
    sku = sku.strip() if sku else ""
    if sku:
        return ("sku", sku.casefold())
    if variant_id:
        return ("variant", variant_id)
    if product_id:
        return ("product", product_id)
    text = normalize_title(title)
    return ("title", text) if text else None


def phone_block(phone: str | None) -> str | None:
    """The last 7 digits of a phone (the cheap block), None when it has fewer."""
    if not phone:
        return None
    digits = digits_of(phone)
    return digits[-_BLOCK_DIGITS:] if len(digits) >= _BLOCK_DIGITS else None


def processed_matcher(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(t.strip().casefold() for t in tags if t.strip())


def is_processed(order: Order, processed: frozenset[str]) -> bool:
    return has_processed_tag(order.tags, processed)


def has_processed_tag(tags: Iterable[str], processed: frozenset[str]) -> bool:
    """Whole-tag, case-insensitive match against `processed_matcher`'s set."""
    return any(tag.strip().casefold() in processed for tag in tags)


@dataclass(frozen=True)
class OrderRef:
    id: str
    name: str
    created_at: datetime
    processed: bool = False
    days_after_kept: float = 0.0


@dataclass(frozen=True)
class Finding:
    phone: str  # E.164 when certain; the shared last 9 digits when possible
    sku: str | None
    title: str
    match: Match
    confidence: Confidence
    kept: OrderRef
    duplicates: tuple[OrderRef, ...]
    store: str = ""

    @property
    def cancellable(self) -> bool:
        return self.confidence == "certain"

    def explain(self) -> str:
        """pt-BR: why these orders are duplicates."""
        criterion = {
            "sku": f"mesmo SKU ({self.sku})",
            "variant": "mesma variante do produto",
            "product": "mesmo produto",
            "title": f"mesmo título de produto ({self.title})",
            "phone_suffix": "telefones diferentes com os mesmos 9 últimos dígitos",
        }[self.match]
        kept = "processado" if self.kept.processed else "o mais antigo, nenhum processado"
        return f"{criterion}; mantido {self.kept.name} ({kept})"

    def to_json(self) -> dict[str, object]:
        return {
            "phone": self.phone,
            "product": {"sku": self.sku, "title": self.title},
            "match": self.match,
            "confidence": self.confidence,
            "kept_order": {
                "id": self.kept.id,
                "name": self.kept.name,
                "created_at": self.kept.created_at.isoformat(),
                "processed": self.kept.processed,
            },
            "duplicates": [
                {
                    "id": d.id,
                    "name": d.name,
                    "created_at": d.created_at.isoformat(),
                    "days_after_kept": d.days_after_kept,
                }
                for d in self.duplicates
            ],
        }


@dataclass
class DuplicateReport:
    store: str
    window_days: int
    generated_at: datetime
    findings: list[Finding] = field(default_factory=list)
    orders_scanned: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def certain(self) -> list[Finding]:
        return [f for f in self.findings if f.confidence == "certain"]

    def to_json(self) -> dict[str, object]:
        return {
            "store": self.store,
            "window_days": self.window_days,
            "generated_at": self.generated_at.isoformat(),
            "findings": [f.to_json() for f in self.findings],
        }


def _ref(order: Order, processed: bool, kept: Order | None = None) -> OrderRef:
    days = 0.0
    if kept is not None:
        days = round((order.created_at - kept.created_at).total_seconds() / 86400, 2)
    return OrderRef(order.id, order.name, order.created_at, processed, days)


def _decide(
    group: Sequence[Order], processed: frozenset[str], window: timedelta
) -> tuple[Order, bool, list[Order]] | None:
    """(kept order, kept is processed, duplicates) for one phone+product group, or None."""
    if len(group) < 2:
        return None
    done = [o for o in group if is_processed(o, processed)]
    pending = [o for o in group if not is_processed(o, processed)]
    if not pending:
        return None
    if done:
        kept = max(done, key=lambda o: (o.created_at, o.id))
    else:
        kept = min(pending, key=lambda o: (o.created_at, o.id))
    dups = sorted(
        (o for o in pending if o is not kept and abs(o.created_at - kept.created_at) <= window),
        key=lambda o: (o.created_at, o.id),
    )
    if not dups:
        return None
    return kept, bool(done), dups


BlockKey = tuple[str, tuple[str, str]]


def block_keys(order: Order, start: datetime, end: datetime) -> list[tuple[BlockKey, str]] | None:
    """The cheap blocks an order falls in: ((last 7 phone digits, product key), line title).

    None when the order does not count (cancelled or outside the window); an empty list when
    it counts but cannot match (no usable phone). Orders can only be duplicates of each other
    if they share a block, so whoever partitions the work only needs these keys.
    """
    if order.cancelled_at is not None or order.created_at < start or order.created_at > end:
        return None
    block = phone_block(order.phone)
    if block is None:
        return []
    return [((block, key), title) for key, title in product_keys(order).items()]


def find_duplicates(
    orders: Iterable[Order],
    *,
    now: datetime,
    window_days: int = 30,
    processed_tags: Iterable[str] = DEFAULT_PROCESSED_TAGS,
    store: str = "",
) -> DuplicateReport:
    """The duplicate findings of `orders` (see the module docstring for the rule)."""
    with paused_gc():  # many small groups: no cycles, no need for the cyclic collector
        return _find_duplicates(
            orders, now=now, window_days=window_days, processed_tags=processed_tags, store=store
        )


def _find_duplicates(
    orders: Iterable[Order],
    *,
    now: datetime,
    window_days: int = 30,
    processed_tags: Iterable[str] = DEFAULT_PROCESSED_TAGS,
    store: str = "",
) -> DuplicateReport:
    window = timedelta(days=window_days)
    start = now - window
    processed = processed_matcher(processed_tags)
    report = DuplicateReport(store=store, window_days=window_days, generated_at=now)
    blocks: dict[tuple[str, tuple[str, str]], list[Order]] = defaultdict(list)
    titles: dict[tuple[str, str], str] = {}
    scanned = 0
    for order in orders:
        order_blocks = block_keys(order, start, now)
        if order_blocks is None:
            continue
        scanned += 1
        for block_key, title in order_blocks:
            blocks[block_key].append(order)
            titles.setdefault(block_key[1], title)
    report.orders_scanned = scanned

    findings: list[Finding] = []
    for (_block, pkey), members in blocks.items():
        if len(members) < 2:
            continue
        criterion, value = pkey
        by_e164: dict[str, list[Order]] = defaultdict(list)
        by_suffix: dict[str, list[Order]] = defaultdict(list)
        e164_of: dict[str, str | None] = {}
        for order in members:
            e164 = normalize(order.phone, order.country)
            e164_of[order.id] = e164
            if e164:
                by_e164[e164].append(order)
            sfx = suffix(order.phone)
            if sfx:
                by_suffix[sfx].append(order)
        flagged: set[str] = set()
        sku = value if criterion == "sku" else None
        for e164, group in by_e164.items():
            decided = _decide(group, processed, window)
            if decided is None:
                continue
            kept, kept_processed, dups = decided
            title = _line_title(kept, pkey) or titles[pkey]
            findings.append(
                Finding(
                    phone=e164,
                    sku=_line_sku(kept, pkey) if sku else None,
                    title=title,
                    match=criterion,  # type: ignore[arg-type]
                    confidence="certain",
                    kept=_ref(kept, kept_processed),
                    duplicates=tuple(_ref(d, False, kept) for d in dups),
                    store=store,
                )
            )
            flagged.update(d.id for d in dups)
        for sfx, group in by_suffix.items():
            keys = {e164_of[o.id] for o in group}
            if len(keys) < 2 and None not in keys:
                continue  # every order has the same E.164: handled above
            decided = _decide(group, processed, window)
            if decided is None:
                continue
            kept, kept_processed, dups = decided
            extra = [d for d in dups if d.id not in flagged]
            if not extra:
                continue
            findings.append(
                Finding(
                    phone=sfx,
                    sku=_line_sku(kept, pkey) if sku else None,
                    title=_line_title(kept, pkey) or titles[pkey],
                    match="phone_suffix",
                    confidence="possible",
                    kept=_ref(kept, kept_processed),
                    duplicates=tuple(_ref(d, False, kept) for d in extra),
                    store=store,
                )
            )
    report.findings = sort_findings(findings)
    return report


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Certain first, then by kept order; a total order, so merged shares sort the same way."""
    return sorted(
        findings,
        key=lambda f: (
            f.confidence != "certain",
            f.kept.created_at,
            f.kept.id,
            f.title,
            f.match,
            f.phone,
            tuple(d.id for d in f.duplicates),
        ),
    )


def _line_title(order: Order, key: tuple[str, str]) -> str | None:
    for line_key, title in product_keys(order).items():
        if line_key == key:
            return title
    return None


def _line_sku(order: Order, key: tuple[str, str]) -> str | None:
    for line in order.lines:
        if line.sku and line.sku.strip().casefold() == key[1]:
            return line.sku
    return key[1]
