"""The operator documentation keeps up with Settings: every variable documented, examples valid."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.config_check import check_config
from bot.settings import Settings, load_settings
from integrations.runtime import registry
from tests.conftest import REPO_ROOT

ENV_EXAMPLE = REPO_ROOT / ".env.example"
README = REPO_ROOT / "README.md"
EXAMPLE_LINE = re.compile(r"^# ?([A-Z][A-Z0-9_]*=.*)$")


def _variables() -> list[str]:
    return [name.upper() for name in Settings.model_fields]


def test_every_setting_is_in_env_example() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    missing = [v for v in _variables() if v not in documented]
    assert missing == [], f"add these to .env.example (with a comment): {missing}"


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [v for v in _variables() if f"`{v}`" not in text]
    assert missing == [], f"add these to README.md's configuration section: {missing}"


@pytest.fixture
def no_registered_integrations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_loaded", True)


def test_env_example_as_is_is_a_valid_configuration(
    tmp_path: Path, no_registered_integrations: None
) -> None:
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    report = check_config()
    assert report.exit_code == 0, report.problem_lines()


def test_every_example_value_is_valid_when_uncommented(
    tmp_path: Path, no_registered_integrations: None
) -> None:
    """Uncommenting any example line must give a value the hub accepts."""
    lines = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = EXAMPLE_LINE.match(line)
        lines.append(match.group(1) if match else line)
    (tmp_path / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = check_config()
    assert report.exit_code == 0, report.problem_lines()
    settings = load_settings()
    assert set(settings.shopify_stores) == {"loja1", "es"}
    assert settings.shopify_stores["es"].api_base_url == "http://127.0.0.1:9100"
    assert settings.ai_budgets["openai"].projects["proj_abc123"] == 200
    assert settings.hub_admins == ["U01ADMIN", "U02ADMIN"]
    configured = {i.name for i in report.integrations if i.status == "configured"}
    assert {"slack", "openai", "shopify", "primecod", "google_calendar"} <= configured


def test_defaults_shown_in_env_example_are_the_real_defaults() -> None:
    """`# NAME=value` shows the default for every field that has one; keep them in step."""
    stale: list[str] = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = EXAMPLE_LINE.match(line) or re.match(r"^([A-Z][A-Z0-9_]*=.*)$", line)
        if not match:
            continue
        name, _, raw = match.group(1).partition("=")
        field = name.lower()
        info = Settings.model_fields.get(field)
        if info is None:
            continue
        default = info.get_default(call_default_factory=True)
        if default in (None, "", {}, []):
            continue  # the line is an example, not a default
        value = getattr(Settings(_env_file=None, **{field: raw.strip("'\"")}), field)  # type: ignore[call-arg]
        if value != default:
            stale.append(f"{name}: .env.example shows {raw!r}, the default is {default!r}")
    assert stale == []


def test_every_hub_subcommand_has_a_user_guide() -> None:
    from handlers.registry import SUBCOMMANDS, load_handlers

    load_handlers()
    guides = "\n".join(
        p.read_text(encoding="utf-8") for p in (REPO_ROOT / "docs" / "user-guides").glob("*.md")
    )
    names = {spec.name for spec in SUBCOMMANDS.values()}
    missing = sorted(n for n in names if not re.search(rf"/hub {n}\b", guides))
    assert missing == [], f"document these in docs/user-guides/: {missing}"
    readme = README.read_text(encoding="utf-8")
    for name in ("status", "audit", "jobs", "alerts"):
        assert f"`/hub {name}`" in readme
