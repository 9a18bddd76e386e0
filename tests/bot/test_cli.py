"""Acceptance: the CLI works with no configuration, fails cleanly on bad configuration, and
importing it (and building its parser, which imports every area's cli.py) stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import render_health_table

HEAVY_MODULES = ("matplotlib", "googleapiclient", "anthropic", "slack_bolt")


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "chegou-hub"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def _clean_env(**extra: str) -> dict[str, str]:
    keep = {
        k: os.environ[k]
        for k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "PYTHONPATH")
        if k in os.environ
    }
    return {**keep, **extra}


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_cli(), *args],
        cwd=cwd,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_config_check_and_db_upgrade_work_without_configuration(tmp_path: Path) -> None:
    help_ = _run(tmp_path, "--help")
    assert help_.returncode == 0, help_.stderr
    for command in ("config", "db", "health", "run"):
        assert command in help_.stdout

    check = _run(tmp_path, "config", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "not configured" in check.stdout

    upgrade = _run(tmp_path, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "database up to date" in upgrade.stdout
    assert (tmp_path / "chegou_hub.db").is_file()  # the default SQLite file in the cwd

    current = _run(tmp_path, "db", "current")
    assert current.returncode == 0, current.stdout + current.stderr

    health = _run(tmp_path, "health", "--json")
    assert health.returncode == 0, health.stderr
    assert json.loads(health.stdout)["status"] == "pass"
    table = _run(tmp_path, "health")
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("overall: pass")


def test_bad_configuration_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = {"SHOPIFY_STORES": "{'loja1': 1}", "OPENAI_BASE_URL": "openai"}
    for args in (("config", "check"), ("db", "upgrade"), ("run",)):
        result = _run(tmp_path, *args, **bad)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        assert "SHOPIFY_STORES: not valid JSON" in result.stderr
        assert "OPENAI_BASE_URL: not a valid http(s) URL" in result.stderr
    assert not (tmp_path / "chegou_hub.db").exists()  # nothing ran


def test_dotenv_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DROPI_API_TOKEN=CANARYdropi-token-0001\n", encoding="utf-8")
    result = _run(tmp_path, "config", "check", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    dropi = next(i for i in data["integrations"] if i["name"] == "dropi")
    assert dropi["status"] == "configured"
    assert "CANARYdropi-token-0001" not in result.stdout
    assert data["env_file_found"] is True


@pytest.mark.parametrize("build_parser", [False, True])
def test_importing_the_cli_does_not_import_heavy_libraries(build_parser: bool) -> None:
    code = "import bot.cli\n"
    if build_parser:
        code += "bot.cli.build_parser()\n"
    code += (
        "import sys, json\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout) == []


def test_the_hygiene_check_can_fail() -> None:
    """The same probe reports a heavy module when one is imported."""
    code = (
        "import bot.cli, slack_bolt, sys, json\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'slack_bolt')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "slack_bolt" in json.loads(result.stdout)


def test_health_table_renders_the_health_json() -> None:
    data = {
        "status": "fail",
        "generated_at": "2026-11-29T12:00:00+00:00",
        "integrations": {
            "shopify": {
                "name": "shopify",
                "status": "fail",
                "reasons": ["5 consecutive failures"],
                "stats": {
                    "calls": 40,
                    "success_rate": 0.875,
                    "p50_ms": 120.4,
                    "p95_ms": 900.0,
                    "p99_ms": 12000.0,
                    "consecutive_failures": 5,
                    "last_error_category": "server",
                    "last_error_at": "2026-11-29T11:59:00+00:00",
                },
            },
            "dropi": {"name": "dropi", "status": "not_configured", "stats": None},
        },
    }
    table = render_health_table(data).splitlines()
    assert table[0].startswith("overall: fail")
    assert table[1].split()[:3] == ["INTEGRATION", "STATUS", "CALLS"]
    shopify = next(line for line in table if line.startswith("shopify"))
    assert shopify.split()[:9] == [
        "shopify",
        "fail",
        "40",
        "87.5%",
        "120",
        "900",
        "12000",
        "5",
        "server",
    ]
    assert next(line for line in table if line.startswith("dropi")).split()[1] == "not_configured"
    assert "  shopify: 5 consecutive failures" in table


def test_a_group_without_action_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    with pytest.raises(SystemExit) as info:
        main(["db"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: chegou-hub db")
    assert "upgrade" in out
    assert main([]) == 0
    assert capsys.readouterr().out.startswith("usage: chegou-hub [-h]")


def test_unreachable_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'hub.db'}"
    for args in (("db", "upgrade"), ("run", "--port", "1")):
        result = _run(tmp_path, *args, DATABASE_URL=url)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "database unreachable (OperationalError: unable to open database file)" in (
            result.stderr
        )
