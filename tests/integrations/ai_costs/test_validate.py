from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.ai_costs.validate import KeyCheck, validate_keys
from integrations.runtime.harness import Fault
from tests.integrations.ai_costs.conftest import Sims, make_hub


def _checks(
    tmp_path: Path, engine: Engine, clock: FakeClock, sims: Sims, **kw: object
) -> dict[str, KeyCheck]:
    hub = make_hub(tmp_path, engine, clock, sims, **kw)
    try:
        return {c.vendor: c for c in validate_keys(hub)}
    finally:
        hub.close()


def test_valid_admin_keys(
    tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock, sims: Sims
) -> None:
    checks = _checks(tmp_path, sqlite_engine, fake_clock, sims)
    assert checks["openai"].status == "ok" and checks["anthropic"].status == "ok"


@pytest.mark.parametrize(
    ("openai_key", "anthropic_key", "expected"),
    [
        ("sk-admin-revoked", "sk-ant-admin01-revoked", "invalid"),
        ("sk-proj-abc123", "sk-ant-api03-abc", "wrong_scope"),
    ],
)
def test_bad_and_wrong_type_keys(
    tmp_path: Path,
    sqlite_engine: Engine,
    fake_clock: FakeClock,
    sims: Sims,
    openai_key: str,
    anthropic_key: str,
    expected: str,
) -> None:
    checks = _checks(
        tmp_path,
        sqlite_engine,
        fake_clock,
        sims,
        openai_admin_api_key=SecretStr(openai_key),
        anthropic_admin_api_key=SecretStr(anthropic_key),
    )
    assert checks["openai"].status == expected
    assert checks["anthropic"].status == expected
    for check in checks.values():
        assert openai_key not in check.detail and anthropic_key not in check.detail


def test_admin_key_without_usage_scope_is_wrong_scope(
    tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock, sims: Sims
) -> None:
    sims.openai.admin_keys = sims.openai.admin_keys | {"sk-admin-readonly"}
    sims.openai.unscoped_keys = frozenset({"sk-admin-readonly"})
    checks = _checks(
        tmp_path,
        sqlite_engine,
        fake_clock,
        sims,
        openai_admin_api_key=SecretStr("sk-admin-readonly"),
    )
    assert checks["openai"].status == "wrong_scope"
    assert "api.usage.read" in checks["openai"].detail


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=503),
        Fault(status=429, retry_after=1),
        Fault(reset=True),
        Fault(malformed=True),
        Fault(status=500),
    ],
)
def test_outages_are_transient_never_a_bad_key(
    tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock, sims: Sims, fault: Fault
) -> None:
    sims.openai_server.faults.add("/v1/organization", fault)
    sims.anthropic_server.faults.add("/v1/organizations", fault)
    checks = _checks(tmp_path, sqlite_engine, fake_clock, sims)
    assert checks["openai"].status == "transient"
    assert checks["anthropic"].status == "transient"
    assert "não foi avaliada" in checks["openai"].detail


def test_not_configured(
    tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock, sims: Sims
) -> None:
    checks = _checks(
        tmp_path,
        sqlite_engine,
        fake_clock,
        sims,
        openai_admin_api_key=None,
        anthropic_admin_api_key=None,
    )
    assert checks["openai"].status == "not_configured"
    assert "OPENAI_ADMIN_API_KEY" in checks["openai"].detail


def test_each_health_check_probes_only_its_own_vendor(costs_hub: Hub, sims: Sims) -> None:
    from integrations.runtime.registry import get

    for name, own, other in (
        ("openai", sims.openai, sims.anthropic),
        ("anthropic_admin", sims.anthropic, sims.openai),
    ):
        check = get(name).health_check
        assert check is not None
        own_before, other_before = sum(own.requests.values()), dict(other.requests)
        assert check(costs_hub).status == "pass"
        assert sum(own.requests.values()) == own_before + 1
        assert other.requests == other_before
