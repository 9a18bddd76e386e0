"""`chegou-hub config check`: what is configured, what is not, and what is malformed.

The check never fails on the first problem and never prints a traceback: settings are loaded
once; when a value is malformed the problem is recorded and the settings are loaded again with
that field at its default, so every other field and integration can still be checked. Secrets
are masked (`sk-a…f3`), never printed whole.

Integrations come from `integrations.runtime.registry.all_integrations()`. Services whose
client does not exist yet (and any of the core ones that has not registered itself) are checked
from their Settings fields and marked "settings only".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsError

from bot.settings import Settings, load_settings

if TYPE_CHECKING:
    from integrations.runtime.registry import Integration

Status = Literal["configured", "not_configured", "invalid"]

CORE_FIELDS = (
    "database_url",
    "hub_time_zone",
    "log_level",
    "web_host",
    "web_port",
    "hub_docs_dir",
    "hub_admins",
    "hub_operators",
    "hub_viewers",
    "hub_channel_alerts",
    "hub_channel_costs",
    "hub_channel_shopify",
    "hub_channel_novelties",
)
_MAX_ATTEMPTS = 50  # each attempt removes at least one bad field; Settings has fewer fields


# --- masking ----------------------------------------------------------------------------------


def mask_secret(value: str) -> str:
    """`sk-admin-abcdef123` -> `sk-a…23`; short secrets show nothing but their length."""
    if len(value) >= 12:
        return f"{value[:4]}…{value[-2:]}"
    return f"…({len(value)} chars)"


def display_value(value: Any) -> str:
    """A printable form of a settings value with every secret masked."""
    return _render(_masked(value))


def _masked(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return mask_secret(value.get_secret_value())
    if isinstance(value, BaseModel):
        return {k: _masked(v) for k, v in dict(value).items() if v is not None}
    if isinstance(value, Mapping):
        return {str(k): _masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(v) for v in value]
    return value


def _render(value: Any) -> str:
    if value is None:
        return "(not set)"
    if value in ({}, []):
        return "(none)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return str(value)


def _display_field(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    if name == "database_url":
        return _hide_db_password(value)
    return display_value(value)


def _hide_db_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable)"


def env_name(field_name: str) -> str:
    return field_name.upper()


# --- loading settings without stopping at the first problem -----------------------------------


@dataclass(frozen=True)
class Problem:
    field: str  # top-level Settings field
    message: str  # one line, already prefixed with the variable (and path inside it)

    def __str__(self) -> str:
        return self.message


def _problems_from_validation(exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in err["loc"]]
        if not loc:
            continue
        top, rest = loc[0], loc[1:]
        where = env_name(top)
        if top == "shopify_stores" and rest:
            where += f"[{rest[0]}]" + "".join(f".{p}" for p in rest[1:])
        elif rest:
            where += "".join(f".{p}" for p in rest)
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        problems.append(Problem(top, f"{where}: {msg}"))
    return problems


_SETTINGS_ERROR_FIELD = re.compile(r'field "(?P<field>\w+)"')


def _problem_from_settings_error(exc: SettingsError, fields: Mapping[str, Any]) -> Problem | None:
    """pydantic-settings decodes complex (JSON) fields before validation and stops there."""
    match = _SETTINGS_ERROR_FIELD.search(str(exc))
    if match is None or match["field"] not in fields:
        return None
    name = match["field"]
    cause = exc.__cause__
    detail = ""
    if isinstance(cause, json.JSONDecodeError):
        detail = f": {cause.msg} (line {cause.lineno}, column {cause.colno})"
    return Problem(name, f"{env_name(name)}: not valid JSON{detail}")


def load_settings_collecting(
    loader: Callable[..., Settings] = load_settings,
    *,
    settings_cls: type[Settings] = Settings,
) -> tuple[Settings | None, list[Problem]]:
    """Load settings; on malformed values return every problem plus settings without them.

    Bad fields are reset to their defaults (init values win over the environment and `.env`),
    so the rest of the configuration can still be inspected. Returns `(None, problems)` only if
    the settings cannot be built even then.
    """
    problems: list[Problem] = []
    reset: dict[str, Any] = {}
    undecoded: set[str] = set()
    for _ in range(_MAX_ATTEMPTS):
        try:
            if undecoded:
                return _without_decoding(settings_cls, undecoded)(**reset), problems
            return loader(**reset), problems
        except ValidationError as exc:
            found = _problems_from_validation(exc)
        except (OSError, UnicodeDecodeError) as exc:
            # The .env file itself cannot be read (permissions, not UTF-8).
            env_file = Settings.model_config.get("env_file") or ".env"
            return None, [*problems, Problem("", f"{env_file}: cannot be read ({_brief(exc)})")]
        except SettingsError as exc:
            one = _problem_from_settings_error(exc, settings_cls.model_fields)
            if one is None:
                return None, [*problems, Problem("", f"configuration error: {exc}")]
            # Resetting is not enough: the env source would decode (and fail) again.
            undecoded.add(one.field)
            found = [one]
        new = [p for p in found if p.field and p.field not in reset]
        if not new:
            return None, problems + found
        problems.extend(new)
        for p in new:
            info = settings_cls.model_fields.get(p.field)
            if info is None:
                return None, problems
            reset[p.field] = info.get_default(call_default_factory=True)
    return None, problems


def _brief(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8: byte {exc.object[exc.start]:#04x} at position {exc.start}"
    return type(exc).__name__ + (f": {exc.strerror}" if isinstance(exc, OSError) else "")


def _without_decoding(settings_cls: type[Settings], fields: set[str]) -> type[Settings]:
    """A subclass whose `fields` are read as raw strings (their default is passed instead)."""
    from pydantic import create_model
    from pydantic_settings import NoDecode

    overrides: dict[str, Any] = {
        name: (Annotated[settings_cls.model_fields[name].annotation, NoDecode], None)
        for name in fields
    }
    return create_model(settings_cls.__name__, __base__=settings_cls, **overrides)


# --- integrations -----------------------------------------------------------------------------


@dataclass
class IntegrationStatus:
    name: str
    display_name: str
    status: Status
    reasons: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # ENV_NAME -> masked value (set only)
    how_to_configure: str = ""
    settings_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "status": self.status,
            "reasons": self.reasons,
            "values": self.values,
            "how_to_configure": self.how_to_configure,
            "settings_only": self.settings_only,
        }


@dataclass(frozen=True)
class SettingsOnlyService:
    """A service checked from its Settings fields only (its client/integration is not there)."""

    name: str
    display_name: str
    settings_fields: tuple[str, ...]
    credentials: tuple[str, ...]  # all required for "configured"
    how_to_configure: str
    extra_checks: Callable[[Settings], list[str]] = lambda _s: []

    def is_configured(self, settings: Settings) -> bool:
        return all(_is_set(getattr(settings, f)) for f in self.credentials)

    def config_errors(self, settings: Settings) -> list[str]:
        errors = list(self.extra_checks(settings))
        present = [f for f in self.credentials if _is_set(getattr(settings, f))]
        if present and len(present) < len(self.credentials):
            missing = [env_name(f) for f in self.credentials if f not in present]
            errors.append(
                f"{', '.join(env_name(f) for f in present)} set but {', '.join(missing)} missing"
            )
        return errors


def _is_set(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return value not in (None, "", {}, [])


def _prefix(field_name: str, *prefixes: str) -> Callable[[Settings], list[str]]:
    def check(settings: Settings) -> list[str]:
        value = getattr(settings, field_name)
        if isinstance(value, SecretStr) and not value.get_secret_value().startswith(prefixes):
            shown = " or ".join(f"'{p}…'" for p in prefixes)
            return [f"{env_name(field_name)} does not look right (expected {shown})"]
        return []

    return check


def _slack_checks(settings: Settings) -> list[str]:
    errors = _prefix("slack_bot_token", "xoxb-")(settings)
    errors += _prefix("slack_app_token", "xapp-")(settings)
    if (
        settings.slack_bot_token is not None
        and settings.slack_signing_secret is None
        and settings.slack_app_token is None
    ):
        errors.append(
            "SLACK_BOT_TOKEN set but neither SLACK_APP_TOKEN (Socket Mode) nor "
            "SLACK_SIGNING_SECRET (HTTP mode) is"
        )
    if settings.slack_bot_token is None and (
        settings.slack_signing_secret is not None or settings.slack_app_token is not None
    ):
        errors.append("SLACK_BOT_TOKEN missing")
    return errors


def _shopify_checks(settings: Settings) -> list[str]:
    return [
        f"SHOPIFY_STORES[{key}]: no access_token (or client_id + client_secret)"
        for key, store in settings.shopify_stores.items()
        if not store.has_credentials()
    ]


SETTINGS_ONLY_SERVICES: tuple[SettingsOnlyService, ...] = (
    SettingsOnlyService(
        "slack",
        "Slack",
        ("slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_base_url"),
        ("slack_bot_token",),
        "Set SLACK_BOT_TOKEN plus SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP).",
        _slack_checks,
    ),
    SettingsOnlyService(
        "openai",
        "OpenAI (custos)",
        ("openai_admin_api_key", "openai_base_url"),
        ("openai_admin_api_key",),
        "Set OPENAI_ADMIN_API_KEY (an organization admin key, sk-admin-…).",
        _prefix("openai_admin_api_key", "sk-admin-"),
    ),
    SettingsOnlyService(
        "anthropic_admin",
        "Anthropic (custos)",
        ("anthropic_admin_api_key", "anthropic_admin_base_url"),
        ("anthropic_admin_api_key",),
        "Set ANTHROPIC_ADMIN_API_KEY (an organization admin key, sk-ant-admin…).",
        _prefix("anthropic_admin_api_key", "sk-ant-admin"),
    ),
    SettingsOnlyService(
        "anthropic",
        "Claude (assistente)",
        ("anthropic_api_key", "anthropic_base_url", "assistant_model"),
        ("anthropic_api_key",),
        "Set ANTHROPIC_API_KEY.",
    ),
    SettingsOnlyService(
        "shopify",
        "Shopify",
        ("shopify_stores",),
        ("shopify_stores",),
        'Set SHOPIFY_STORES, e.g. {"loja1": {"shop_url": "minha-loja.myshopify.com", '
        '"access_token": "shpat_…"}}.',
        _shopify_checks,
    ),
    SettingsOnlyService(
        "primecod",
        "PrimeCOD",
        ("primecod_api_token", "primecod_base_url"),
        ("primecod_api_token",),
        "Set PRIMECOD_API_TOKEN.",
    ),
    SettingsOnlyService(
        "ecomhub",
        "EcomHub",
        ("ecomhub_api_token", "ecomhub_base_url"),
        ("ecomhub_api_token",),
        "Set ECOMHUB_API_TOKEN.",
    ),
    SettingsOnlyService(
        "dropi",
        "Dropi",
        ("dropi_api_token", "dropi_base_url"),
        ("dropi_api_token",),
        "Set DROPI_API_TOKEN.",
    ),
    SettingsOnlyService(
        "smmraja",
        "SMMRAJA",
        ("smmraja_api_key", "smmraja_base_url"),
        ("smmraja_api_key",),
        "Set SMMRAJA_API_KEY.",
    ),
    SettingsOnlyService(
        "novelties",
        "Novelties",
        ("novelties_api_key",),
        ("novelties_api_key",),
        "Set NOVELTIES_API_KEY.",
    ),
    SettingsOnlyService(
        "google_calendar",
        "Google Calendar",
        (
            "google_client_id",
            "google_client_secret",
            "google_redirect_uri",
            "google_calendar_base_url",
            "calendar_time_zone",
            "default_event_duration",
        ),
        ("google_client_id", "google_client_secret"),
        "Set GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REDIRECT_URI (OAuth client).",
    ),
)


def _registered() -> tuple[list[Integration], list[str]]:
    """The registry's integrations; a registry that fails to load is a problem, not a crash."""
    try:
        from integrations.runtime.registry import all_integrations

        return all_integrations(), []
    except Exception as exc:
        return [], [f"integration registry failed to load: {type(exc).__name__}"]


