"""Assistant fixtures: the Claude simulator on a local port, a hub pointed at it, a fake Slack."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.assistant import IncomingMessage
from bot.clock import FakeClock
from bot.db import make_engine, upgrade
from bot.hub import Hub
from integrations.claude.sandbox import API_KEY, ClaudeSimulator
from integrations.runtime.harness import SimulatorServer
from tests.conftest import make_settings


class FakeSlack:
    """Records Web API calls the assistant makes; can expire streams like Slack does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.expire_after_appends: int | None = None
        self.streaming_supported = True
        self.stop_error: str | None = None  # a Slack error code chat.stopStream answers
        self._lock = threading.Lock()
        self._seq = 0
        self._appends: dict[str, int] = {}

    def _record(self, method: str, kwargs: dict[str, Any]) -> str:
        with self._lock:
            self.calls.append((method, kwargs))
            self._seq += 1
            return f"1800000000.{self._seq:06d}"

    @staticmethod
    def _error(method: str, code: str) -> SlackApiError:
        return SlackApiError(f"{method} failed: {code}", {"ok": False, "error": code})

    def assistant_threads_setStatus(self, **kwargs: Any) -> dict[str, Any]:
        self._record("assistant.threads.setStatus", kwargs)
        return {"ok": True}

    def chat_startStream(self, **kwargs: Any) -> dict[str, Any]:
        ts = self._record("chat.startStream", kwargs)
        if not self.streaming_supported:
            raise self._error("chat.startStream", "unknown_method")
        self._appends[ts] = 0
        return {"ok": True, "ts": ts, "channel": kwargs["channel"]}

    def chat_appendStream(self, **kwargs: Any) -> dict[str, Any]:
        self._record("chat.appendStream", kwargs)
        ts = kwargs["ts"]
        self._appends[ts] = self._appends.get(ts, 0) + 1
        if self.expire_after_appends is not None and self._appends[ts] > self.expire_after_appends:
            raise self._error("chat.appendStream", "message_not_in_streaming_state")
        return {"ok": True, "ts": ts}

    def chat_stopStream(self, **kwargs: Any) -> dict[str, Any]:
        self._record("chat.stopStream", kwargs)
        ts = kwargs["ts"]
        if self.stop_error:
            raise self._error("chat.stopStream", self.stop_error)
        if self.expire_after_appends is not None and self._appends[ts] >= self.expire_after_appends:
            raise self._error("chat.stopStream", "message_not_in_streaming_state")
        return {"ok": True, "ts": ts}

    def chat_update(self, **kwargs: Any) -> dict[str, Any]:
        self._record("chat.update", kwargs)
        return {"ok": True, "ts": kwargs["ts"]}

    def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        ts = self._record("chat.postMessage", kwargs)
        return {"ok": True, "ts": ts, "channel": kwargs["channel"]}

    def chat_postEphemeral(self, **kwargs: Any) -> dict[str, Any]:
        self._record("chat.postEphemeral", kwargs)
        return {"ok": True}

    # --- reading what happened ----------------------------------------------------------------
    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]

    def of(self, method: str) -> list[dict[str, Any]]:
        return [kw for m, kw in self.calls if m == method]

    def statuses(self) -> list[str]:
        return [kw["status"] for kw in self.of("assistant.threads.setStatus")]

    def reply_text(self) -> str:
        """The text the user ends up seeing in the latest reply."""
        last: tuple[str, dict[str, Any]] | None = None
        for method, kw in self.calls:
            starts = method in ("chat.startStream", "chat.postMessage")
            if starts or (method == "chat.update" and last is not None):
                last = (method, kw)
        if last is None:
            return ""
        method, kw = last
        if method != "chat.startStream":
            return str(kw["text"])
        index = self.calls.index(last)
        ts = f"1800000000.{index + 1:06d}"
        parts = [kw.get("markdown_text") or ""]
        for later, lkw in self.calls[index + 1 :]:
            if later in ("chat.appendStream", "chat.stopStream") and lkw["ts"] == ts:
                parts.append(lkw.get("markdown_text") or "")
        return "".join(parts)

    def reply_blocks(self) -> list[dict[str, Any]]:
        for method, kw in reversed(self.calls):
            if method in ("chat.stopStream", "chat.update", "chat.postMessage") and kw.get(
                "blocks"
            ):
                return list(kw["blocks"])
        return []


@pytest.fixture
def fake_slack() -> FakeSlack:
    return FakeSlack()


@pytest.fixture
def claude_sim(fake_clock: FakeClock) -> Iterator[tuple[ClaudeSimulator, SimulatorServer]]:
    sim = ClaudeSimulator(clock=fake_clock)
    with SimulatorServer(sim.app(), name="claude") as server:
        yield sim, server


@pytest.fixture
def sim(claude_sim: tuple[ClaudeSimulator, SimulatorServer]) -> ClaudeSimulator:
    return claude_sim[0]


def make_hub(tmp_path: Path, base_url: str, clock: FakeClock, **overrides: Any) -> Hub:
    values: dict[str, Any] = {
        "anthropic_api_key": API_KEY,
        "anthropic_base_url": base_url,
        "hub_operators": ["UOPER"],
    }
    values.update(overrides)
    settings = make_settings(tmp_path, **values)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return Hub.create(settings, engine=engine, clock=clock)


AssistantHubFactory = Callable[..., Hub]


@pytest.fixture
def make_ahub(
    tmp_path: Path, claude_sim: tuple[ClaudeSimulator, SimulatorServer], fake_clock: FakeClock
) -> Iterator[AssistantHubFactory]:
    """`make_ahub(**settings_overrides)`: a hub on the Claude simulator (its own migrated
    SQLite file, fake clock); every hub made is closed at teardown."""
    hubs: list[Hub] = []

    def factory(**overrides: Any) -> Hub:
        hubs.append(make_hub(tmp_path, claude_sim[1].base_url, fake_clock, **overrides))
        return hubs[-1]

    yield factory
    for hub in hubs:
        hub.close()
        hub.engine.dispose()


@pytest.fixture
def ahub(make_ahub: AssistantHubFactory) -> Hub:
    return make_ahub()


def mention(
    text: str,
    *,
    user: str = "UOPER",
    channel: str = "CGERAL",
    ts: str = "1700000000.000100",
    thread_ts: str | None = None,
) -> IncomingMessage:
    return IncomingMessage(
        channel_id=channel,
        user_id=user,
        text=text,
        ts=ts,
        thread_ts=thread_ts or ts,
        is_dm=channel.startswith("D"),
        team_id="T1",
    )


def request_text(body: dict[str, Any]) -> str:
    """Everything a request showed the model, as one string."""
    return json.dumps(body, ensure_ascii=False)


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    last = body["messages"][-1]
    return [b for b in last["content"] if b.get("type") == "tool_result"]
