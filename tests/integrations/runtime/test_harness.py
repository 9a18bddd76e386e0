"""The simulator harness itself, checked with a bare httpx client (no runtime in between)."""

from __future__ import annotations

import time

import httpx
import pytest

from integrations.runtime.harness import EXPIRED_BODY, Fault, SimulatorServer
from tests.integrations.runtime.conftest import Upstream


def test_dropped_connection_is_a_network_error_not_a_500(sim: SimulatorServer) -> None:
    sim.faults.add("/items", Fault(reset=True), times=1)
    with httpx.Client(base_url=sim.base_url) as client:
        with pytest.raises(httpx.TransportError) as info:
            client.get("/items")
        assert not isinstance(info.value, httpx.TimeoutException)
        # The server survives and answers the next request normally.
        assert client.get("/items").status_code == 200
    assert sim.faults.applied == [("GET", "/items", "reset")]


def test_malformed_body(sim: SimulatorServer) -> None:
    sim.faults.add("/items", Fault(malformed=True), times=1)
    response = httpx.get(f"{sim.base_url}/items")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


def test_429_with_retry_after(sim: SimulatorServer) -> None:
    sim.faults.add("/items", Fault(status=429, retry_after=2), times=1)
    response = httpx.get(f"{sim.base_url}/items")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"error": "simulated 429"}


def test_status_with_a_vendor_shaped_body_and_headers(sim: SimulatorServer) -> None:
    body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    sim.faults.add("/graphql", Fault(status=200, body=body, headers={"X-Cost": "5"}), times=1)
    response = httpx.post(f"{sim.base_url}/graphql", json={})
    assert response.json() == body
    assert response.headers["x-cost"] == "5"


def test_latency_delays_the_answer(sim: SimulatorServer) -> None:
    sim.faults.add("/items", Fault(latency=0.5), times=2)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{sim.base_url}/items", timeout=0.1)
    t0 = time.monotonic()
    assert httpx.get(f"{sim.base_url}/items", timeout=5).status_code == 200
    assert time.monotonic() - t0 >= 0.45


def test_invalid_and_expired_credentials(sim: SimulatorServer) -> None:
    sim.faults.add("/items", Fault(auth=True), times=1)
    sim.faults.add("/echo", Fault(expired=True), times=1)
    invalid = httpx.get(f"{sim.base_url}/items")
    expired = httpx.get(f"{sim.base_url}/echo")
    assert (invalid.status_code, invalid.json()) == (401, {"error": "invalid_auth"})
    assert expired.status_code == 401
    assert expired.json() == EXPIRED_BODY
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]


def test_faults_per_route_and_method_with_counts(sim: SimulatorServer) -> None:
    sim.faults.add("/echo", Fault(status=503), times=2, method="POST")
    with httpx.Client(base_url=sim.base_url) as client:
        assert client.get("/echo").status_code == 200  # other method: untouched
        assert client.get("/items").status_code == 200  # other route: untouched
        assert client.post("/echo", json={}).status_code == 503
        assert client.post("/echo", json={}).status_code == 503
        assert sim.faults.pending() == 0  # used up
        assert client.post("/echo", json={}).status_code == 200
    assert sim.faults.hits == {"/echo": 4, "/items": 1}
    assert [r.fault for r in sim.requests] == [None, None, "503", "503", None]


def test_fault_until_cleared_and_first_rule_wins(sim: SimulatorServer) -> None:
    sim.faults.add("/it", Fault(status=502))
    sim.faults.add("/items", Fault(status=504))
    assert [httpx.get(f"{sim.base_url}/items").status_code for _ in range(3)] == [502] * 3
    sim.faults.clear()
    assert httpx.get(f"{sim.base_url}/items").status_code == 200
    with pytest.raises(ValueError):
        sim.faults.add("/x", Fault(status=500), times=0)


def test_request_log_records_method_path_query_headers_and_body(
    sim: SimulatorServer, upstream: Upstream
) -> None:
    response = httpx.post(
        f"{sim.base_url}/echo",
        params={"page": "2", "tag": ["a", "b"]},
        headers={"X-Shopify-Access-Token": "tok"},
        json={"quantity": 3},
    )
    # The body was read for the log and still reached the app intact.
    assert response.json()["body"] == '{"quantity":3}'
    (req,) = sim.requests
    assert (req.method, req.path) == ("POST", "/echo")
    assert req.query == {"page": ["2"], "tag": ["a", "b"]}
    assert req.headers["x-shopify-access-token"] == "tok"
    assert req.json() == {"quantity": 3}
    assert req.fault is None