def _status_for(
    *,
    name: str,
    display_name: str,
    fields: Sequence[str],
    is_configured: Callable[[Settings], bool],
    config_errors: Callable[[Settings], list[str]],
    how_to_configure: str,
    settings: Settings,
    bad: Mapping[str, list[Problem]],
    settings_only: bool,
) -> IntegrationStatus:
    reasons = [p.message for f in fields for p in bad.get(f, [])]
    values = {
        env_name(f): _display_field(settings, f)
        for f in fields
        if f in Settings.model_fields and f not in bad and _is_explicit(settings, f)
    }
    try:
        reasons += list(config_errors(settings))
        configured = bool(is_configured(settings))
    except Exception as exc:  # a broken check must not break the whole report
        reasons.append(f"configuration check failed: {type(exc).__name__}")
        configured = False
    status: Status = "invalid" if reasons else "configured" if configured else "not_configured"
    return IntegrationStatus(
        name=name,
        display_name=display_name,
        status=status,
        reasons=reasons,
        values=values,
        how_to_configure=how_to_configure if status == "not_configured" else "",
        settings_only=settings_only,
    )


def _is_explicit(settings: Settings, name: str) -> bool:
    """Set by the operator (env/.env) or different from the default."""
    if name in settings.model_fields_set:
        return True
    info = Settings.model_fields[name]
    return bool(getattr(settings, name) != info.get_default(call_default_factory=True))


