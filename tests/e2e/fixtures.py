"""Slack end-to-end fixtures: the Slack simulator and a driver for the real Bolt app.

Loaded for every test through `pytest_plugins` in tests/conftest.py.

    def test_costs_command(slack, hub):
        driver = slack(hub)                       # real app, HTTP mode, against the simulator
        driver.command("custos 7d", user="U0ADMIN001")   # signed slash command; waits for work
        assert "OpenAI" in driver.last_text()
        assert driver.ephemerals("U0ADMIN001")[-1].blocks
        driver.click("Confirmar", user="U0ADMIN001")     # finds the button in what was posted
        assert driver.calls("chat.update")

Fixtures
- `slack_sim` — a running `bot.sandbox.slack_sim.SlackSimulator` seeded with the default
  workspace (`seed_default_workspace`): channels C0GENERAL1 (#geral), C0ALERTS01, C0COSTS001,
  C0SHOPIFY1, C0NOVELTY1, C0OUTSIDE1 (bot not a member → `not_in_channel`); users U0ADMIN001,
  U0OPER0001, U0VIEW0001 (roles come from the hub's settings, see `hub_with_roles`); unknown
  users are created on first use. `slack_sim.http.faults.add("/api/chat.postMessage",
  Fault(status=429, retry_after=1, body={"ok": False, "error": "ratelimited"}))` injects HTTP
  faults; `slack_sim.rate_limit("chat.postMessage")` a Slack-shaped 429.
- `slack` — factory `slack(hub, *, inline=False, wait=True) -> SlackDriver`. Each call builds a
  new app instance (two calls with hubs on the same engine = two instances sharing the DB).
  Apps are closed at teardown.
- `hub_with_roles` — a Hub (fake clock, migrated SQLite) where U0ADMIN001 is admin, U0OPER0001
  operator and everyone else (U0VIEW0001) viewer.

SlackDriver (bot/sandbox/driver.py)
- `command(text, user=, channel=)`, `mention(text, user=, channel=, thread_ts=)`,
  `dm(text, user=)`, `open_home(user=, tab="home"|"messages")`, `click(button_text or
  action_id, user=, message=None)`, `event(payload, retry_num=)` (inner event or a full
  envelope; resend `sent.payload` with `retry_num=1` to simulate Slack's retry),
  `send(raw_body, content_type, signing_secret=...)` for hand-made requests.
  Each returns `Sent(status, body, event_id, payload)` (the ack) and, unless `wait=False`, first
  waits until all background work is done (`wait_idle()`), so assertions are deterministic.
- Reading back: `messages(channel=None)`, `ephemerals(user=None)` (includes ack texts and
  response_url replies), `last_text()`, `calls(method)` (every Web API call with its args),
  `uploads()` (shared files with their bytes), `sim.views[user]` (published Home views).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.sandbox.driver import SlackDriver
from bot.sandbox.slack_sim import SlackSimulator, seed_default_workspace

ADMIN = "U0ADMIN001"
OPERATOR = "U0OPER0001"
VIEWER = "U0VIEW0001"
E2E_BOT_TOKEN = "xoxb-e2e-0000000000-simulated"

SlackFactory = Callable[..., SlackDriver]


@pytest.fixture
def slack_sim() -> Iterator[SlackSimulator]:
    sim = SlackSimulator(bot_token=E2E_BOT_TOKEN)
    seed_default_workspace(sim)
    with sim.server():
        yield sim


@pytest.fixture
def slack(slack_sim: SlackSimulator) -> Iterator[SlackFactory]:
    drivers: list[SlackDriver] = []

    def factory(hub: Hub, *, inline: bool = False, wait: bool = True) -> SlackDriver:
        driver = SlackDriver.build(hub, slack_sim, inline=inline, wait=wait)
        drivers.append(driver)
        return driver

    yield factory
    for driver in drivers:
        driver.close()


@pytest.fixture
def hub_with_roles(tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock) -> Iterator[Hub]:
    from bot.notify import RecordingNotifier
    from tests.conftest import make_settings

    # HUB_VIEWERS stays empty: everyone else (VIEWER included) is a viewer.
    settings = make_settings(tmp_path, hub_admins=[ADMIN], hub_operators=[OPERATOR])
    hub = Hub.create(settings, engine=sqlite_engine, clock=fake_clock, notifier=RecordingNotifier())
    yield hub
    hub.close()
