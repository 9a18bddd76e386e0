"""Every response of the OpenAI simulator validates against OpenAI's official OpenAPI spec."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.ai_costs.sandbox import OPENAI_ADMIN_KEY, OpenAISimulator
from integrations.ai_costs.sync import sync
from integrations.ai_costs.validate import validate_keys
from integrations.runtime.harness import SimulatorServer
from tests.conftest import SHARED_DIR, make_settings

SPEC_REL = Path("specs") / "openai" / "admin-usage-costs.openapi.json"


def _spec_path() -> Path:
    path = SHARED_DIR / SPEC_REL
    if not path.exists():
        pytest.fail(f"OpenAI spec not found at {path}")
    return path


Scope = MutableMapping[str, Any]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(_spec_path().read_text())  # type: ignore[no-any-return]


def _validator(spec: dict[str, Any], name: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    )


def _schema_for(path: str, status: int) -> str:
    if status >= 400:
        return "ErrorResponse"
    if path.endswith("/api_keys"):
        return "ProjectApiKeyListResponse"
    if path.endswith("/projects"):
        return "ProjectListResponse"
    return "UsageResponse"


class Capture:
    """ASGI wrapper that keeps (path, status, JSON body) of every response."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app
        self.seen: list[tuple[str, int, Any]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        status = 0
        chunks: list[bytes] = []

        async def wrapped(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, wrapped)
        if scope["type"] == "http":
            self.seen.append((scope["path"], status, json.loads(b"".join(chunks))))


def _assert_valid(spec: dict[str, Any], seen: list[tuple[str, int, Any]]) -> None:
    assert seen
    for path, status, body in seen:
        errors = list(_validator(spec, _schema_for(path, status)).iter_errors(body))
        assert not errors, f"{path} {status}: {errors[0].message} at {list(errors[0].path)}"


def test_sync_and_validation_traffic_matches_the_spec(
    spec: dict[str, Any], tmp_path: Path, sqlite_engine: Any, fake_clock: FakeClock
) -> None:
    sim = OpenAISimulator(clock=fake_clock, projects=3, line_items=9, history_days=60)
    capture = Capture(sim.app())
    with SimulatorServer(capture, name="openai") as server:
        settings = make_settings(
            tmp_path,
            openai_admin_api_key=OPENAI_ADMIN_KEY,
            openai_base_url=f"{server.base_url}/v1",
            ai_costs_backfill_days=45,
        )
        hub = Hub.create(settings, engine=sqlite_engine, clock=fake_clock)
        report = sync(hub, vendors=["openai"], page_limit=20)
        assert report.ok and report.requests > 5
        for bad in ("sk-admin-wrong", "sk-proj-abc"):
            hub.settings.openai_admin_api_key = type(settings.openai_admin_api_key)(bad)  # type: ignore[misc]
            assert validate_keys(hub)[0].status in ("invalid", "wrong_scope")
    statuses = {status for _, status, _ in capture.seen}
    assert statuses >= {200, 401, 403}
    _assert_valid(spec, capture.seen)


def test_every_parameter_combination_and_error_matches_the_spec(
    spec: dict[str, Any], fake_clock: FakeClock
) -> None:
    sim = OpenAISimulator(clock=fake_clock, projects=3, line_items=6, history_days=30)
    capture = Capture(sim.app())
    client = TestClient(capture, headers={"Authorization": f"Bearer {OPENAI_ADMIN_KEY}"})
    start = int(fake_clock.now().timestamp()) // 86400 * 86400 - 10 * 86400
    queries: list[str] = [
        f"start_time={start}",
        f"start_time={start}&limit=3",
        f"start_time={start}&group_by=project_id",
        f"start_time={start}&group_by[]=line_item&group_by[]=api_key_id",
        f"start_time={start}&group_by=project_id,line_item,api_key_id&limit=180",
        f"start_time={start - 400 * 86400}&limit=2",  # before the history: empty results
        "limit=2",  # missing start_time
        f"start_time={start}&limit=0",
        f"start_time={start}&bucket_width=1h",
        f"start_time={start}&group_by=model",
        f"start_time={start}&page=garbage",
    ]
    for q in queries:
        client.get(f"/v1/organization/costs?{q}")
    first = client.get(f"/v1/organization/costs?start_time={start}&limit=2").json()
    client.get(f"/v1/organization/costs?start_time={start}&limit=2&page={first['next_page']}")
    for q in [
        f"start_time={start}",
        f"start_time={start}&group_by=model&group_by=project_id&group_by=api_key_id",
        f"start_time={start}&group_by=batch&group_by=service_tier&group_by=user_id",
        f"start_time={start + 3 * 86400}&bucket_width=1h&limit=30",
        f"start_time={start}&bucket_width=1m&limit=5",
        f"start_time={start}&limit=32",
        f"start_time={start}&bucket_width=1h&limit=169",
        f"start_time={start}&group_by=line_item",
    ]:
        client.get(f"/v1/organization/usage/completions?{q}")
    client.get("/v1/organization/projects?limit=2")
    client.get("/v1/organization/projects?limit=101")
    client.get(f"/v1/organization/projects/{sim.data.projects[0][0]}/api_keys?limit=1")
    client.get("/v1/organization/projects/proj_missing/api_keys")
    TestClient(capture).get(f"/v1/organization/costs?start_time={start}")  # no key
    bad = TestClient(capture, headers={"Authorization": "Bearer sk-admin-nope"})
    bad.get(f"/v1/organization/costs?start_time={start}")
    statuses = {status for _, status, _ in capture.seen}
    assert statuses == {200, 400, 401, 404}
    _assert_valid(spec, capture.seen)
    # and the 1h usage buckets really are hourly
    hourly = [b for p, s, b in capture.seen if "usage" in p and s == 200 and b["data"]]
    assert any(b["data"][0]["end_time"] - b["data"][0]["start_time"] == 3600 for b in hourly)


def test_the_validator_catches_a_wrong_shape(spec: dict[str, Any]) -> None:
    bad = {"object": "page", "data": [{"object": "bucket", "start_time": "x", "results": []}]}
    assert list(_validator(spec, "UsageResponse").iter_errors(bad))