# --- the report -------------------------------------------------------------------------------


@dataclass
class ConfigReport:
    env_file: Path
    problems: list[Problem]
    core: dict[str, str]
    integrations: list[IntegrationStatus]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(i.status != "invalid" for i in self.integrations)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 2

    def problem_lines(self) -> list[str]:
        lines = [p.message for p in self.problems]
        for integ in self.integrations:
            lines += [f"{integ.display_name}: {r}" for r in integ.reasons if r not in lines]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "env_file": str(self.env_file),
            "env_file_found": self.env_file.is_file(),
            "core": self.core,
            "integrations": [i.to_dict() for i in self.integrations],
            "problems": self.problem_lines(),
        }

    def render(self) -> str:
        found = "found" if self.env_file.is_file() else "not found"
        out = [
            "Chegou Hub configuration",
            f"Read from the environment and {self.env_file} ({found}); the environment wins.",
            "",
            "Core",
        ]
        width = max((len(k) for k in self.core), default=0)
        out += [f"  {k.ljust(width)}  {v}" for k, v in self.core.items()]
        registered = [i for i in self.integrations if not i.settings_only]
        settings_only = [i for i in self.integrations if i.settings_only]
        if registered:
            out += ["", "Integrations"]
            out += _render_rows(registered)
        if settings_only:
            out += [
                "",
                "Checked from settings only (no integration registered for them in this build)",
            ]
            out += _render_rows(settings_only)
        out += ["", *self.notes] if self.notes else []
        lines = self.problem_lines()
        out.append("")
        if lines:
            out.append(f"{len(lines)} problem(s):")
            out += [f"  {line}" for line in lines]
        else:
            out.append("OK: every value present is valid.")
        return "\n".join(out)


