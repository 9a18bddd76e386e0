"""Store resolution, cached clients and the reports the handlers, jobs, tools and CLI share."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import select

from bot.db import session_scope
from integrations.runtime.errors import BadResponse
from integrations.shopify.bulk_detect import DetectParams, detect_file
from integrations.shopify.bulk_scan import BadLine
from integrations.shopify.client import ShopifyClient
from integrations.shopify.duplicates import DuplicateReport, find_duplicates
from integrations.shopify.ips import DEFAULT_IP_SOURCES, IpReport, ip_report, normalize_ip
from integrations.shopify.models import IP_LISTS, ShopifyIpListEntry

if TYPE_CHECKING:
    from bot.hub import Hub
    from bot.settings import ShopifyStore

MAX_IP_DAYS = 365
BulkResult = tuple[DuplicateReport, IpReport]
ALL_STORES = ("todas", "todos", "all")


class StoreError(ValueError):
    """A pt-BR message about a store name that cannot be used."""


def configured_stores(hub: Hub) -> dict[str, ShopifyStore]:
    return {n: s for n, s in hub.settings.shopify_stores.items() if s.has_credentials()}


def resolve_stores(hub: Hub, name: str | None) -> list[str]:
    stores = configured_stores(hub)
    if not stores:
        raise StoreError(
            "Nenhuma loja Shopify configurada. Um admin precisa preencher SHOPIFY_STORES "
            "(veja `chegou-hub config check`)."
        )
    if name is None or name.casefold() in ALL_STORES:
        return sorted(stores)
    key = name.strip().casefold()
    for store_name in stores:
        if store_name.casefold() == key:
            return [store_name]
    raise StoreError(
        f"Loja `{name}` não encontrada. Lojas configuradas: {', '.join(sorted(stores))}."
    )


def display_name(hub: Hub, store: str) -> str:
    cfg = hub.settings.shopify_stores.get(store)
    return (cfg.display_name if cfg and cfg.display_name else None) or store


def client_for(hub: Hub, store: str) -> ShopifyClient:
    key = f"shopify.client.{store}"
    client = hub.services.get(key)
    if client is None:
        client = ShopifyClient(hub, store, hub.settings.shopify_stores[store])
        hub.services[key] = client
    return client


def _bulk_reports(hub: Hub, store: str, days: int, params: DetectParams) -> BulkResult:
    """Long windows: the bulk JSONL streamed to a temporary file, detected on every core."""
    client = client_for(hub, store)
    search, warnings = client.window_search(days, params.now)
    with tempfile.TemporaryDirectory(prefix="chegou-shopify-") as tmp:
        path = Path(tmp) / "orders.jsonl"
        client.bulk_to_file(search, path)
        try:
            dups, ips = detect_file(path, params)
        except BadLine as exc:  # Shopify's file, not our code: say which service failed
            raise BadResponse(
                f"bulk export unreadable: {exc}", integration="shopify", operation="bulk.detect"
            ) from exc
    dups.warnings.extend(warnings)
    ips.warnings.extend(warnings)
    return dups, ips


def duplicates_report(hub: Hub, store: str, days: int | None = None) -> DuplicateReport:
    days = days or hub.settings.shopify_duplicate_window_days
    cfg = hub.settings.shopify_stores[store]
    now = hub.clock.now()
    if client_for(hub, store).uses_bulk(days):
        params = DetectParams(
            now=now,
            dup_days=days,
            ip_days=None,
            processed_tags=tuple(cfg.processed_tags),
            store=store,
        )
        return _bulk_reports(hub, store, days, params)[0]
    fetched = client_for(hub, store).fetch_orders(days, now=now)
    report = find_duplicates(
        fetched.orders,
        now=now,
        window_days=days,
        processed_tags=cfg.processed_tags,
        store=store,
    )
    report.warnings.extend(fetched.warnings)
    return report


def ips_report(hub: Hub, store: str, days: int = 30, min_orders: int = 2) -> IpReport:
    if not 1 <= days <= MAX_IP_DAYS:
        raise StoreError(f"O período vai de 1 a {MAX_IP_DAYS} dias.")
    if min_orders < 2:
        raise StoreError("O mínimo de pedidos por IP é 2.")
    cfg = hub.settings.shopify_stores[store]
    now = hub.clock.now()
    lists = ip_lists(hub, store)
    if client_for(hub, store).uses_bulk(days):
        params = DetectParams(
            now=now,
            dup_days=None,
            ip_days=days,
            min_orders=min_orders,
            ip_sources=tuple(cfg.ip_sources or DEFAULT_IP_SOURCES),
            excluded_ips=tuple(lists["allow"] | lists["resolved"]),
            watched_ips=tuple(lists["watch"]),
            store=store,
        )
        return _bulk_reports(hub, store, days, params)[1]
    fetched = client_for(hub, store).fetch_orders(days, now=now)
    report = ip_report(
        fetched.orders,
        now=now,
        days=days,
        min_orders=min_orders,
        sources=cfg.ip_sources or DEFAULT_IP_SOURCES,
        excluded_ips=lists["allow"] | lists["resolved"],
        watched_ips=lists["watch"],
        store=store,
    )
    report.warnings.extend(fetched.warnings)
    return report


def ip_lists(hub: Hub, store: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {name: set() for name in IP_LISTS}
    with session_scope(hub.engine) as session:
        rows = session.exec(select(ShopifyIpListEntry).where(ShopifyIpListEntry.store == store))
        for row in rows:
            out.setdefault(row.list_name, set()).add(row.ip)
    return out


def set_ip_list(
    hub: Hub, store: str, ip: str, list_name: str | None, *, user: str | None = None
) -> str:
    """Put `ip` on one list of the store (None removes it); returns the normalised IP."""
    normalized = normalize_ip(ip)
    if normalized is None:
        raise StoreError(f"`{ip}` não é um endereço IP válido.")
    if list_name is not None and list_name not in IP_LISTS:
        raise StoreError("Lista inválida: use permitir, observar ou resolver.")
    with session_scope(hub.engine) as session:
        row = session.exec(
            select(ShopifyIpListEntry).where(
                ShopifyIpListEntry.store == store, ShopifyIpListEntry.ip == normalized
            )
        ).first()
        if list_name is None:
            if row is not None:
                session.delete(row)
            return normalized
        if row is None:
            row = ShopifyIpListEntry(
                store=store, ip=normalized, list_name=list_name, updated_at=hub.clock.now()
            )
        row.list_name = list_name
        row.updated_by = user
        row.updated_at = hub.clock.now()
        session.add(row)
    return normalized


def stores_label(hub: Hub, names: Iterable[str]) -> str:
    return ", ".join(display_name(hub, n) for n in names)
