"""Every call recorded: categories, batched writes to api_calls, Prometheus."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.db import make_engine, session_scope
from bot.hub import Hub
from integrations.runtime import metrics
from integrations.runtime.errors import (
    CATEGORIES,
    BadResponse,
    IntegrationError,
    RateLimitedError,
)
from integrations.runtime.harness import Fault, SimulatorServer
from integrations.runtime.models import ApiCall
from integrations.runtime.recorder import CallRecord, CallRecorder
from tests.conftest import make_settings


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.inserts = 0
        self.statements = 0
        event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements += 1
        if statement.lstrip().upper().startswith("INSERT"):
            self.inserts += 1


def _rows(engine: Engine) -> list[ApiCall]:
    with session_scope(engine) as session:
        return list(session.exec(select(ApiCall).order_by(ApiCall.id)).scalars())  # type: ignore[call-overload]


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def _record(n: int = 0, ok: bool = True, category: str | None = None) -> CallRecord:
    from datetime import UTC, datetime

    return CallRecord(
        integration="rec",
        operation=f"op{n}",
        started_at=datetime(2026, 11, 2, 12, 0, n % 60, tzinfo=UTC),
        latency_ms=float(n),
        ok=ok,
        status_code=200 if ok else 503,
        category=category,
        error=None if ok else "upstream unavailable",
    )


def test_each_error_category_is_recorded_in_memory_db_and_metrics(
    rhub: Hub, sim: SimulatorServer
) -> None:
    client = rhub.runtime.client("cats", sim.base_url)
    slow = rhub.runtime.client("cats", sim.base_url, timeout=httpx.Timeout(0.15))
    sim.faults.add("/items", Fault(latency=0.6), times=1)
    sim.faults.add("/orders", Fault(reset=True), times=1)
    sim.faults.add("/echo", Fault(auth=True), times=1)
    sim.faults.add("/graphql", Fault(status=429), times=1)
    sim.faults.add("/echo-error", Fault(status=503), times=1)
    calls = [
        (slow, "GET", "/items", "timeout"),
        (client, "POST", "/orders", "network"),
        (client, "GET", "/echo", "auth"),
        (client, "POST", "/graphql", "rate_limit"),
        (client, "POST", "/echo-error", "server"),
        (client, "GET", "/echo-error?status=422", "client"),
        (client, "GET", "/text", "bad_response"),
    ]
    seen = []
    for c, method, path, expected in calls:
        with pytest.raises(IntegrationError) as info:
            c.json(
                method,
                path,
                operation=f"op.{expected}",
                json={} if method == "POST" else None,
                retry=False,
            )
        assert info.value.category == expected
        seen.append(expected)
    assert set(seen) == set(CATEGORIES)

    rhub.runtime.flush()
    rows = _rows(rhub.engine)
    assert [(r.operation, r.category, r.ok) for r in rows] == [(f"op.{c}", c, False) for c in seen]
    by_op = {r.operation: r for r in rows}
    assert by_op["op.client"].status_code == 422
    assert by_op["op.bad_response"].status_code == 200
    assert "not valid JSON" in (by_op["op.bad_response"].error or "")
    assert by_op["op.timeout"].status_code is None
    for category in CATEGORIES:
        value = metrics.REGISTRY.get_sample_value(
            "chegou_hub_api_errors_total", {"integration": "cats", "category": category}
        )
        assert value == 1, category


def test_bad_json_is_one_bad_response_record_not_an_ok_one(rhub: Hub, sim: SimulatorServer) -> None:
    sim.faults.add("/items", Fault(malformed=True), times=1)
    client = rhub.runtime.client("test", sim.base_url)
    with pytest.raises(BadResponse):
        client.json("GET", "/items", operation="items.list")
    assert [(r.ok, r.category, r.status_code) for r in rhub.runtime.records] == [
        (False, "bad_response", 200)
    ]
    # The raw request() does not parse, so the same body is a successful call there.
    sim.faults.add("/items", Fault(malformed=True), times=1)
    assert client.request("GET", "/items", operation="items.raw").status_code == 200


def test_recording_does_not_touch_the_database_per_call(sqlite_engine: Engine) -> None:
    counter = StatementCounter(sqlite_engine)
    recorder = CallRecorder(sqlite_engine, flush_size=1000, flush_seconds=3600)
    try:
        for i in range(100):
            recorder.add(_record(i))
        assert counter.statements == 0
        assert len(recorder.snapshot()) == 100
        assert recorder.flush() == 100
        assert counter.inserts == 1  # one executemany for the whole batch
        assert len(_rows(sqlite_engine)) == 100
        assert recorder.snapshot() == []
    finally:
        recorder.close()


def test_buffer_is_flushed_in_background_when_full(sqlite_engine: Engine) -> None:
    recorder = CallRecorder(sqlite_engine, flush_size=10, flush_seconds=3600)
    try:
        for i in range(9):
            recorder.add(_record(i))
        time.sleep(0.05)
        assert recorder.flushes == 0
        recorder.add(_record(9))  # the 10th wakes the flusher
        _wait_for(lambda: recorder.rows_written == 10)
        assert recorder.flushes == 1
    finally:
        recorder.close()


def test_buffer_is_flushed_in_background_on_the_interval(sqlite_engine: Engine) -> None:
    recorder = CallRecorder(sqlite_engine, flush_size=1000, flush_seconds=0.05)
    try:
        recorder.add(_record(1))
        _wait_for(lambda: len(_rows(sqlite_engine)) == 1)
    finally:
        recorder.close()


def test_close_writes_what_is_left(
    runtime_settings: Any, sqlite_engine: Engine, fake_clock: FakeClock
) -> None:
    hub = Hub.create(runtime_settings, engine=sqlite_engine, clock=fake_clock)
    hub.runtime.record(_record(1))
    hub.runtime.record(_record(2))
    hub.close()
    assert [r.operation for r in _rows(sqlite_engine)] == ["op1", "op2"]


def test_a_failed_write_keeps_the_records(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")  # no api_calls table
    recorder = CallRecorder(engine, flush_size=1000, flush_seconds=3600)
    try:
        recorder.add(_record(1))
        with caplog.at_level(logging.ERROR):
            assert recorder.flush() == 0
        assert "api_calls flush failed" in caplog.text
        assert [r.operation for r in recorder.snapshot()] == ["op1"]
        from bot.db import upgrade

        upgrade(engine)
        assert recorder.flush() == 1
    finally:
        recorder.close()
        engine.dispose()


def test_unavailable_and_recovered_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = CallRecorder(None, unavailable_after=3)
    with caplog.at_level(logging.INFO, logger="integrations.runtime.recorder"):
        for i in range(6):
            recorder.add(_record(i, ok=False, category="server"))
        recorder.add(_record(7))
        recorder.add(_record(8))
    messages = [r.getMessage() for r in caplog.records]
    assert sum("integration unavailable" in m for m in messages) == 1
    assert sum("integration recovered" in m for m in messages) == 1
    assert recorder.live_state("rec").consecutive_failures == 0


def test_sdk_calls_are_tracked(rhub: Hub) -> None:
    class APIStatusError(Exception):
        status_code = 529

    class APITimeoutError(Exception):
        pass

    with rhub.runtime.track("anthropic", "messages.create"):
        pass
    with pytest.raises(APIStatusError), rhub.runtime.track("anthropic", "messages.create"):
        raise APIStatusError("overloaded")
    with pytest.raises(APITimeoutError), rhub.runtime.track("anthropic", "messages.create"):
        raise APITimeoutError("timed out")
    with pytest.raises(RateLimitedError), rhub.runtime.track("anthropic", "messages.create"):
        raise RateLimitedError("rate limited", retry_after=3)
    assert [(r.ok, r.category, r.status_code) for r in rhub.runtime.records] == [
        (True, None, None),
        (False, "server", 529),
        (False, "timeout", None),
        (False, "rate_limit", None),
    ]


def test_prometheus_exposition(rhub: Hub, sim: SimulatorServer) -> None:
    client = rhub.runtime.client("prom", sim.base_url)
    client.json("GET", "/items", operation="items.list")
    sim.faults.add("/items", Fault(status=503), times=1)
    client.json("GET", "/items", operation="items.list")
    text = metrics.render().decode()

    def calls(category: str) -> float | None:
        return metrics.REGISTRY.get_sample_value(
            "chegou_hub_api_calls_total",
            {"integration": "prom", "operation": "items.list", "category": category},
        )

    assert (calls("ok"), calls("server")) == (2, 1)
    assert 'chegou_hub_api_calls_total{category="ok",integration="prom"' in text
    assert 'chegou_hub_api_retries_total{category="server",integration="prom"} 1.0' in text
    count = metrics.REGISTRY.get_sample_value(
        "chegou_hub_api_call_duration_seconds_count",
        {"integration": "prom", "operation": "items.list"},
    )
    assert count == 3
    # Buckets reach well beyond 10 s.
    for le in ("30.0", "60.0", "120.0"):
        assert f'le="{le}"' in text
    assert metrics.CONTENT_TYPE.startswith("text/plain")


@pytest.fixture
def big_buffer_hub(tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock) -> Iterator[Hub]:
    settings = make_settings(tmp_path, call_record_flush_size=10_000)
    hub = Hub.create(settings, engine=sqlite_engine, clock=fake_clock)
    yield hub
    hub.close()


def test_http_calls_are_buffered_until_flush(
    big_buffer_hub: Hub, sim: SimulatorServer, sqlite_engine: Engine
) -> None:
    counter = StatementCounter(sqlite_engine)
    client = big_buffer_hub.runtime.client("test", sim.base_url)
    for _ in range(5):
        client.request("GET", "/items", operation="items.list")
    assert counter.statements == 0
    big_buffer_hub.runtime.flush()
    assert counter.inserts == 1
    assert len(_rows(sqlite_engine)) == 5


def test_prune_keeps_recent_rows(db_engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta

    from integrations.runtime.recorder import prune_api_calls

    recorder = CallRecorder(db_engine, flush_size=1000, flush_seconds=3600)
    try:
        for n in range(3):
            recorder.add(_record(n))
        recorder.flush()
    finally:
        recorder.close()
    cutoff = datetime(2026, 11, 2, 12, 0, 1, tzinfo=UTC) + timedelta(microseconds=1)
    assert prune_api_calls(db_engine, cutoff) == 2
    assert [r.operation for r in _rows(db_engine)] == ["op2"]


def test_runtime_does_not_keep_dropped_clients_alive(rhub: Hub, sim: SimulatorServer) -> None:
    import gc
    import weakref

    client = rhub.runtime.client("test", sim.base_url)
    client.request("GET", "/items", operation="items.list")
    ref = weakref.ref(client)
    del client
    gc.collect()
    assert ref() is None
    kept = rhub.runtime.client("test", sim.base_url)
    rhub.runtime.close()
    assert kept._http.is_closed
