"""Retries only where safe, against real HTTP (the harness) on a fake clock."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.runtime.errors import (
    AuthError,
    BadResponse,
    ClientError,
    NetworkError,
    RateLimitedError,
    TimeoutError_,
    UpstreamUnavailable,
)
from integrations.runtime.harness import Fault, SimulatorServer
from tests.conftest import make_settings


def _categories(hub: Hub) -> list[str | None]:
    return [r.category for r in hub.runtime.records]


def test_get_is_retried_on_503_with_exponential_backoff(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    sim.faults.add("/items", Fault(status=503), times=2)
    client = rhub.runtime.client("test", sim.base_url)

    data = client.json("GET", "/items", operation="items.list")

    assert data["items"] == [1, 2, 3]
    assert [r.method for r in sim.requests] == ["GET"] * 3
    assert fake_clock.slept == [4.0, 8.0]  # 4–10 s policy, on the fake clock
    assert _categories(rhub) == ["server", "server", None]
    assert [r.attempt for r in rhub.runtime.records] == [1, 2, 3]


def test_backoff_is_capped_at_the_maximum_wait(
    tmp_path: Path, sim: SimulatorServer, fake_clock: FakeClock, sqlite_engine: Engine
) -> None:
    settings = make_settings(
        tmp_path, retry_attempts=5, retry_wait_min_seconds=4, retry_wait_max_seconds=10
    )
    hub = Hub.create(settings, engine=sqlite_engine, clock=fake_clock)
    try:
        sim.faults.add("/items", Fault(status=502))
        client = hub.runtime.client("test", sim.base_url)
        with pytest.raises(UpstreamUnavailable) as info:
            client.request("GET", "/items", operation="items.list")
        assert info.value.status_code == 502
        assert fake_clock.slept == [4.0, 8.0, 10.0, 10.0]
        assert len(sim.requests) == 5
    finally:
        hub.close()


def test_retries_give_up_after_the_configured_attempts(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    sim.faults.add("/items", Fault(status=504))
    client = rhub.runtime.client("test", sim.base_url)
    with pytest.raises(UpstreamUnavailable):
        client.request("GET", "/items", operation="items.list")
    assert len(sim.requests) == 3
    assert len(fake_clock.slept) == 2


def test_post_that_spends_money_is_attempted_once_even_on_503(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    sim.faults.add("/orders", Fault(status=503), method="POST")
    client = rhub.runtime.client("test", sim.base_url)

    with pytest.raises(UpstreamUnavailable):
        client.request(
            "POST", "/orders", operation="orders.add", json={"quantity": 1000}, retry=False
        )
    with pytest.raises(UpstreamUnavailable):  # retry=None: POST is not a safe method
        client.request("POST", "/orders", operation="orders.add", json={"quantity": 1000})

    assert [r.method for r in sim.requests] == ["POST", "POST"]
    assert fake_clock.slept == []
    assert _categories(rhub) == ["server", "server"]


@pytest.mark.parametrize(
    "fault", [Fault(reset=True), Fault(status=429, retry_after=1)], ids=["reset", "429"]
)
def test_spending_post_is_not_retried_on_network_errors_or_429(
    rhub: Hub, sim: SimulatorServer, fault: Fault
) -> None:
    sim.faults.add("/orders", fault, times=1)
    client = rhub.runtime.client("test", sim.base_url)
    with pytest.raises((NetworkError, RateLimitedError)):
        client.request("POST", "/orders", operation="orders.add", json={"quantity": 1})
    assert len(sim.requests) == 1


def test_read_only_post_opts_in_to_retries(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    sim.faults.add("/graphql", Fault(status=503), times=1)
    client = rhub.runtime.client("test", sim.base_url)
    data = client.json(
        "POST", "/graphql", operation="shop.query", json={"query": "{shop{name}}"}, retry=True
    )
    assert data["data"]["shop"]["name"] == "Loja"
    assert len(sim.requests) == 2


def test_get_can_opt_out_of_retries(rhub: Hub, sim: SimulatorServer) -> None:
    sim.faults.add("/items", Fault(status=503), times=1)
    client = rhub.runtime.client("test", sim.base_url)
    with pytest.raises(UpstreamUnavailable):
        client.request("GET", "/items", operation="items.list", retry=False)
    assert len(sim.requests) == 1


def test_get_is_retried_after_a_dropped_connection(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    sim.faults.add("/items", Fault(reset=True), times=2)
    client = rhub.runtime.client("test", sim.base_url)
    assert client.json("GET", "/items", operation="items.list")["items"] == [1, 2, 3]
    assert _categories(rhub) == ["network", "network", None]
    assert len(fake_clock.slept) == 2


def test_get_is_retried_after_a_read_timeout(rhub: Hub, sim: SimulatorServer) -> None:
    # The retried attempt must answer within the timeout even on a loaded machine: keep a margin.
    sim.faults.add("/items", Fault(latency=1.0), times=1)
    client = rhub.runtime.client("test", sim.base_url, timeout=httpx.Timeout(0.5))
    assert client.json("GET", "/items", operation="items.list")["n"] >= 1
    assert _categories(rhub) == ["timeout", None]


def test_429_honours_retry_after_on_the_fake_clock(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    sim.faults.add("/items", Fault(status=429, retry_after=7), times=1)
    client = rhub.runtime.client("test", sim.base_url)

    assert client.json("GET", "/items", operation="items.list")["items"] == [1, 2, 3]

    assert fake_clock.slept == [7.0]  # Retry-After, not the exponential backoff
    assert _categories(rhub) == ["rate_limit", None]
    assert sim.requests[0].fault == "429"


def test_429_pauses_the_whole_integration(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    sim.faults.add("/items", Fault(status=429, retry_after=20), times=1)
    client = rhub.runtime.client("test", sim.base_url)
    with pytest.raises(RateLimitedError):
        client.request("GET", "/items", operation="items.list", retry=False)
    assert rhub.runtime.limiter("test").paused_for() == pytest.approx(20)
    # Another operation of the same integration waits for the server's window first.
    client.request("GET", "/echo", operation="echo")
    assert fake_clock.slept == [20.0]


def test_retry_after_beyond_the_cap_is_not_waited_for(
    rhub: Hub, sim: SimulatorServer, fake_clock: FakeClock
) -> None:
    sim.faults.add("/items", Fault(status=429, retry_after=3600), times=1)
    client = rhub.runtime.client("test", sim.base_url)

    with pytest.raises(RateLimitedError) as info:
        client.request("GET", "/items", operation="items.list")
    assert info.value.retry_after == 3600
    assert len(sim.requests) == 1
    assert fake_clock.slept == []

    # While the server's window lasts, calls fail fast without reaching the server.
    with pytest.raises(RateLimitedError) as again:
        client.request("GET", "/items", operation="items.list")
    assert again.value.retry_after == pytest.approx(3600)
    assert len(sim.requests) == 1
    fake_clock.advance(3600)
    assert client.json("GET", "/items", operation="items.list")["items"] == [1, 2, 3]


@pytest.mark.parametrize(
    ("fault", "error", "category"),
    [
        (Fault(status=400), ClientError, "client"),
        (Fault(status=404), ClientError, "client"),
        (Fault(status=422), ClientError, "client"),
        (Fault(auth=True), AuthError, "auth"),
        (Fault(status=403), AuthError, "auth"),
        (Fault(expired=True), AuthError, "auth"),
        (Fault(status=500), UpstreamUnavailable, "server"),
        (Fault(status=501), UpstreamUnavailable, "server"),
    ],
    ids=["400", "404", "422", "401", "403", "expired", "500", "501"],
)
def test_errors_that_retrying_cannot_fix_are_never_retried(
    rhub: Hub,
    sim: SimulatorServer,
    fake_clock: FakeClock,
    fault: Fault,
    error: type[Exception],
    category: str,
) -> None:
    sim.faults.add("/items", fault)
    client = rhub.runtime.client("test", sim.base_url)
    with pytest.raises(error):
        client.request("GET", "/items", operation="items.list")
    assert len(sim.requests) == 1
    assert fake_clock.slept == []
    assert _categories(rhub) == [category]


@pytest.mark.parametrize(
    ("raised", "expected", "category", "message"),
    [
        (httpx.ReadTimeout("slow"), TimeoutError_, "timeout", "timed out (ReadTimeout)"),
        (httpx.ConnectError("refused"), NetworkError, "network", "network error (ConnectError)"),
        (httpx.DecodingError("gzip"), BadResponse, "bad_response", "undecodable response"),
        (httpx.TooManyRedirects("loop"), ClientError, "client", "request failed"),
    ],
)
def test_a_request_without_an_answer_raises_the_typed_error_of_its_kind(
    rhub: Hub,
    sim: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    raised: httpx.RequestError,
    expected: type[Exception],
    category: str,
    message: str,
) -> None:
    client = rhub.runtime.client("test", sim.base_url)

    def fail(*args: object, **kwargs: object) -> httpx.Response:
        raise raised

    monkeypatch.setattr(client._http, "request", fail)
    with pytest.raises(expected) as info:
        client.request("POST", "/orders", operation="orders.create")

    assert type(info.value) is expected
    assert str(info.value).startswith(f"test.orders.create: {message}")
    assert _categories(rhub) == [category]
