"""`chegou-hub run`: start-up wiring and graceful shutdown."""

from __future__ import annotations

import importlib.machinery
import os
import signal
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect

from bot.db import current_revisions, head_revisions, make_engine
from bot.hub import Hub
from bot.process import HubProcess, StartupError
from integrations.runtime.client import Runtime
from integrations.runtime.harness import free_port
from tests.bot.test_web import COMMAND_BODY, _bolt_app, _signed
from tests.conftest import make_settings


def _wait_until_live(base_url: str, proc: subprocess.Popen[str] | None = None) -> None:
    """Poll /livez until the process answers (start-up includes migrations and imports)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited early: {proc.communicate()}")
        try:
            if httpx.get(f"{base_url}/livez", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("the process never answered /livez")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_serves_then_shuts_down_cleanly_on_signal(tmp_path: Path, sig: int) -> None:
    port = free_port()
    db = tmp_path / "hub.db"
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "PYTHONPATH") if k in os.environ}
    env |= {"DATABASE_URL": f"sqlite:///{db}", "WEB_PORT": str(port), "LOG_LEVEL": "INFO"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_live(base, proc)
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "shutdown complete" in err
    # `run` migrated the database on start.
    engine = make_engine(f"sqlite:///{db}")
    try:
        assert current_revisions(engine) == head_revisions()
    finally:
        engine.dispose()


def test_run_fails_cleanly_when_the_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "PYTHONPATH") if k in os.environ}
        env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "WEB_PORT": str(port)}
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "did not start" in result.stderr


# --- in-process wiring, with stand-ins for the Slack and jobs areas ---------------------------


Calls = list[str]


def _fake_module(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    record: Calls = []

    class FakeScheduler:
        def __init__(self, hub: Hub) -> None:
            record.append("scheduler.init")

        def start(self) -> None:
            record.append("scheduler.start")

        def shutdown(self) -> None:
            record.append("scheduler.shutdown")

    class FakeSocketHandler:
        def close(self) -> None:
            record.append("socket.close")

    def create_app(settings: Any, client: Any = None, *, hub: Hub | None = None) -> Any:
        record.append(f"create_app hub={hub is not None}")
        return _bolt_app(lambda ack: ack("oi"))

    def start_socket_mode(app: Any, settings: Any) -> FakeSocketHandler:
        record.append("socket.start")
        return FakeSocketHandler()

    from bot.app import starlette_endpoint  # the real mount; only app creation is faked

    monkeypatch.setitem(
        sys.modules,
        "bot.app",
        _fake_module(
            "bot.app",
            create_app=create_app,
            start_socket_mode=start_socket_mode,
            starlette_endpoint=starlette_endpoint,
        ),
    )
    monkeypatch.setitem(
        sys.modules, "jobs.scheduler", _fake_module("jobs.scheduler", HubScheduler=FakeScheduler)
    )
    original_flush, original_close = Runtime.flush, Hub.close

    def flush(self: Runtime) -> None:
        record.append("runtime.flush")
        original_flush(self)

    def close(self: Hub) -> None:
        record.append("hub.close")
        original_close(self)

    monkeypatch.setattr(Runtime, "flush", flush)
    monkeypatch.setattr(Hub, "close", close)
    return record


@pytest.fixture
def started() -> Iterator[list[HubProcess]]:
    processes: list[HubProcess] = []
    yield processes
    for process in processes:
        if not process._stop_requested:
            process.stop()


def _start(tmp_path: Path, started: list[HubProcess], **overrides: Any) -> HubProcess:
    process = HubProcess(make_settings(tmp_path, **overrides), port=free_port())
    started.append(process)
    process.start()
    return process


def test_socket_mode_and_scheduler_start_and_stop_in_order(
    tmp_path: Path, calls: Calls, started: list[HubProcess]
) -> None:
    process = _start(
        tmp_path,
        started,
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-test",
    )
    base = f"http://127.0.0.1:{process.port}"
    assert process.slack_mode == "socket"
    assert httpx.get(f"{base}/livez").status_code == 200
    assert httpx.post(f"{base}/slack/events").status_code == 404  # events come by socket
    assert calls == ["create_app hub=True", "socket.start", "scheduler.init", "scheduler.start"]
    calls.clear()
    process.stop()
    assert calls[:4] == ["socket.close", "scheduler.shutdown", "runtime.flush", "hub.close"]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/livez", timeout=2)


def test_http_mode_mounts_slack_events(
    tmp_path: Path, calls: Calls, started: list[HubProcess]
) -> None:
    process = _start(
        tmp_path,
        started,
        slack_bot_token="xoxb-test",
        slack_signing_secret="test-signing-secret-0123456789",
        jobs_enabled=False,
    )
    base = f"http://127.0.0.1:{process.port}"
    assert process.slack_mode == "http"
    signed = httpx.post(f"{base}/slack/events", content=COMMAND_BODY, headers=_signed(COMMAND_BODY))
    assert signed.status_code == 200
    assert signed.text == "oi"
    assert httpx.post(f"{base}/slack/events", content=COMMAND_BODY).status_code == 401
    assert "scheduler.start" not in calls  # JOBS_ENABLED=false


def test_without_slack_tokens_slack_stays_off(
    tmp_path: Path, calls: Calls, started: list[HubProcess]
) -> None:
    process = _start(tmp_path, started)
    assert process.slack_mode == "off"
    assert not any(c.startswith("create_app") for c in calls)
    assert "scheduler.start" in calls
    engine = process.engine
    assert engine is not None
    assert "api_calls" in inspect(engine).get_table_names()  # migrated on start


def test_socket_mode_failure_is_a_clean_start_up_error(
    tmp_path: Path, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(app: Any, settings: Any) -> None:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(sys.modules["bot.app"], "start_socket_mode", refuse)
    settings = make_settings(tmp_path, slack_bot_token="xoxb-test", slack_app_token="xapp-test")
    process = HubProcess(settings, port=free_port())
    with pytest.raises(StartupError, match="Socket Mode"):
        process.start()
    process.stop()
    assert "hub.close" in calls


def test_invalid_integrations_are_logged_and_left_off(
    tmp_path: Path,
    calls: Calls,
    started: list[HubProcess],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="bot.process")
    process = _start(tmp_path, started, slack_bot_token="xoxb-test", jobs_enabled=False)
    assert process.slack_mode == "off"  # a bot token without a mode
    assert not any(c.startswith("create_app") for c in calls)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("integration invalid name=slack" in w and "SLACK_APP_TOKEN" in w for w in warnings)
    assert any(
        "integration name=dropi status=not_configured" in r.getMessage() for r in caplog.records
    )
