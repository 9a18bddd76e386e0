"""Shopify fixtures (imported by conftest.py here and by tests/handlers/test_shopify*.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.notify import RecordingNotifier
from integrations.runtime.harness import SimulatorServer
from integrations.shopify.orders import LineItem, Order
from integrations.shopify.sandbox import DEMO_TOKEN, seeded_simulator
from integrations.shopify.simulator import ShopifySimulator
from tests.conftest import make_settings

BR = "chegou-br.myshopify.com"
MX = "chegou-mx.myshopify.com"
# The seeded demo/e2e channel where Shopify reports and confirmation cards are posted.
SHOPIFY_CHANNEL = "C0SHOPIFY1"
Sim = tuple[ShopifySimulator, SimulatorServer]


@pytest.fixture
def shopify_sim(fake_clock: FakeClock) -> Iterator[tuple[ShopifySimulator, SimulatorServer]]:
    sim = seeded_simulator(clock=fake_clock, restore_rate=50.0, bucket=1000.0)
    with SimulatorServer(sim.app, name="shopify") as server:
        sim.base_url = server.base_url
        yield sim, server


def store_settings(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "br": {
            "shop_url": BR,
            "access_token": DEMO_TOKEN,
            "display_name": "Chegou Brasil",
            "api_base_url": f"{base_url}/{BR}",
            **extra,
        },
        "mx": {
            "shop_url": MX,
            "client_id": "client-mx",
            "client_secret": "secret-mx",
            "display_name": "Chegou México",
            "api_base_url": f"{base_url}/{MX}",
        },
    }


@pytest.fixture
def make_shop_hub(
    tmp_path: Path,
    sqlite_engine: Engine,
    fake_clock: FakeClock,
    notifier: RecordingNotifier,
    shopify_sim: tuple[ShopifySimulator, SimulatorServer],
) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def make(**overrides: Any) -> Hub:
        values: dict[str, Any] = {
            "shopify_stores": store_settings(shopify_sim[1].base_url),
            "hub_channel_shopify": "C_SHOPIFY",
        }
        values.update(overrides)
        settings = make_settings(tmp_path, **values)
        hub = Hub.create(settings, engine=sqlite_engine, clock=fake_clock, notifier=notifier)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.close()


@pytest.fixture
def ops_hub(make_shop_hub: Callable[..., Hub]) -> Hub:
    """A Shopify hub where the e2e driver's admin and operator hold their roles."""
    from tests.e2e.fixtures import ADMIN, OPERATOR

    return make_shop_hub(hub_admins=[ADMIN], hub_operators=[OPERATOR])


def titled_cards(driver: Any, title: str) -> list[Any]:
    """Messages in the Shopify channel whose first block is a card with this title."""
    return [
        m
        for m in driver.messages(SHOPIFY_CHANNEL)
        if m.blocks and m.blocks[0].get("text", {}).get("text") == title
    ]


@pytest.fixture
def shop_hub(make_shop_hub: Callable[..., Hub]) -> Hub:
    return make_shop_hub()


NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
_counter = iter(range(1, 10**6))


def mk_order(
    *,
    hours_ago: float = 1.0,
    phone: str | None = "+5511987654321",
    country: str = "BR",
    sku: str | None = "SKU-1",
    title: str = "Kit Clareador",
    variant: str | None = "gid://shopify/ProductVariant/1",
    product: str | None = "gid://shopify/Product/1",
    tags: tuple[str, ...] = (),
    cancelled: bool = False,
    ip: str | None = None,
    client_ip: str | None = None,
    customer: str | None = None,
    total: str = "100.00",
    currency: str = "BRL",
    now: datetime = NOW,
) -> Order:
    n = next(_counter)
    created = now - timedelta(hours=hours_ago)
    return Order(
        id=f"gid://shopify/Order/{n}",
        name=f"#{1000 + n}",
        created_at=created,
        cancelled_at=created + timedelta(minutes=5) if cancelled else None,
        tags=tags,
        phone=phone,
        country=country,
        customer_id=customer if customer is not None else f"gid://shopify/Customer/{n}",
        client_ip=client_ip,
        attributes=(("IP address", ip),) if ip else (),
        total=__import__("decimal").Decimal(total),
        currency=currency,
        lines=(LineItem(sku=sku, title=title, variant_id=variant, product_id=product),),
    )
