"""Typed settings, read from the environment and `.env` (the real environment wins).

Variable names are the ones the company already uses. Every integration is enabled exactly when
its credentials are set; every base URL can be overridden so the hub can talk to a simulator.
Areas add their own fields in their section below (keep sections apart so merges stay clean).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_URL = TypeAdapter(AnyHttpUrl)


def _check_url(value: str | None) -> str | None:
    """Base URLs are plain strings in code, but must be valid http(s) URLs."""
    if value is None or value == "":
        return None
    try:
        _URL.validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"not a valid http(s) URL: {value!r}") from exc
    return value.rstrip("/")


def _check_tz(value: str) -> str:
    """An IANA time zone name; ZoneInfo raises KeyError subclasses, which pydantic won't catch."""
    try:
        ZoneInfo(value)
    except Exception:
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like America/Sao_Paulo)"
        ) from None
    return value


def _parse_json(value: Any, *, expect: type) -> Any:
    """Decode a JSON env value ourselves so a typo becomes a normal validation error.

    pydantic-settings would otherwise raise `SettingsError` before any validator runs, which
    stops at the first bad field and cannot say what is wrong. The message never echoes the
    value (it may hold tokens).
    """
    if not isinstance(value, str):
        return value
    value = value.strip()
    if not value:
        return expect()
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(decoded, expect):
        kind = "object {...}" if expect is dict else "list [...]"
        raise ValueError(f"must be a JSON {kind}, got {type(decoded).__name__}")
    return decoded


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class ShopifyStore(BaseModel):
    """One entry of SHOPIFY_STORES."""

    model_config = ConfigDict(extra="forbid")

    shop_url: str
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_version: str = "2026-04"
    api_base_url: str | None = None
    display_name: str | None = None
    time_zone: str = "America/Sao_Paulo"
    processed_tags: list[str] = Field(
        default_factory=lambda: [
            "order sent to dropi",
            "dropi sync error",
            "eh",
            "p cod",
            "prime cod",
        ]
    )
    ip_sources: list[str] = Field(default_factory=lambda: ["attribute:IP address", "clientIp"])

    @field_validator("shop_url")
    @classmethod
    def _shop_url(cls, value: str) -> str:
        value = value.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
        if not value or "/" in value or " " in value:
            raise ValueError("shop_url must look like 'minha-loja.myshopify.com'")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        return _check_url(value)

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _check_tz(value)

    def has_credentials(self) -> bool:
        return self.access_token is not None or (
            self.client_id is not None and self.client_secret is not None
        )


class Budget(BaseModel):
    """A monthly budget in USD for one vendor, optionally per project/workspace."""

    model_config = ConfigDict(extra="forbid")

    monthly_usd: Decimal
    projects: dict[str, Decimal] = Field(default_factory=dict)


