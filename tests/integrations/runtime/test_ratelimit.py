"""The per-integration token bucket, on a fake clock."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.runtime.errors import RateLimitedError
from integrations.runtime.harness import Fault, SimulatorServer
from integrations.runtime.ratelimit import DEFAULT_RATE_LIMITS, RateLimit, RateLimiter
from tests.conftest import make_settings


def test_bucket_holds_its_rate_after_the_burst(fake_clock: FakeClock) -> None:
    limiter = RateLimiter("x", RateLimit(rate=2, burst=5), fake_clock)
    start = fake_clock.monotonic()
    times = []
    for _ in range(25):
        limiter.acquire()
        times.append(fake_clock.monotonic() - start)

    # The burst goes at once, then exactly 2 per second.
    assert times[:5] == [0.0] * 5
    assert times[-1] == pytest.approx(10.0)
    for i, t in enumerate(times):
        allowed = 5 + 2 * t  # tokens available by time t
        assert i + 1 <= allowed + 1e-9
    assert sum(fake_clock.slept) == pytest.approx(10.0)


def test_bucket_refills_while_idle_up_to_the_burst(fake_clock: FakeClock) -> None:
    limiter = RateLimiter("x", RateLimit(rate=1, burst=3), fake_clock)
    for _ in range(3):
        limiter.acquire()
    fake_clock.advance(100)  # idle: refills to 3, not 100
    assert limiter.tokens == pytest.approx(3)
    for _ in range(4):
        limiter.acquire()
    assert fake_clock.slept == [1.0]


def test_cost_weighs_on_the_bucket(fake_clock: FakeClock) -> None:
    limiter = RateLimiter("x", RateLimit(rate=10, burst=50), fake_clock)
    assert limiter.acquire(50) == 0
    assert limiter.acquire(20) == pytest.approx(2.0)


def test_pause_stops_callers_until_the_servers_window_ends(fake_clock: FakeClock) -> None:
    limiter = RateLimiter("x", RateLimit(rate=100, burst=100), fake_clock)
    limiter.pause(3)
    assert limiter.acquire() == pytest.approx(3)
    assert limiter.acquire() == 0


def test_wait_beyond_the_cap_fails_fast(fake_clock: FakeClock) -> None:
    limiter = RateLimiter("x", RateLimit(rate=1, burst=1), fake_clock, max_wait=60)
    limiter.pause(600)
    with pytest.raises(RateLimitedError) as info:
        limiter.acquire()
    assert info.value.retry_after == pytest.approx(600)
    assert fake_clock.slept == []


def test_defaults_and_overrides(
    tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock
) -> None:
    settings = make_settings(
        tmp_path, hub_rate_limits={"shopify": {"rate": 4}, "dropi": {"rate": 1, "burst": 2}}
    )
    hub = Hub.create(settings, engine=sqlite_engine, clock=fake_clock)
    try:
        shop = hub.runtime.limiter("shopify:loja1")
        assert (shop.rate, shop.burst) == (4, DEFAULT_RATE_LIMITS["shopify"].burst)
        assert hub.runtime.limiter("shopify:loja1") is shop  # one per integration key
        assert hub.runtime.limiter("shopify:loja2") is not shop  # Shopify limits are per store
        assert (hub.runtime.limiter("dropi").rate, hub.runtime.limiter("dropi").burst) == (1, 2)
        assert hub.runtime.limiter("primecod").rate == 20  # >= 50 ms between requests
    finally:
        hub.close()


def test_client_requests_go_through_the_limiter(
    tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock, sim: SimulatorServer
) -> None:
    settings = make_settings(tmp_path, hub_rate_limits={"slowpoke": {"rate": 0.5, "burst": 2}})
    hub = Hub.create(settings, engine=sqlite_engine, clock=fake_clock)
    try:
        client = hub.runtime.client("slowpoke", sim.base_url)
        for _ in range(4):
            client.request("GET", "/items", operation="items.list")
        assert fake_clock.slept == [2.0, 2.0]
        # A cost header fed back by an area client weighs on the same bucket.
        client.request("GET", "/items", operation="items.list", cost=2)
        assert fake_clock.slept == [2.0, 2.0, 4.0]
    finally:
        hub.close()


def test_exhausted_quota_headers_pause_the_integration(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    quota = {"RateLimit-Remaining": "0", "RateLimit-Reset": "12"}
    sim.faults.add("/items", Fault(status=200, body={"ok": 1}, headers=quota), times=1)
    client = rhub.runtime.client("test", sim.base_url)
    assert client.json("GET", "/items", operation="items.list") == {"ok": 1}
    assert fake_clock.slept == []
    client.json("GET", "/items", operation="items.list")
    assert fake_clock.slept == [12.0]

    # Quota left: no pause.
    quota = {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "30"}
    sim.faults.add("/items", Fault(status=200, body={"ok": 1}, headers=quota), times=1)
    client.json("GET", "/items", operation="items.list")
    client.json("GET", "/items", operation="items.list")
    assert fake_clock.slept == [12.0]


def test_retry_after_as_an_http_date(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    when = format_datetime(fake_clock.now() + timedelta(seconds=30), usegmt=True)
    sim.faults.add("/items", Fault(status=429, headers={"Retry-After": when}), times=1)
    client = rhub.runtime.client("test", sim.base_url)
    client.json("GET", "/items", operation="items.list")
    assert fake_clock.slept == [30.0]


def test_area_clients_feed_cost_signals_through_on_response(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    def shopify_like(response: httpx.Response, limiter: RateLimiter) -> None:
        if "x-cost" in response.headers:
            limiter.charge(float(response.headers["x-cost"]))

    rhub.runtime.limiter("costly")  # created with the fallback limit (10/s, burst 20)
    client = rhub.runtime.client("costly", sim.base_url, on_response=shopify_like)
    sim.faults.add("/graphql", Fault(status=200, body={"data": {}}, headers={"X-Cost": "59"}))
    client.json("POST", "/graphql", operation="q", json={}, retry=True)
    assert fake_clock.slept == []  # the answer itself is not held back
    client.json("POST", "/graphql", operation="q", json={}, retry=True)
    # 1 token for the first request + 59 reported + 1 now: 41 tokens short at 10/s.
    assert fake_clock.slept == [pytest.approx(4.1)]


def test_a_failing_on_response_hook_does_not_fail_the_call(rhub: Hub, sim: SimulatorServer) -> None:
    def broken(response: httpx.Response, limiter: RateLimiter) -> None:
        raise KeyError("x-cost")

    client = rhub.runtime.client("test", sim.base_url, on_response=broken)
    assert client.json("GET", "/items", operation="items.list")["items"] == [1, 2, 3]
    assert rhub.runtime.records[-1].ok