_MARK = {"configured": "ok", "not_configured": "--", "invalid": "!!"}
_LABEL = {"configured": "configured", "not_configured": "not configured", "invalid": "INVALID"}


def _render_rows(rows: Iterable[IntegrationStatus]) -> list[str]:
    rows = list(rows)
    width = max(len(f"{r.display_name} ({r.name})") for r in rows)
    out: list[str] = []
    for r in rows:
        title = f"{r.display_name} ({r.name})".ljust(width)
        out.append(f"  [{_MARK[r.status]}] {title}  {_LABEL[r.status]}")
        out += [f"         {k}={v}" for k, v in r.values.items()]
        out += [f"         problem: {reason}" for reason in r.reasons]
        if r.how_to_configure:
            out.append(f"         {r.how_to_configure}")
    return out


def check_config(loader: Callable[..., Settings] = load_settings) -> ConfigReport:
    """Load the settings (collecting every problem) and check every integration."""
    settings, problems = load_settings_collecting(loader)
    if settings is None:
        env_file = Path(str(Settings.model_config.get("env_file") or ".env")).resolve()
        return ConfigReport(env_file, problems, {}, [])
    return check_settings(settings, problems)


def check_settings(settings: Settings, problems: Sequence[Problem] = ()) -> ConfigReport:
    """Check already loaded settings (`chegou-hub run` logs what this finds at start)."""
    problems = list(problems)
    env_file = Path(str(Settings.model_config.get("env_file") or ".env")).resolve()
    bad: dict[str, list[Problem]] = {}
    for p in problems:
        bad.setdefault(p.field, []).append(p)

    core = {env_name(f): _display_field(settings, f) for f in CORE_FIELDS if f not in bad}
    for f in CORE_FIELDS:
        if f in bad:
            core[env_name(f)] = "INVALID"

    registered, notes = _registered()
    problems = problems + [Problem("", n) for n in notes]
    # A settings-only service is listed unless a registered integration claims its settings.
    claimed = {field for integ in registered for field in (integ.name, *integ.settings_fields)}
    unclaimed = [
        svc
        for svc in SETTINGS_ONLY_SERVICES
        if svc.name not in claimed and not claimed.intersection(svc.credentials)
    ]
    sources: list[Integration | SettingsOnlyService] = [*registered, *unclaimed]
    statuses = [
        _status_for(
            name=source.name,
            display_name=source.display_name,
            fields=source.settings_fields,
            is_configured=source.is_configured,
            config_errors=source.config_errors,
            how_to_configure=source.how_to_configure,
            settings=settings,
            bad=bad,
            settings_only=isinstance(source, SettingsOnlyService),
        )
        for source in sources
    ]
    # Problems already shown under an integration are not repeated in the general list.
    shown = {f for s in statuses for f in _fields_of(s, registered)}
    general = [p for p in problems if p.field not in shown]
    return ConfigReport(env_file, general, core, statuses)


def _fields_of(status: IntegrationStatus, registered: Sequence[Integration]) -> tuple[str, ...]:
    for integ in registered:
        if integ.name == status.name and not status.settings_only:
            return integ.settings_fields
    for svc in SETTINGS_ONLY_SERVICES:
        if svc.name == status.name and status.settings_only:
            return svc.settings_fields
    return ()
