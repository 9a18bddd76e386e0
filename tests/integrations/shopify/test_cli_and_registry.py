from __future__ import annotations

import json
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.runtime.harness import SimulatorServer
from integrations.runtime.registry import get
from integrations.shopify.simulator import ShopifySimulator
from tests.integrations.shopify.fixtures import store_settings

Sim = tuple[ShopifySimulator, SimulatorServer]


@pytest.fixture
def cli_env(
    shopify_sim: Sim, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, fake_clock: FakeClock
) -> Sim:
    monkeypatch.setenv("SHOPIFY_STORES", json.dumps(store_settings(shopify_sim[1].base_url)))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    from bot.db import make_engine, upgrade

    upgrade(make_engine(f"sqlite:///{tmp_path / 'cli.db'}"))
    real_create = Hub.create

    def create(settings: Any, **kw: Any) -> Hub:
        return real_create(settings, clock=fake_clock, **kw)

    monkeypatch.setattr(Hub, "create", create)
    return shopify_sim


def test_duplicates_json_shape(cli_env: Sim, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    assert main(["shopify", "duplicates", "--store", "br", "--days", "30", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"store", "window_days", "generated_at", "findings"}
    assert data["store"] == "br" and data["window_days"] == 30
    assert "+00:00" in data["generated_at"]
    matches = {f["match"] for f in data["findings"]}
    assert {"sku", "variant", "phone_suffix"} <= matches
    f = data["findings"][0]
    assert f["kept_order"]["id"].startswith("gid://shopify/Order/")
    assert {"id", "name", "created_at", "days_after_kept"} == set(f["duplicates"][0])


def test_duplicates_dry_run_changes_nothing(
    cli_env: Sim, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    assert main(["shopify", "duplicates", "--store", "br", "--dry-run"]) == 0
    out = capsys.readouterr()
    assert "4 seriam cancelados" in out.err and "Nada foi alterado" in out.err
    assert "grupo(s) de duplicados" in out.out
    assert cli_env[0].shops["chegou-br.myshopify.com"].cancel_calls == []


def test_ips_json_shape(cli_env: Sim, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    assert main(["shopify", "ips", "--store", "br", "--days", "30", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"store", "days", "min_orders", "generated_at", "ips"}
    by_ip = {e["ip"]: e for e in data["ips"]}
    cluster = by_ip["187.45.210.77"]
    assert set(cluster) >= {
        "ip",
        "orders",
        "active_orders",
        "cancelled_orders",
        "distinct_customers",
        "total_value",
        "currency",
        "first_order_at",
        "last_order_at",
        "sources",
        "order_ids",
    }
    assert cluster["orders"] == 5 and cluster["cancelled_orders"] == 1
    assert cluster["sources"] == ["attribute:IP address"]
    assert isinstance(cluster["total_value"], str)
    assert "2804:14c:65:8001::a" in by_ip
    assert "201.17.33.9" not in by_ip  # one customer re-buying
    assert "35.190.21.8" not in by_ip  # the COD app's server IP never groups buyers


def test_unknown_store_is_a_clear_error(cli_env: Sim, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    assert main(["shopify", "ips", "--store", "nope"]) == 2
    assert "não encontrada" in capsys.readouterr().err


def test_registry_entry(shopify_sim: Sim, shop_hub: Hub) -> None:
    integration = get("shopify")
    assert integration.is_configured(shop_hub.settings)
    assert integration.config_errors(shop_hub.settings) == []
    assert integration.health_check is not None
    assert integration.health_check(shop_hub).status == "pass"
    shopify_sim[0].shops["chegou-br.myshopify.com"].access_tokens.clear()
    shop_hub.services.clear()
    assert integration.health_check(shop_hub).status == "warn"


def test_config_errors(tmp_path: Any) -> None:
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path,
        shopify_stores={
            "a": {"shop_url": "a.myshopify.com", "client_id": "x"},
            "b": {"shop_url": "b.myshopify.com"},
            "c": {"shop_url": "loja.com.br", "access_token": "shpat_x"},
        },
    )
    integration = get("shopify")
    assert integration.is_configured(settings)  # store c has a token
    assert integration.config_errors(settings) == [
        "loja a: client_id sem client_secret",
        "loja b: falta access_token ou o par client_id + client_secret",
        "loja c: shop_url deve terminar em .myshopify.com",
    ]
    assert "shpat_x" not in str(integration.config_errors(settings))
