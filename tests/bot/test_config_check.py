"""`chegou-hub config check`: configured / not configured / invalid, secrets masked, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from bot.cli import main
from bot.config_check import (
    SETTINGS_ONLY_SERVICES,
    check_config,
    load_settings_collecting,
    mask_secret,
)
from bot.settings import Settings
from integrations.runtime import registry
from integrations.runtime.registry import Integration

OPENAI_KEY = "sk-admin-CANARYopenai0000f3"
SHOPIFY_TOKEN = "shpat_CANARYshopify000099"
SLACK_TOKEN = "xoxb-CANARY-slack-00000012"
SIGNING = "CANARYsigning0000000034"


@pytest.fixture
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Integration]]:
    """A registry with only what the test registers (area integrations are not merged here)."""
    fake: dict[str, Integration] = {}
    monkeypatch.setattr(registry, "_REGISTRY", fake)
    monkeypatch.setattr(registry, "_loaded", True)
    yield fake


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["config", "check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_mask_secret_never_shows_the_whole_value() -> None:
    assert mask_secret("sk-admin-abcdef123456f3") == "sk-a…f3"
    assert mask_secret("short") == "…(5 chars)"
    assert "short" not in mask_secret("short")


def test_no_configuration_at_all_is_valid(
    capsys: pytest.CaptureFixture[str], empty_registry: dict[str, Integration]
) -> None:
    code, out, err = _run(capsys)
    assert code == 0, err
    assert err == ""
    assert "OK: every value present is valid." in out
    for svc in SETTINGS_ONLY_SERVICES:
        assert f"({svc.name})" in out
    assert "INVALID" not in out
    report = check_config()
    assert {i.status for i in report.integrations} == {"not_configured"}
    assert all(i.settings_only for i in report.integrations)


def test_configured_values_are_listed_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    empty_registry: dict[str, Integration],
) -> None:
    monkeypatch.setenv("OPENAI_ADMIN_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv(
        "SHOPIFY_STORES",
        json.dumps({"loja1": {"shop_url": "loja1.myshopify.com", "access_token": SHOPIFY_TOKEN}}),
    )
    monkeypatch.setenv("DATABASE_URL", "postgresql://hub:CANARYdbpass@db:5432/hub")
    code, out, err = _run(capsys)
    json_code, json_out, _ = _run(capsys, "--json")
    assert code == json_code == 0, err
    for secret in (OPENAI_KEY, SHOPIFY_TOKEN, SLACK_TOKEN, SIGNING, "CANARYdbpass"):
        assert secret not in out + err + json_out
    assert "OPENAI_ADMIN_API_KEY=sk-a…f3" in out
    assert "shpa…99" in out
    data = json.loads(json_out)
    statuses = {i["name"]: i["status"] for i in data["integrations"]}
    assert statuses["openai"] == statuses["slack"] == statuses["shopify"] == "configured"
    assert statuses["dropi"] == "not_configured"
    assert data["ok"] is True


def test_malformed_values_exit_2_with_one_line_per_problem(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    empty_registry: dict[str, Integration],
) -> None:
    monkeypatch.setenv("SHOPIFY_STORES", '{"loja1": {"shop_url": "x.myshopify.com",}}')
    monkeypatch.setenv("DROPI_BASE_URL", "not a url")
    monkeypatch.setenv("CALENDAR_TIME_ZONE", "Brasilia")
    monkeypatch.setenv("HUB_TIME_ZONE", "GMT-3")
    monkeypatch.setenv("PRIMECOD_API_TOKEN", "CANARYprimecod000000")
    code, out, err = _run(capsys)
    assert code == 2
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 4, err
    assert all(line.startswith("chegou-hub: invalid configuration: ") for line in lines)
    assert any("SHOPIFY_STORES: not valid JSON" in line for line in lines)
    assert any("DROPI_BASE_URL: not a valid http(s) URL" in line for line in lines)
    assert any("CALENDAR_TIME_ZONE: unknown time zone" in line for line in lines)
    assert any("HUB_TIME_ZONE: unknown time zone" in line for line in lines)
    # The rest is still checked: PrimeCOD is configured and masked.
    assert "PRIMECOD_API_TOKEN=CANA…00" in out
    assert "CANARYprimecod000000" not in out + err


def test_partial_credentials_and_wrong_token_kinds_are_invalid(
    monkeypatch: pytest.MonkeyPatch, empty_registry: dict[str, Integration]
) -> None:
    monkeypatch.setenv("GOOGLE_CLIENT_ID", "123.apps.googleusercontent.com")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xapp-1-this-is-an-app-token")
    monkeypatch.setenv("SHOPIFY_STORES", '{"loja1": {"shop_url": "x.myshopify.com"}}')
    report = check_config()
    by_name = {i.name: i for i in report.integrations}
    assert report.exit_code == 2
    assert by_name["google_calendar"].status == "invalid"
    assert "GOOGLE_CLIENT_SECRET missing" in by_name["google_calendar"].reasons[0]
    assert any("expected 'xoxb-…'" in r for r in by_name["slack"].reasons)
    assert any("SLACK_SIGNING_SECRET" in r for r in by_name["slack"].reasons)
    assert by_name["shopify"].reasons == [
        "SHOPIFY_STORES[loja1]: no access_token (or client_id + client_secret)"
    ]


def test_registered_integrations_are_used_and_a_broken_check_is_contained(
    monkeypatch: pytest.MonkeyPatch, empty_registry: dict[str, Integration]
) -> None:
    def explode(_s: Settings) -> bool:
        raise RuntimeError("boom")

    registry.register(
        Integration(
            name="smmraja",
            display_name="SMMRAJA",
            is_configured=lambda s: s.smmraja_api_key is not None,
            config_errors=lambda s: ["saldo mínimo inválido"],
            settings_fields=("smmraja_api_key", "smmraja_base_url"),
        )
    )
    registry.register(
        Integration(
            name="orders_primecod",
            display_name="PrimeCOD",
            is_configured=explode,
            settings_fields=("primecod_api_token",),
        )
    )
    monkeypatch.setenv("SMMRAJA_API_KEY", "CANARYsmmraja000000")
    report = check_config()
    by_name = {i.name: i for i in report.integrations}
    # Registered entries replace the settings-only ones (same name or same credential field).
    assert "primecod" not in by_name
    assert not by_name["smmraja"].settings_only
    assert by_name["smmraja"].status == "invalid"
    assert by_name["smmraja"].reasons == ["saldo mínimo inválido"]
    assert by_name["orders_primecod"].status == "invalid"
    assert by_name["orders_primecod"].reasons == ["configuration check failed: RuntimeError"]
    assert "CANARYsmmraja000000" not in report.render()


def test_settings_error_from_a_decoded_field_is_explained(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pydantic-settings raises SettingsError (before validators) for JSON it decodes itself."""

    class WithDecodedJson(Settings):
        area_thresholds: dict[str, int] = Field(default_factory=dict)

    monkeypatch.setenv("AREA_THRESHOLDS", "{not json")
    settings, problems = load_settings_collecting(WithDecodedJson, settings_cls=WithDecodedJson)
    assert settings is not None  # the rest still loads, with that field at its default
    assert [p.message for p in problems] == [
        "AREA_THRESHOLDS: not valid JSON: Expecting property name enclosed in double quotes "
        "(line 1, column 2)"
    ]


def test_secretstr_values_inside_models_are_masked() -> None:
    from bot.config_check import display_value
    from bot.settings import ShopifyStore

    store = ShopifyStore(shop_url="a.myshopify.com", access_token=SecretStr(SHOPIFY_TOKEN))
    shown = display_value({"a": store})
    assert SHOPIFY_TOKEN not in shown
    assert "shpa…99" in shown


def test_unreadable_env_file_is_a_problem_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env").write_bytes(b"SMMRAJA_API_KEY=\xff\xfeabc\n")
    code, _out, err = _run(capsys)
    assert code == 2
    assert err.strip() == (
        "chegou-hub: invalid configuration: .env: cannot be read "
        "(not UTF-8: byte 0xff at position 16)"
    )
