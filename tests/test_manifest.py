"""manifest.yml is valid against Slack's schema and matches what the app actually uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import REPO_ROOT, SHARED_DIR

_SPEC = Path("specs") / "slack" / "manifest.schema.1.0.0.json"
SCHEMA = SHARED_DIR / _SPEC


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_validates_against_slack_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(manifest, schema, cls=jsonschema.Draft7Validator)


def test_schema_check_is_not_vacuous(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(manifest))
    broken["features"]["agent_view"]["suggested_prompts"] *= 2  # 8 > maxItems 4
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_manifest_has_what_the_app_needs(manifest: dict[str, Any]) -> None:
    from handlers.home import SUGGESTED_PROMPTS

    features, settings = manifest["features"], manifest["settings"]
    assert features["app_home"]["home_tab_enabled"] and features["app_home"]["messages_tab_enabled"]
    (command,) = features["slash_commands"]
    assert command["command"] == "/hub" and command["usage_hint"]
    assert features["agent_view"]["suggested_prompts"] == SUGGESTED_PROMPTS
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "app_mention",
        "message.im",
    }
    assert settings["interactivity"]["is_enabled"] and settings["socket_mode_enabled"]
    assert "assistant_view" not in features  # legacy surface


def test_only_needed_bot_scopes(manifest: dict[str, Any]) -> None:
    """Each scope is justified by a Web API method the code calls or an event it handles."""
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for d in ("bot", "handlers")
        for p in (REPO_ROOT / d).rglob("*.py")
        if "sandbox" not in p.parts
    )
    evidence = {
        "app_mentions:read": r'event\("app_mention"\)',
        "chat:write": r"chat_postMessage\(",
        "commands": r"\.command\(",
        "files:write": r"files_upload_v2\(",
        "im:history": r'event\("message"\)',
        "usergroups:read": r"usergroups_users_list\(",
    }
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert sorted(scopes) == sorted(evidence)
    for scope in scopes:
        assert re.search(evidence[scope], code), f"nothing in the code needs {scope}"
