"""The client against the simulator: pacing, THROTTLED handling, auth, bulk, scopes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.runtime.errors import AuthError
from integrations.runtime.harness import Fault, SimulatorServer
from integrations.shopify.client import ShopifyError
from integrations.shopify.service import client_for
from integrations.shopify.simulator import ShopifySimulator
from tests.integrations.shopify.fixtures import BR, MX

Sim = tuple[ShopifySimulator, SimulatorServer]


def test_paged_fetch_never_gets_throttled_and_pages_are_sized_from_cost(
    shopify_sim: Sim, shop_hub: Hub, fake_clock: FakeClock
) -> None:
    sim, _server = shopify_sim
    client = client_for(shop_hub, "br")
    result = client.fetch_orders(30)
    assert result.method == "pages"
    in_window = [
        o for o in sim.shops[BR].orders.values() if o["createdAt"] >= "2026-10-03T12:00:00Z"
    ]
    assert {o.id for o in result.orders} == {o["id"] for o in in_window}
    assert sim.shops[BR].throttled == 0 and client.throttled == 0
    # the first page is small (cost probe); later pages fill the 1,000-point cap
    sizes = [r for r in shop_hub.runtime.records if r.operation == "orders.page"]
    assert len(sizes) >= 3
    assert client.costs["orders.page"] <= 1000
    assert fake_clock.slept  # it paced itself on the clock instead of overdrawing


def test_a_throttled_answer_is_waited_out_and_resent(
    shopify_sim: Sim, shop_hub: Hub, fake_clock: FakeClock
) -> None:
    sim, _server = shopify_sim
    client = client_for(shop_hub, "br")
    client.shop_info()  # learn the bucket
    sim.shops[BR].bucket.available = 0  # someone else drained it
    info = client.shop_info()
    assert info["myshopifyDomain"] == BR
    assert client.throttled == 1 and sim.shops[BR].throttled == 1


def test_http_429_throttle_is_handled(shopify_sim: Sim, shop_hub: Hub) -> None:
    _sim, server = shopify_sim
    body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    server.faults.add("/chegou-br", Fault(status=429, retry_after=1, body=body), times=1)
    client = client_for(shop_hub, "br")
    assert client.shop_info()["myshopifyDomain"] == BR
    # The runtime retries the read-only query after Retry-After (on the fake clock) and records
    # the 429 as a rate_limit; the answer still arrives.
    categories = [r.category for r in shop_hub.runtime.records if r.operation == "shop"]
    assert categories == ["rate_limit", None]
    assert 1 in shop_hub.clock.slept  # type: ignore[attr-defined]


def test_client_credentials_token_is_fetched_and_refreshed_before_24h(
    shopify_sim: Sim, shop_hub: Hub, fake_clock: FakeClock
) -> None:
    client = client_for(shop_hub, "mx")
    assert client.shop_info()["myshopifyDomain"] == MX
    first = client._token

    def grants() -> int:
        return sum(1 for r in shop_hub.runtime.records if r.operation == "oauth.client_credentials")

    fake_clock.advance(23 * 3600)
    client.shop_info()
    assert client._token == first and grants() == 1  # still valid: reused
    fake_clock.advance(55 * 60)  # 23h55: inside the 10-minute margin
    client.shop_info()
    assert client._token != first and grants() == 2
    assert all(r.ok for r in shop_hub.runtime.records)  # never sent an expired token


def test_an_expired_token_is_refreshed_once_on_401(
    shopify_sim: Sim, shop_hub: Hub, fake_clock: FakeClock
) -> None:
    sim, _server = shopify_sim
    client = client_for(shop_hub, "mx")
    client.shop_info()
    sim.shops[MX].issued.clear()  # the shop revoked it
    assert client.shop_info()["myshopifyDomain"] == MX


def test_a_bad_static_token_raises_auth_error(
    make_shop_hub: Callable[..., Hub], shopify_sim: Sim
) -> None:
    from tests.integrations.shopify.fixtures import store_settings

    hub = make_shop_hub(
        shopify_stores=store_settings(shopify_sim[1].base_url, access_token="shpat_revoked")
    )
    with pytest.raises(AuthError) as info:
        client_for(hub, "br").shop_info()
    assert "shpat_revoked" not in str(info.value)


def test_long_windows_use_the_bulk_path(
    shopify_sim: Sim, make_shop_hub: Callable[..., Hub], fake_clock: FakeClock
) -> None:
    sim, _server = shopify_sim
    hub = make_shop_hub(shopify_bulk_threshold_days=30)
    client = client_for(hub, "br")
    result = client.fetch_orders(120)
    assert result.method == "bulk" and result.warnings == []
    assert {o.id for o in result.orders} == set(sim.shops[BR].orders)
    with_lines = [o for o in result.orders if len(o.lines) > 1]
    assert with_lines  # __parentId children joined back to their orders
    assert sim.shops[BR].throttled == 0


def test_bulk_download_is_streamed_recorded_and_retried_before_data(
    shopify_sim: Sim, make_shop_hub: Callable[..., Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, server = shopify_sim
    hub = make_shop_hub(shopify_bulk_threshold_days=30)
    client = client_for(hub, "br")
    server.faults.add(f"/bulk/{BR}/", Fault(status=503), times=1)
    # The whole-body API is not used for the download any more.
    original = client.http.request

    def no_buffered_download(method: str, path: str, **kwargs: object) -> object:
        assert "/bulk/" not in path, "bulk JSONL must be streamed"
        return original(method, path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(client.http, "request", no_buffered_download)
    result = client.fetch_orders(120)
    assert {o.id for o in result.orders} == set(sim.shops[BR].orders)
    downloads = [r for r in hub.runtime.records if r.operation == "bulk.download"]
    assert [(r.ok, r.category, r.attempt) for r in downloads] == [
        (False, "server", 1),
        (True, None, 2),
    ]


def test_missing_read_all_orders_gives_a_clear_warning(shopify_sim: Sim, shop_hub: Hub) -> None:
    sim, _server = shopify_sim
    sim.shops[BR].scopes.discard("read_all_orders")
    result = client_for(shop_hub, "br").fetch_orders(90)
    assert "read_all_orders" in result.warnings[0] and "60 dias" in result.warnings[0]
    cutoff = shop_hub.clock.now() - timedelta(days=60)
    assert result.orders and all(o.created_at >= cutoff for o in result.orders)


def test_graphql_errors_become_pt_br_shopify_errors(shopify_sim: Sim, shop_hub: Hub) -> None:
    client = client_for(shop_hub, "br")
    with pytest.raises(ShopifyError) as info:
        client.execute("{ orders(first: 1) { nodes { nope } } }", operation="bad")
    assert "rejeitou" in info.value.message


def test_queries_are_retryable_and_mutations_are_not(
    shopify_sim: Sim, shop_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, _server = shopify_sim
    client = client_for(shop_hub, "br")
    seen: list[tuple[str, object]] = []
    original = client.http.json

    def spy(method: str, path: str, **kw: object) -> object:
        seen.append((str(kw["operation"]), kw.get("retry")))
        return original(method, path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(client.http, "json", spy)
    order_id = next(iter(sim.shops[BR].orders))
    client.get_order(order_id)
    client.add_tags(order_id, ["x"])
    client.cancel_order(order_id, staff_note="n", notify=False)
    assert seen == [("orders.get", True), ("tags.add", False), ("orders.cancel", False)]


def test_unknown_api_version_is_a_clear_message(
    make_shop_hub: Callable[..., Hub], shopify_sim: Sim
) -> None:
    from tests.integrations.shopify.fixtures import store_settings

    hub = make_shop_hub(
        shopify_stores=store_settings(shopify_sim[1].base_url, api_version="2019-01")
    )
    with pytest.raises(ShopifyError) as info:
        client_for(hub, "br").shop_info()
    assert "versão 2019-01" in info.value.message
