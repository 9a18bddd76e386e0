"""The simulator behaves like Shopify: schema validation, auth, cost, throttling, bulk, jobs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.clock import FakeClock
from integrations.runtime.harness import SimulatorServer
from integrations.shopify import queries
from integrations.shopify.sandbox import DEMO_TOKEN
from integrations.shopify.simulator import ShopifySimulator
from tests.integrations.shopify.fixtures import BR

Sim = tuple[ShopifySimulator, SimulatorServer]


def post(server: SimulatorServer, query: str, variables: Any = None, **kw: Any) -> httpx.Response:
    shop = kw.pop("shop", BR)
    version = kw.pop("version", "2026-04")
    token = kw.pop("token", DEMO_TOKEN)
    return httpx.post(
        f"{server.base_url}/{shop}/admin/api/{version}/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
    )


def test_bad_token_unknown_shop_and_unknown_version(shopify_sim: Sim) -> None:
    _sim, server = shopify_sim
    assert post(server, queries.SHOP_INFO, token="shpat_wrong").status_code == 401
    assert post(server, queries.SHOP_INFO, token="").status_code == 401
    assert post(server, queries.SHOP_INFO, shop="nope.myshopify.com").status_code == 404
    assert post(server, queries.SHOP_INFO, version="2019-01").status_code == 404
    ok = post(server, queries.SHOP_INFO)
    assert ok.status_code == 200 and ok.json()["data"]["shop"]["myshopifyDomain"] == BR


def test_documents_are_validated_against_the_schema(shopify_sim: Sim) -> None:
    _sim, server = shopify_sim
    body = post(server, "{ orders(first: 2) { nodes { id browserIp } } }").json()
    assert "data" not in body and "browserIp" in body["errors"][0]["message"]
    body = post(server, "{ orders(first: 2) { nodes { id } }").json()
    assert body["errors"][0]["message"].startswith("Syntax Error")
    body = post(server, "{ orders { nodes { id } } }").json()
    assert "first or last" in body["errors"][0]["message"]


def test_cost_is_reported_and_refunded_to_actual(shopify_sim: Sim) -> None:
    _sim, server = shopify_sim
    body = post(server, queries.ORDERS_PAGE, {"first": 20}).json()
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 20 * 40
    assert cost["actualQueryCost"] < cost["requestedQueryCost"]
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 1000 and status["restoreRate"] == 50
    assert status["currentlyAvailable"] == 1000 - cost["actualQueryCost"]


def test_single_query_cap_and_page_size_limit(shopify_sim: Sim) -> None:
    _sim, server = shopify_sim
    body = post(server, queries.ORDERS_PAGE, {"first": 30}).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    body = post(server, "{ orders(first: 251) { nodes { id } } }").json()
    assert "maximum page size" in body["errors"][0]["message"]


def test_throttled_when_the_bucket_is_overdrawn_and_restores_with_time(
    shopify_sim: Sim, fake_clock: FakeClock
) -> None:
    sim, server = shopify_sim
    post(server, queries.ORDERS_PAGE, {"first": 24}).json()  # ~962 requested
    body = post(server, queries.ORDERS_PAGE, {"first": 24}).json()
    assert body["errors"] == [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ]
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert sim.shops[BR].throttled == 1
    fake_clock.advance(20)  # 50 points/s
    assert "errors" not in post(server, queries.ORDERS_PAGE, {"first": 24}).json()


def test_search_filters_and_cursor_pagination(shopify_sim: Sim, fake_clock: FakeClock) -> None:
    sim, server = shopify_sim
    since = "2026-10-26T12:00:00Z"
    search = f"created_at:>='{since}' -status:cancelled"
    ids: list[str] = []
    after = None
    while True:
        fake_clock.advance(30)
        body = post(server, queries.ORDERS_PAGE, {"first": 7, "after": after, "query": search})
        conn = body.json()["data"]["orders"]
        ids += [n["id"] for n in conn["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    expected = sorted(
        (
            o
            for o in sim.shops[BR].orders.values()
            if o["createdAt"] >= since and not o["cancelledAt"]
        ),
        key=lambda o: (o["createdAt"], int(o["id"].rsplit("/", 1)[-1])),
    )
    assert ids == [o["id"] for o in expected] and len(ids) > 7


def test_without_read_all_orders_older_orders_are_invisible(shopify_sim: Sim) -> None:
    sim, server = shopify_sim
    query = "{ orders(first: 250, query: \"created_at:<'2026-09-01T00:00:00Z'\") { nodes { id } } }"
    sim.shops[BR].bucket.maximum = sim.shops[BR].bucket.available = 10_000
    assert post(server, query).json()["data"]["orders"]["nodes"]
    sim.shops[BR].scopes.discard("read_all_orders")
    assert post(server, query).json()["data"]["orders"]["nodes"] == []
    scopes = post(server, queries.ACCESS_SCOPES).json()["data"]["currentAppInstallation"]
    assert "read_all_orders" not in {s["handle"] for s in scopes["accessScopes"]}


def test_bulk_operation_jsonl_with_non_adjacent_children(
    shopify_sim: Sim, fake_clock: FakeClock
) -> None:
    sim, server = shopify_sim
    run = post(server, queries.BULK_RUN, {"query": queries.bulk_orders_query("")}).json()
    op = run["data"]["bulkOperationRunQuery"]["bulkOperation"]
    assert op["status"] == "CREATED"
    status = post(server, queries.BULK_STATUS, {"id": op["id"]}).json()["data"]["node"]
    assert status["status"] == "RUNNING" and status["url"] is None
    fake_clock.advance(5)
    status = post(server, queries.BULK_STATUS, {"id": op["id"]}).json()["data"]["node"]
    assert status["status"] == "COMPLETED"
    lines = [json.loads(x) for x in httpx.get(status["url"]).text.splitlines()]
    parents = [i for i, x in enumerate(lines) if "__parentId" not in x]
    assert len(parents) == len(sim.shops[BR].orders) == int(status["rootObjectCount"])
    position = {lines[i]["id"]: i for i in parents}
    children = [(i, x) for i, x in enumerate(lines) if "__parentId" in x]
    assert all(i > position[x["__parentId"]] for i, x in children)
    assert any(i != position[x["__parentId"]] + 1 for i, x in children)  # not adjacent


def test_invalid_bulk_query_is_a_user_error(shopify_sim: Sim) -> None:
    _sim, server = shopify_sim
    bad = "{ orders { edges { node { id nope } } } }"
    payload = post(server, queries.BULK_RUN, {"query": bad}).json()["data"]
    assert payload["bulkOperationRunQuery"]["userErrors"][0]["message"].startswith("Invalid")


def test_order_cancel_is_an_async_job_and_tags_add_appends(
    shopify_sim: Sim, fake_clock: FakeClock
) -> None:
    sim, server = shopify_sim
    order_id = next(iter(o for o in sim.shops[BR].orders.values() if not o["cancelledAt"]))["id"]
    variables = {"orderId": order_id, "notifyCustomer": False, "staffNote": "dup"}
    payload = post(server, queries.ORDER_CANCEL, variables).json()["data"]["orderCancel"]
    assert payload["orderCancelUserErrors"] == [] and payload["job"]["done"] is False
    job_id = payload["job"]["id"]
    assert post(server, queries.JOB_STATUS, {"id": job_id}).json()["data"]["job"]["done"] is False
    assert sim.shops[BR].orders[order_id]["cancelledAt"] is None
    fake_clock.advance(3)
    assert post(server, queries.JOB_STATUS, {"id": job_id}).json()["data"]["job"]["done"] is True
    node = post(server, queries.ORDER_BY_ID, {"id": order_id}).json()["data"]["node"]
    assert node["cancelledAt"] is not None
    again = post(server, queries.ORDER_CANCEL, variables).json()["data"]["orderCancel"]
    assert again["orderCancelUserErrors"][0]["code"] == "INVALID"
    before = list(node["tags"])
    post(server, queries.TAGS_ADD, {"id": order_id, "tags": ["dup-cancelado"]})
    post(server, queries.TAGS_ADD, {"id": order_id, "tags": ["DUP-cancelado"]})
    assert sim.shops[BR].orders[order_id]["tags"] == [*before, "dup-cancelado"]


@pytest.mark.parametrize("note", ["x" * 256])
def test_staff_note_longer_than_255_is_rejected(shopify_sim: Sim, note: str) -> None:
    sim, server = shopify_sim
    order_id = next(iter(sim.shops[BR].orders))
    payload = post(server, queries.ORDER_CANCEL, {"orderId": order_id, "staffNote": note}).json()[
        "data"
    ]["orderCancel"]
    assert payload["job"] is None and payload["orderCancelUserErrors"][0]["code"] == "INVALID"


def test_client_credentials_grant(shopify_sim: Sim, fake_clock: FakeClock) -> None:
    _sim, server = shopify_sim
    url = f"{server.base_url}/chegou-mx.myshopify.com/admin/oauth/access_token"
    bad = httpx.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": "client-mx",
            "client_secret": "nope",
        },
    )
    assert bad.status_code == 401
    good = httpx.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": "client-mx",
            "client_secret": "secret-mx",
        },
    ).json()
    assert good["expires_in"] == 86399
    token = good["access_token"]
    shop = "chegou-mx.myshopify.com"
    assert post(server, queries.SHOP_INFO, shop=shop, token=token).status_code == 200
    fake_clock.advance(24 * 3600)
    assert post(server, queries.SHOP_INFO, shop=shop, token=token).status_code == 401