class ModelPrice(BaseModel):
    """USD per million tokens for one model, valid from a date (effective-dated table)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    valid_from: date
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal | None = None
    cache_read: Decimal | None = None


class Settings(BaseSettings):
    # An empty variable (`SLACK_BOT_TOKEN=`) means "not set": it never enables an integration
    # with an empty credential nor replaces a default URL with nothing.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
    )

    # --- core -------------------------------------------------------------------------------
    database_url: str = "sqlite:///chegou_hub.db"
    hub_time_zone: str = "America/Sao_Paulo"
    log_level: str = "INFO"
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    hub_docs_dir: str = "docs"

    # --- runtime: retries, rate limits, caches ----------------------------------------------
    retry_attempts: int = Field(default=3, ge=1)
    retry_wait_min_seconds: float = 4.0
    retry_wait_max_seconds: float = 10.0
    retry_after_cap_seconds: float = 60.0
    http_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    http_read_timeout_seconds: float = Field(default=30.0, gt=0)
    # JSON objects keyed by integration, e.g. {"shopify": {"rate": 2, "burst": 40}} and
    # {"shopify": 300}; merged over the company's defaults in integrations.runtime.
    hub_rate_limits: Annotated[dict[str, dict[str, float]], NoDecode] = Field(default_factory=dict)
    hub_cache_ttls: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    call_record_flush_size: int = 200
    call_record_flush_seconds: float = 5.0

    # --- slack ------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_base_url: str | None = None
    hub_admins: CsvList = Field(default_factory=list)
    hub_operators: CsvList = Field(default_factory=list)
    hub_viewers: CsvList = Field(default_factory=list)
    hub_worker_threads: int = Field(default=16, ge=1)
    hub_confirmation_ttl_seconds: int = 900

    # --- channels (jobs and alerts) ---------------------------------------------------------
    hub_channel_alerts: str | None = None
    hub_channel_costs: str | None = None
    hub_channel_shopify: str | None = None
    hub_channel_novelties: str | None = None

    # --- jobs ---------------------------------------------------------------------------------
    jobs_enabled: bool = True
    jobs_retry_attempts: int = Field(default=3, ge=1)
    jobs_retry_base_seconds: float = 60.0
    jobs_misfire_grace_seconds: int = 3600
    jobs_leader_lease_seconds: int = 30
    alert_consecutive_failures: int = 5
    alert_latency_seconds: float = 10.0
    alert_cooldown_seconds: int = 3600

    # --- openai / anthropic admin (AI spend) ------------------------------------------------
    openai_admin_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_admin_api_key: SecretStr | None = None
    anthropic_admin_base_url: str = "https://api.anthropic.com"
    ai_costs_backfill_days: int = 90
    ai_costs_resync_days: int = 3
    ai_budgets: Annotated[dict[str, Budget], NoDecode] = Field(default_factory=dict)
    ai_spike_min_usd: Decimal = Decimal("20")
    ai_spike_cooldown_hours: int = 24
    ai_model_prices: Annotated[list[ModelPrice], NoDecode] = Field(default_factory=list)
    # Anthropic money source: the Admin API cost report ("cost_report") or the beta Usage and
    # Cost Analytics API ("analytics"); "auto" picks analytics when the installed SDK has it.
    ai_anthropic_cost_api: Literal["auto", "cost_report", "analytics"] = "auto"

    # --- claude assistant -------------------------------------------------------------------
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    # claude-sonnet-4-5 reaches end of life on 2026-11-30 (anthropic SDK deprecation table).
    assistant_model: str = "claude-sonnet-4-6"
    assistant_max_tokens: int = 2048
    assistant_timeout_seconds: float = 60.0
    assistant_max_rounds: int = 8
    assistant_rate_limit_count: int = 20
    assistant_rate_limit_window_seconds: int = 600
    assistant_max_input_chars: int = 4000
    assistant_history_token_budget: int = 12000
    # A question arriving while the assistant answers another in the same thread (on any
    # instance) waits this long for it, then is asked to be sent again.
    assistant_thread_wait_seconds: float = Field(default=120.0, ge=0)
    # Threads idle for longer are deleted by the daily retention job (0: keep them forever).
    assistant_retention_days: int = Field(default=90, ge=0)

    # --- shopify ------------------------------------------------------------------------------
    shopify_stores: Annotated[dict[str, ShopifyStore], NoDecode] = Field(default_factory=dict)
    shopify_duplicate_window_days: int = 30
    shopify_cancel_tag: str = "chegou-hub-duplicado-cancelado"
    shopify_notify_customer: bool = False
    shopify_bulk_threshold_days: int = 30

    # --- order platforms ----------------------------------------------------------------------
    primecod_api_token: SecretStr | None = None
    primecod_base_url: str = "https://api.primecod.app/api"
    ecomhub_api_token: SecretStr | None = None
    ecomhub_base_url: str = "https://api.ecomhub.app"
    dropi_api_token: SecretStr | None = None
    dropi_base_url: str = "https://api.dropi.co"

    # --- smmraja / novelties ------------------------------------------------------------------
    smmraja_api_key: SecretStr | None = None
    smmraja_base_url: str = "https://www.smmraja.com/api/v3"
    novelties_api_key: SecretStr | None = None

    # --- google calendar ----------------------------------------------------------------------
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_redirect_uri: str | None = None
    google_calendar_base_url: str | None = None
    calendar_time_zone: str = "America/Sao_Paulo"
    default_event_duration: int = Field(default=60, ge=1)

    # --- validators ---------------------------------------------------------------------------
    @field_validator("hub_admins", "hub_operators", "hub_viewers", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator(
        "openai_base_url",
        "anthropic_admin_base_url",
        "anthropic_base_url",
        "slack_base_url",
        "primecod_base_url",
        "ecomhub_base_url",
        "dropi_base_url",
        "smmraja_base_url",
        "google_calendar_base_url",
        "google_redirect_uri",
    )
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _check_url(value)

    @field_validator("hub_time_zone", "calendar_time_zone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _check_tz(value)

    @field_validator(
        "shopify_stores", "hub_rate_limits", "hub_cache_ttls", "ai_budgets", mode="before"
    )
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        return _parse_json(value, expect=dict)

    @field_validator("ai_model_prices", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        return _parse_json(value, expect=list)

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in LOG_LEVELS:
                raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Never echo the value: it may carry a password.
        value = value.strip()
        if value.startswith("postgres://"):  # the Heroku/Render spelling
            value = "postgresql://" + value.removeprefix("postgres://")
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError(
                "must be sqlite:///path/to/file.db or postgresql://user:pass@host:5432/db"
            )
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError("is not a valid database URL") from None
        return value

    # --- derived ------------------------------------------------------------------------------
    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.hub_time_zone)

    def channel_for(
        self, route: Literal["alerts", "costs", "shopify", "novelties"] | str
    ) -> str | None:
        """Channel for a route; unset routes fall back to the alerts channel."""
        specific = getattr(self, f"hub_channel_{route}", None)
        return specific or self.hub_channel_alerts


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and `.env`); overrides win (tests, demo)."""
    return Settings(**overrides)
