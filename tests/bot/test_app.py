"""The app factory: modes, configuration errors, pools, roles by user group."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine

from bot.app import HubApp, SlackConfigError, create_app
from bot.clock import FakeClock
from bot.hub import Hub
from bot.sandbox.slack_sim import SlackSimulator
from bot.security.roles import Role
from bot.workers import PoolFull, WorkPool
from handlers import registry
from handlers.registry import CommandContext, Subcommand
from tests.conftest import make_settings
from tests.e2e.fixtures import SlackFactory


def test_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(SlackConfigError, match="SLACK_BOT_TOKEN"):
        create_app(make_settings(tmp_path))
    with pytest.raises(SlackConfigError, match="SLACK_SIGNING_SECRET"):
        create_app(make_settings(tmp_path, slack_bot_token="xoxb-1"))


def test_socket_mode_needs_no_signing_secret(tmp_path: Path, hub: Hub) -> None:
    settings = make_settings(tmp_path, slack_bot_token="xoxb-1", slack_app_token="xapp-1")
    app = create_app(settings, hub=hub)
    try:
        assert isinstance(app, HubApp)
        assert app.listener_pool.max_workers > 5  # larger than Bolt's default executor
        assert app.work_pool.max_workers == settings.hub_worker_threads
        assert app.oauth_flow is None
        # the client given to the app retries 429s (Bolt copies its handlers per request)
        handlers = [type(h).__name__ for h in app.api.retry_handlers]
        assert "RateLimitErrorRetryHandler" in handlers
    finally:
        app.close()


def test_work_pool_bounds_and_idleness() -> None:
    import threading

    gate = threading.Event()
    pool = WorkPool(1, name="t", max_pending=2)
    pool.submit(gate.wait)
    pool.submit(gate.wait)
    with pytest.raises(PoolFull):
        pool.submit(gate.wait)
    assert not pool.wait_idle(0.01)
    gate.set()
    assert pool.wait_idle(5)
    pool.shutdown()
    inline = WorkPool(1, name="i", inline=True)
    assert inline.submit(lambda: 41 + 1).result() == 42
    assert inline.pending == 0


def test_roles_granted_through_a_user_group(
    slack: SlackFactory,
    slack_sim: SlackSimulator,
    tmp_path: Path,
    sqlite_engine: Engine,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    def whoami(ctx: CommandContext) -> None:
        ctx.reply(f"papel: {ctx.role.label}")

    monkeypatch.setitem(
        registry.SUBCOMMANDS,
        "quem",
        Subcommand("quem", whoami, "/hub quem", "papel", min_role=Role.VIEWER),
    )
    slack_sim.add_usergroup("S0OPS00001", ["U0GROUPED1"])
    hub = Hub.create(
        make_settings(tmp_path, hub_operators=["S0OPS00001"]),
        engine=sqlite_engine,
        clock=fake_clock,
    )
    driver = slack(hub)
    driver.command("quem", user="U0GROUPED1")
    driver.command("quem", user="U0ALONE001")
    assert driver.ephemerals("U0GROUPED1")[-1].text == "papel: operador"
    assert driver.ephemerals("U0ALONE001")[-1].text == "papel: leitura"
    # The group's membership is cached (one usergroups.users.list for both commands).
    assert len(slack_sim.calls("usergroups.users.list")) == 1
    hub.close()


def test_inline_mode_finishes_work_before_dispatch_returns(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator
) -> None:
    driver = slack(hub, inline=True, wait=False)
    driver.command("help")
    assert driver.ephemerals()  # no wait_idle needed


def test_socket_mode_app_still_rejects_unsigned_http(tmp_path: Path, hub: Hub) -> None:
    from slack_bolt import BoltRequest

    settings = make_settings(tmp_path, slack_bot_token="xoxb-1", slack_app_token="xapp-1")
    app = create_app(settings, hub=hub, inline=True)
    try:
        body = "command=%2Fhub&text=help&user_id=U1&channel_id=C1"
        unsigned = app.dispatch(BoltRequest(body=body, headers={}))
        ts = str(int(time.time()))
        guessed = SignatureVerifier("guess").generate_signature(timestamp=ts, body=body)
        forged = app.dispatch(
            BoltRequest(
                body=body,
                headers={"x-slack-request-timestamp": ts, "x-slack-signature": guessed or ""},
            )
        )
        assert unsigned.status == forged.status == 401
    finally:
        app.close()


def test_socket_mode_requests_are_handled(
    tmp_path: Path, hub: Hub, slack_sim: SlackSimulator
) -> None:
    """What SocketModeHandler dispatches: a dict body in socket_mode, no signature."""
    from slack_bolt import BoltRequest

    from bot.sandbox.driver import slack_settings

    settings = slack_settings(hub.settings, slack_sim).model_copy(
        update={"slack_app_token": SecretStr("xapp-1"), "slack_signing_secret": None}
    )
    app = create_app(settings, hub=hub, inline=True)
    try:
        body = {
            "command": "/hub",
            "text": "help",
            "user_id": "U0ADMIN001",
            "channel_id": "C0GENERAL1",
            "team_id": "T0CHEGOU01",
            "response_url": slack_sim.response_url("C0GENERAL1", "U0ADMIN001"),
        }
        response = app.dispatch(BoltRequest(body=body, mode="socket_mode"))
        assert response.status == 200
        assert "Comandos do Chegou Hub" in slack_sim.ephemerals("U0ADMIN001")[-1].text
    finally:
        app.close()
