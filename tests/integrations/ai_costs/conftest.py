"""Simulators of both admin APIs on a fake clock, and a Hub pointed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.notify import RecordingNotifier
from integrations.ai_costs.sandbox import (
    ANTHROPIC_ADMIN_KEY,
    OPENAI_ADMIN_KEY,
    AnthropicSimulator,
    OpenAISimulator,
)
from integrations.runtime.harness import SimulatorServer
from tests.conftest import make_settings


@dataclass
class Sims:
    openai: OpenAISimulator
    anthropic: AnthropicSimulator
    openai_server: SimulatorServer
    anthropic_server: SimulatorServer

    def overrides(self) -> dict[str, Any]:
        return {
            "openai_admin_api_key": OPENAI_ADMIN_KEY,
            "openai_base_url": f"{self.openai_server.base_url}/v1",
            "anthropic_admin_api_key": ANTHROPIC_ADMIN_KEY,
            "anthropic_admin_base_url": self.anthropic_server.base_url,
        }


@pytest.fixture
def sims(fake_clock: FakeClock) -> Iterator[Sims]:
    oa = OpenAISimulator(clock=fake_clock, projects=4, line_items=6, history_days=120)
    an = AnthropicSimulator(clock=fake_clock, workspaces=2, history_days=120)
    with (
        SimulatorServer(oa.app(), name="openai") as oa_server,
        SimulatorServer(an.app(), name="anthropic_admin") as an_server,
    ):
        yield Sims(oa, an, oa_server, an_server)


def make_hub(tmp_path: Path, engine: Engine, clock: FakeClock, sims: Sims, **overrides: Any) -> Hub:
    values = {**sims.overrides(), "ai_costs_backfill_days": 60, **overrides}
    return Hub.create(
        make_settings(tmp_path, **values), engine=engine, clock=clock, notifier=RecordingNotifier()
    )


CostsHubFactory = Callable[..., Hub]


@pytest.fixture
def make_costs_hub(
    tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock, sims: Sims
) -> Iterator[CostsHubFactory]:
    """`make_costs_hub(**settings_overrides)`: a hub on the simulators (SQLite, fake clock);
    every hub made is closed at teardown."""
    hubs: list[Hub] = []

    def factory(**overrides: Any) -> Hub:
        hubs.append(make_hub(tmp_path, sqlite_engine, fake_clock, sims, **overrides))
        return hubs[-1]

    yield factory
    for hub in hubs:
        hub.close()


@pytest.fixture
def costs_hub(make_costs_hub: CostsHubFactory) -> Hub:
    return make_costs_hub()
