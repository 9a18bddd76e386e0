"""TTL cache (on a fake clock) and single-flight, through real HTTP."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.runtime.cache import DEFAULT_CACHE_TTLS, TTLCache, request_key
from integrations.runtime.errors import ClientError
from integrations.runtime.harness import Fault, SimulatorServer
from integrations.runtime.metrics import REGISTRY
from tests.conftest import make_settings
from tests.integrations.runtime.conftest import Upstream


def _hub(tmp_path: Path, engine: Engine, clock: FakeClock, **overrides: Any) -> Hub:
    settings = make_settings(tmp_path, **overrides)
    return Hub.create(settings, engine=engine, clock=clock)


def test_company_default_ttls() -> None:
    assert DEFAULT_CACHE_TTLS["openai"] == 0
    assert DEFAULT_CACHE_TTLS["anthropic_admin"] == 0
    assert DEFAULT_CACHE_TTLS["shopify"] == 300
    assert DEFAULT_CACHE_TTLS["smmraja"] == 600
    assert DEFAULT_CACHE_TTLS["novelties"] == 900
    for name in ("primecod", "ecomhub", "dropi"):
        assert DEFAULT_CACHE_TTLS[name] == 300


def test_ttl_expiry_on_the_fake_clock(
    rhub: Hub, sim: SimulatorServer, upstream: Upstream, fake_clock: FakeClock
) -> None:
    client = rhub.runtime.client("shopify:loja1", sim.base_url)
    assert rhub.runtime.cache_ttl("shopify:loja1") == 300

    first = client.json("GET", "/items", operation="orders.list", cache=True)
    fake_clock.advance(299)
    second = client.json("GET", "/items", operation="orders.list", cache=True)
    assert first == second and upstream.calls["items"] == 1

    fake_clock.advance(2)  # 301 s after the first call: expired
    third = client.json("GET", "/items", operation="orders.list", cache=True)
    assert third["n"] == 2 and upstream.calls["items"] == 2

    # Only upstream calls are recorded; cache hits are not calls.
    assert len(rhub.runtime.records) == 2


def test_cache_is_opt_in_per_call(rhub: Hub, sim: SimulatorServer, upstream: Upstream) -> None:
    client = rhub.runtime.client("shopify", sim.base_url)
    client.json("GET", "/items", operation="orders.list")
    client.json("GET", "/items", operation="orders.list")
    assert upstream.calls["items"] == 2


def test_financial_integrations_are_never_cached(
    rhub: Hub, sim: SimulatorServer, upstream: Upstream
) -> None:
    for name in ("openai", "anthropic_admin"):
        client = rhub.runtime.client(name, sim.base_url)
        client.json("GET", "/items", operation="costs", cache=True)
        client.json("GET", "/items", operation="costs", cache=True)
    assert upstream.calls["items"] == 4


def test_ttl_overrides_from_settings(
    tmp_path: Path,
    sqlite_engine: Engine,
    fake_clock: FakeClock,
    sim: SimulatorServer,
    upstream: Upstream,
) -> None:
    hub = _hub(tmp_path, sqlite_engine, fake_clock, hub_cache_ttls={"smmraja": 5, "shopify:b": 0})
    try:
        assert hub.runtime.cache_ttl("smmraja") == 5
        assert hub.runtime.cache_ttl("shopify:a") == 300
        assert hub.runtime.cache_ttl("shopify:b") == 0
        client = hub.runtime.client("smmraja", sim.base_url)
        client.json("GET", "/items", operation="balance", cache=True)
        fake_clock.advance(6)
        client.json("GET", "/items", operation="balance", cache=True)
        assert upstream.calls["items"] == 2
    finally:
        hub.close()


def test_key_covers_params_body_and_credentials(
    rhub: Hub, sim: SimulatorServer, upstream: Upstream
) -> None:
    a = rhub.runtime.client("novelties", sim.base_url, headers={"Authorization": "Bearer aaaaaaa"})
    b = rhub.runtime.client("novelties", sim.base_url, headers={"Authorization": "Bearer bbbbbbb"})
    a.json("GET", "/echo", operation="x", params={"page": 1}, cache=True)
    a.json("GET", "/echo", operation="x", params={"page": 1}, cache=True)  # hit
    a.json("GET", "/echo", operation="x", params={"page": 2}, cache=True)
    b.json("GET", "/echo", operation="x", params={"page": 1}, cache=True)  # other credential
    a.json("POST", "/echo", operation="x", json={"q": 1}, cache=True, retry=True)
    a.json("POST", "/echo", operation="x", json={"q": 2}, cache=True, retry=True)
    a.json("POST", "/echo", operation="x", json={"q": 2}, cache=True, retry=True)  # hit
    assert upstream.calls["echo"] == 5
    assert request_key("GET", "u", {"a": 1, "b": 2}) == request_key("get", "u", {"b": 2, "a": 1})


def test_errors_are_not_cached(rhub: Hub, sim: SimulatorServer, upstream: Upstream) -> None:
    sim.faults.add("/items", Fault(status=404), times=1)
    client = rhub.runtime.client("shopify", sim.base_url)
    with pytest.raises(ClientError):
        client.json("GET", "/items", operation="orders.list", cache=True)
    assert client.json("GET", "/items", operation="orders.list", cache=True)["n"] == 1
    assert client.json("GET", "/items", operation="orders.list", cache=True)["n"] == 1


def _run_concurrently(
    n: int, fn: Any
) -> tuple[list[Any], list[BaseException], list[threading.Thread]]:
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            value = fn()
        except BaseException as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    return results, errors, threads


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)


def test_single_flight_collapses_concurrent_identical_calls(
    rhub: Hub, sim: SimulatorServer, upstream: Upstream
) -> None:
    client = rhub.runtime.client("shopify:loja1", sim.base_url)
    store = rhub.runtime.cache("shopify:loja1")

    results, errors, threads = _run_concurrently(
        20, lambda: client.json("GET", "/slow", operation="orders.list", cache=True)
    )
    # Hold the upstream answer until every caller has joined the one flight in progress.
    _wait_for(lambda: sum(f.waiters for f in list(store._flights.values())) == 19)
    upstream.gate.set()
    for t in threads:
        t.join(10)

    assert errors == []
    assert len(results) == 20
    assert all(r == {"n": 1} for r in results)
    assert upstream.calls["slow"] == 1
    assert len(sim.requests) == 1
    hits = REGISTRY.get_sample_value(
        "chegou_hub_cache_requests_total", {"integration": "shopify", "result": "shared"}
    )
    assert hits is not None and hits >= 19


def test_single_flight_shares_a_failure_with_the_callers_waiting(
    rhub: Hub, sim: SimulatorServer, upstream: Upstream
) -> None:
    client = rhub.runtime.client("dropi", sim.base_url)
    store = rhub.runtime.cache("dropi")
    results, errors, threads = _run_concurrently(
        5,
        lambda: client.json(
            "GET", "/slow", operation="orders.list", params={"status": 400}, cache=True
        ),
    )
    _wait_for(lambda: sum(f.waiters for f in list(store._flights.values())) == 4)
    upstream.gate.set()
    for t in threads:
        t.join(10)

    assert results == []
    assert len(errors) == 5 and all(isinstance(e, ClientError) for e in errors)
    assert len(sim.requests) == 1
    assert store._flights == {}
    assert len(store) == 0  # the failure was not stored
    assert len(rhub.runtime.records) == 1


def test_ttl_cache_unit_eviction_and_invalidation(fake_clock: FakeClock) -> None:
    cache: TTLCache[int] = TTLCache(10, fake_clock, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3)  # evicts b
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    cache.invalidate("a")
    assert cache.get("a") is None
    fake_clock.advance(10)
    assert cache.get("c") is None
    assert len(cache) == 0


def test_calls_that_change_state_cannot_be_cached(rhub: Hub, sim: SimulatorServer) -> None:
    client = rhub.runtime.client("smmraja", sim.base_url)
    with pytest.raises(ValueError, match="only for reads"):
        client.request("POST", "/orders", operation="add", json={"quantity": 1}, cache=True)
    with pytest.raises(ValueError, match="only for reads"):
        client.request(
            "POST", "/orders", operation="add", json={"quantity": 1}, cache=True, retry=False
        )
    assert sim.requests == []
    # A GET may opt out of retries and still be cached.
    client.request("GET", "/items", operation="balance", cache=True, retry=False)
    client.request("GET", "/items", operation="balance", cache=True, retry=False)
    assert len(sim.requests) == 1
