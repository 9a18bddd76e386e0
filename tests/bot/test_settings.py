"""Settings: environment + .env (the real environment wins), validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, load_settings


def _errors(exc: ValidationError) -> dict[tuple[str, ...], str]:
    return {tuple(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}


def test_dotenv_is_read_and_real_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "HUB_TIME_ZONE=Europe/Lisbon\nLOG_LEVEL=debug\nSMMRAJA_API_KEY=from-dotenv-file\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SMMRAJA_API_KEY", "from-real-environment")
    settings = load_settings()  # cwd is tmp_path (autouse fixture)
    assert settings.hub_time_zone == "Europe/Lisbon"
    assert settings.log_level == "DEBUG"
    assert settings.smmraja_api_key is not None
    assert settings.smmraja_api_key.get_secret_value() == "from-real-environment"


def test_defaults_without_any_configuration() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///chegou_hub.db"
    assert settings.calendar_time_zone == "America/Sao_Paulo"
    assert settings.default_event_duration == 60
    assert settings.shopify_stores == {}
    assert settings.slack_bot_token is None


def test_shopify_stores_json_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SHOPIFY_STORES",
        '{"loja1": {"shop_url": "https://minha-loja.myshopify.com/", "access_token": "shpat_x",'
        ' "api_base_url": "http://127.0.0.1:9999/"}}',
    )
    store = load_settings().shopify_stores["loja1"]
    assert store.shop_url == "minha-loja.myshopify.com"
    assert store.api_base_url == "http://127.0.0.1:9999"
    assert store.has_credentials()


def test_every_malformed_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad JSON no longer stops pydantic-settings before the other fields are validated."""
    monkeypatch.setenv("SHOPIFY_STORES", '{"loja1": {"shop_url": ')
    monkeypatch.setenv("HUB_RATE_LIMITS", "[1, 2]")
    monkeypatch.setenv("OPENAI_BASE_URL", "api.openai.com")
    monkeypatch.setenv("HUB_TIME_ZONE", "Sao Paulo")
    with pytest.raises(ValidationError) as info:
        load_settings()
    errors = _errors(info.value)
    assert "not valid JSON" in errors[("shopify_stores",)]
    assert "line 1" in errors[("shopify_stores",)]
    assert "must be a JSON object" in errors[("hub_rate_limits",)]
    assert "not a valid http(s) URL" in errors[("openai_base_url",)]
    assert "unknown time zone" in errors[("hub_time_zone",)]


def test_store_time_zone_error_is_a_validation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # ZoneInfo raises a KeyError subclass; it must not escape as a raw exception.
    monkeypatch.setenv(
        "SHOPIFY_STORES", '{"es": {"shop_url": "x.myshopify.com", "time_zone": "Europe/Nowhere"}}'
    )
    with pytest.raises(ValidationError) as info:
        load_settings()
    assert "unknown time zone" in _errors(info.value)[("shopify_stores", "es", "time_zone")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgres://u:p@db:5432/hub", "postgresql://u:p@db:5432/hub"),
        ("postgresql+psycopg://u@db/hub", "postgresql+psycopg://u@db/hub"),
        ("sqlite:////var/lib/hub.db", "sqlite:////var/lib/hub.db"),
    ],
)
def test_database_url_forms(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv("DATABASE_URL", value)
    assert load_settings().database_url == expected


def test_bad_database_url_never_echoes_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://hub:s3cr3t-pw@db/hub")
    with pytest.raises(ValidationError) as info:
        load_settings()
    assert "s3cr3t-pw" not in str(info.value.errors(include_input=False))
    assert "postgresql://" in _errors(info.value)[("database_url",)]


@pytest.mark.parametrize(
    ("field", "value"),
    [("log_level", "loud"), ("web_port", "70000"), ("retry_attempts", "0")],
)
def test_out_of_range_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    monkeypatch.setenv(field.upper(), value)
    with pytest.raises(ValidationError) as info:
        load_settings()
    assert (field,) in _errors(info.value)


def test_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_PORT", "9000")
    assert load_settings(web_port=9100).web_port == 9100
    assert Settings(_env_file=None).web_port == 9000  # type: ignore[call-arg]


def test_empty_variables_mean_not_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=\nOPENAI_BASE_URL=\n", encoding="utf-8")
    monkeypatch.setenv("DROPI_API_TOKEN", "")
    settings = load_settings()
    assert settings.slack_bot_token is None
    assert settings.dropi_api_token is None
    assert settings.openai_base_url == "https://api.openai.com/v1"
