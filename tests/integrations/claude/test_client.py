"""The SDK wrapper: typed errors, deliberate retries on the hub's clock, timing, health check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.db import make_engine, upgrade
from bot.hub import Hub
from integrations.claude.client import ClaudeClient
from integrations.claude.integration import CLAUDE
from integrations.claude.sandbox import API_KEY, ClaudeSimulator, Reply
from integrations.runtime.errors import AuthError, NetworkError, RateLimitedError
from integrations.runtime.harness import Fault, SimulatorServer, free_port
from tests.conftest import make_settings

PARAMS: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "oi"}],
}


@pytest.fixture
def served() -> Iterator[tuple[ClaudeSimulator, SimulatorServer]]:
    sim = ClaudeSimulator()
    with SimulatorServer(sim.app(), name="claude") as server:
        yield sim, server


def _hub(tmp_path: Path, base_url: str, **overrides: Any) -> Hub:
    tmp_path.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {"anthropic_api_key": API_KEY, "anthropic_base_url": base_url}
    values.update(overrides)
    settings = make_settings(tmp_path, **values)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return Hub.create(settings, engine=engine, clock=FakeClock())


def test_wrong_key_is_an_auth_error_without_the_key_in_it(
    tmp_path: Path, served: tuple[ClaudeSimulator, SimulatorServer]
) -> None:
    hub = _hub(tmp_path, served[1].base_url, anthropic_api_key="sk-ant-wrong-key-123456")
    with pytest.raises(AuthError) as info:
        ClaudeClient.from_hub(hub).stream_message(PARAMS)
    assert "sk-ant-wrong" not in str(info.value)
    assert hub.runtime.records[-1].category == "auth"
    hub.close()


def test_retries_respect_the_attempt_budget(
    tmp_path: Path, served: tuple[ClaudeSimulator, SimulatorServer]
) -> None:
    sim, server = served
    hub = _hub(tmp_path, server.base_url, retry_attempts=2, retry_after_cap_seconds=5)
    sim.script(Reply.rate_limited(retry_after=30), Reply.rate_limited(retry_after=30))
    with pytest.raises(RateLimitedError):
        ClaudeClient.from_hub(hub).stream_message(PARAMS)
    assert hub.clock.slept == [5.0]  # type: ignore[attr-defined]  # capped Retry-After
    hub.close()


def test_unreachable_api_is_a_network_error(tmp_path: Path) -> None:
    hub = _hub(tmp_path, f"http://127.0.0.1:{free_port()}", retry_attempts=1)
    with pytest.raises(NetworkError):
        ClaudeClient.from_hub(hub).stream_message(PARAMS)
    hub.close()


def test_dropped_connection_is_retried(
    tmp_path: Path, served: tuple[ClaudeSimulator, SimulatorServer]
) -> None:
    sim, server = served
    hub = _hub(tmp_path, server.base_url)
    server.faults.add("/v1/messages", Fault(reset=True), times=1)
    sim.script(Reply.text("ok"))
    message = ClaudeClient.from_hub(hub).stream_message(PARAMS)
    assert message.content[0].text == "ok"  # type: ignore[union-attr]
    # (The harness at this revision answers a reset with uvicorn's 500: "server" or "network".)
    categories = [r.category for r in hub.runtime.records]
    assert len(categories) == 2 and categories[0] in ("network", "server") and not categories[1]
    hub.close()


def test_health_check_lists_models(
    tmp_path: Path, served: tuple[ClaudeSimulator, SimulatorServer]
) -> None:
    hub = _hub(tmp_path, served[1].base_url)
    assert CLAUDE.is_configured(hub.settings)
    assert CLAUDE.health_check is not None
    assert CLAUDE.health_check(hub).status == "pass"
    unknown = _hub(tmp_path / "b", served[1].base_url, assistant_model="claude-unknown-1")
    assert CLAUDE.health_check(unknown).status == "warn"
    wrong = _hub(tmp_path / "c", served[1].base_url, anthropic_api_key="sk-ant-nope-000000")
    assert CLAUDE.health_check(wrong).status == "fail"
    for h in (hub, unknown, wrong):
        h.close()
