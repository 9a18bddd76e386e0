"""The web app: /livez, /readyz, /health, /metrics and Slack HTTP mode at /slack/events."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.testclient import TestClient

from bot.clock import FakeClock
from bot.db import make_engine
from bot.hub import Hub
from bot.settings import Settings
from bot.web import create_web_app, metrics_registry
from integrations.runtime import registry
from integrations.runtime.harness import SimulatorServer
from integrations.runtime.recorder import CallRecord
from integrations.runtime.registry import Integration

SIGNING_SECRET = "test-signing-secret-0123456789"


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Integration]:
    fake: dict[str, Integration] = {}
    monkeypatch.setattr(registry, "_REGISTRY", fake)
    monkeypatch.setattr(registry, "_loaded", True)
    registry.register(Integration(name="loja", display_name="Loja", is_configured=lambda _s: True))
    return fake


def _fail(hub: Hub, name: str) -> None:
    hub.runtime.record(
        CallRecord(name, "orders", hub.clock.now(), 50.0, False, 503, "server", "unavailable")
    )
    assert isinstance(hub.clock, FakeClock)
    hub.clock.advance(1)


def test_livez_answers_without_touching_the_database(settings: Settings, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    hub = Hub.create(settings, engine=engine)
    try:
        response = TestClient(create_web_app(hub)).get("/livez")
    finally:
        hub.close()
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_follows_the_database(hub: Hub, settings: Settings, tmp_path: Path) -> None:
    assert TestClient(create_web_app(hub)).get("/readyz").status_code == 200

    broken = Hub.create(settings, engine=make_engine(f"sqlite:///{tmp_path / 'no' / 'x.db'}"))
    try:
        response = TestClient(create_web_app(broken)).get("/readyz")
    finally:
        broken.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "OperationalError"}


def test_health_is_200_until_an_integration_fails_then_503(
    hub: Hub, fake_registry: dict[str, Integration]
) -> None:
    client = TestClient(create_web_app(hub))
    ok = client.get("/health")
    assert ok.status_code == 200
    assert ok.json()["integrations"]["loja"]["status"] == "pass"

    for _ in range(hub.settings.alert_consecutive_failures):
        _fail(hub, "loja")
    failing = client.get("/health")
    assert failing.status_code == 503
    body = failing.json()
    assert body["status"] == "fail"
    assert body["integrations"]["loja"]["stats"]["consecutive_failures"] == 5
    assert body["integrations"]["loja"]["stats"]["last_error_category"] == "server"


def test_health_failure_is_a_json_500_not_a_traceback(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("db exploded")

    monkeypatch.setattr("integrations.runtime.health.health_report", broken)
    response = TestClient(create_web_app(hub)).get("/health")
    assert response.status_code == 500
    assert "db exploded" not in response.text
    assert response.json()["status"] == "error"


def test_metrics_exposes_the_runtime_registry(hub: Hub) -> None:
    from prometheus_client import Counter

    name = f"chegou_hub_test_{uuid.uuid4().hex[:8]}"
    counter = Counter(name, "test counter", registry=metrics_registry())
    counter.inc(3)
    try:
        response = TestClient(create_web_app(hub)).get("/metrics")
    finally:
        metrics_registry().unregister(counter)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert f"{name}_total 3.0" in response.text


def test_extra_routes_are_mounted(hub: Hub) -> None:
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    route = Route("/webhooks/x", lambda _r: PlainTextResponse("got it"), methods=["POST"])
    client = TestClient(create_web_app(hub, extra_routes=[route]))
    assert client.post("/webhooks/x").text == "got it"
    assert client.post("/slack/events").status_code == 404  # no Bolt app, no Slack route


# --- Slack HTTP mode --------------------------------------------------------------------------


def _bolt_app(handler: Any) -> Any:
    from slack_bolt import App
    from slack_bolt.authorization import AuthorizeResult

    def authorize(**_kwargs: Any) -> AuthorizeResult:
        # No auth.test call (there is no network in tests).
        return AuthorizeResult(
            enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_user_id="UB", bot_id="B1"
        )

    app = App(signing_secret=SIGNING_SECRET, authorize=authorize)
    app.command("/hub")(handler)
    return app


def _signed(body: str, secret: str = SIGNING_SECRET) -> dict[str, str]:
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()))
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


COMMAND_BODY = urlencode(
    {
        "command": "/hub",
        "text": "status",
        "user_id": "U1",
        "channel_id": "C1",
        "team_id": "T1",
        "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": "1.2.3",
    }
)


def test_slack_events_are_dispatched_to_bolt_with_signature_check(hub: Hub) -> None:
    def on_hub(ack: Any, command: dict[str, Any]) -> None:
        ack(f"recebido: {command['text']}")

    client = TestClient(create_web_app(hub, bolt_app=_bolt_app(on_hub)))
    ok = client.post("/slack/events", content=COMMAND_BODY, headers=_signed(COMMAND_BODY))
    assert ok.status_code == 200
    assert ok.text == "recebido: status"

    forged = client.post(
        "/slack/events", content=COMMAND_BODY, headers=_signed(COMMAND_BODY, "wrong-secret")
    )
    assert forged.status_code == 401


@pytest.fixture
def served(hub: Hub) -> Iterator[tuple[str, threading.Event, threading.Event]]:
    entered, release = threading.Event(), threading.Event()

    def slow(ack: Any) -> None:
        entered.set()
        release.wait(10)
        ack("feito")

    with SimulatorServer(create_web_app(hub, bolt_app=_bolt_app(slow)), name="web") as server:
        yield server.base_url, entered, release
        release.set()


def test_a_slow_slack_listener_does_not_block_other_requests(
    served: tuple[str, threading.Event, threading.Event],
) -> None:
    """Bolt's stock Starlette handler runs dispatch on the event loop; ours uses a thread."""
    base_url, entered, release = served
    result: dict[str, httpx.Response] = {}

    def send_command() -> None:
        result["slack"] = httpx.post(
            f"{base_url}/slack/events",
            content=COMMAND_BODY,
            headers=_signed(COMMAND_BODY),
            timeout=20,
        )

    sender = threading.Thread(target=send_command)
    sender.start()
    assert entered.wait(10), "the Slack listener never started"
    # The listener is still blocked: /livez must answer anyway.
    livez = httpx.get(f"{base_url}/livez", timeout=5)
    assert livez.status_code == 200
    assert "slack" not in result
    release.set()
    sender.join(20)
    assert result["slack"].status_code == 200
    assert result["slack"].text == "feito"
