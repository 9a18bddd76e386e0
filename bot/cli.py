"""`chegou-hub` command line. Importing this module must stay cheap: heavy libraries (matplotlib,
googleapiclient, anthropic, slack_bolt) are imported inside the commands that use them.

Areas add commands in a `cli.py` module of their package (integrations/<svc>/cli.py,
jobs/cli.py) exposing `register(subparsers) -> None`; each sets `func=(args) -> int`.

Exit codes: 0 success, 1 failure, 2 bad usage or invalid configuration (one line per problem,
never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import pkgutil
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings

AREA_PACKAGES = ("integrations", "jobs", "bot")
EXIT_CONFIG = 2

log = logging.getLogger("bot.cli")


def _area_cli_modules() -> list[str]:
    names: list[str] = []
    for package_name in AREA_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if info.name.rsplit(".", 1)[-1] == "cli" and info.name != "bot.cli":
                names.append(info.name)
    return sorted(names)


class ConfigurationError(Exception):
    """Settings could not be loaded; `lines` says why, one problem per line."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


_loaded: dict[str, Settings] = {}


def load_configured_settings() -> Settings:
    """Settings for this invocation (loaded once, logging configured on first load).

    Malformed values raise `ConfigurationError` listing every problem.
    """
    if "settings" in _loaded:
        return _loaded["settings"]
    from bot.config_check import load_settings_collecting

    settings, problems = load_settings_collecting()
    if problems or settings is None:
        raise ConfigurationError([p.message for p in problems] or ["settings could not be loaded"])
    configure_logging(settings)
    _loaded["settings"] = settings
    return settings


def configure_logging(settings: Settings) -> None:
    """Structured key=value logs with secrets scrubbed (bot.logging_setup)."""
    from bot.logging_setup import configure_logging as configure

    configure(settings.log_level)
    # Alembic announces each of its plugins at INFO on every run; migrations stay visible.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


# --- commands ---------------------------------------------------------------------------------


def _cmd_config_check(args: argparse.Namespace) -> int:
    from bot.config_check import check_config

    report = check_config()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.render())
    if not report.ok:
        for line in report.problem_lines():
            print(f"chegou-hub: invalid configuration: {line}", file=sys.stderr)
    return report.exit_code


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.db import current_revisions, make_engine, upgrade

    settings = load_configured_settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        revisions = ", ".join(sorted(current_revisions(engine)))
    finally:
        engine.dispose()
    print(f"database up to date ({revisions})")
    return 0


def _cmd_db_current(args: argparse.Namespace) -> int:
    from bot.db import current_revisions, head_revisions, make_engine

    settings = load_configured_settings()
    engine = make_engine(settings.database_url)
    try:
        current = current_revisions(engine)
    finally:
        engine.dispose()
    heads = head_revisions()
    print(f"current: {', '.join(sorted(current)) or '(empty database)'}")
    print(f"code:    {', '.join(sorted(heads))}")
    if current != heads:
        print("pending migrations: run `chegou-hub db upgrade`")
        return 1
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    from bot.db import make_engine, upgrade
    from bot.hub import Hub
    from integrations.runtime.health import health_report

    settings = load_configured_settings()
    engine = make_engine(settings.database_url)
    # Stats live in the database; a fresh one is created quietly rather than failing.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(engine)
    hub = Hub.create(settings, engine=engine)
    try:
        report = health_report(hub, probe=args.probe)
        data = report.to_dict()
    finally:
        hub.close()
        engine.dispose()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(render_health_table(data))
    return 0 if report.http_status == 200 else 1


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.process import run

    settings = load_configured_settings()
    return run(settings, host=args.host, port=args.port)


# --- health table -----------------------------------------------------------------------------


def _fmt_ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f}"


def _fmt_rate(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.1f}%"


def render_health_table(data: Mapping[str, Any]) -> str:
    """The /health JSON as a fixed-width table (`chegou-hub health`)."""
    integrations = data.get("integrations") or {}
    items = list(integrations.values()) if isinstance(integrations, Mapping) else integrations
    header = (
        "INTEGRATION",
        "STATUS",
        "CALLS",
        "SUCCESS",
        "P50 MS",
        "P95 MS",
        "P99 MS",
        "CONSEC FAIL",
        "LAST ERROR",
    )
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for item in items:
        stats = item.get("stats") or {}
        last_error = "-"
        if stats.get("last_error_category"):
            last_error = f"{stats['last_error_category']} at {stats.get('last_error_at') or '?'}"
        rows.append(
            (
                str(item.get("name", "?")),
                str(item.get("status", "?")),
                str(stats.get("calls", 0)),
                _fmt_rate(stats.get("success_rate")),
                _fmt_ms(stats.get("p50_ms")),
                _fmt_ms(stats.get("p95_ms")),
                _fmt_ms(stats.get("p99_ms")),
                str(stats.get("consecutive_failures", 0)),
                last_error,
            )
        )
        for reason in item.get("reasons") or []:
            notes.append(f"  {item.get('name')}: {reason}")
        probe = item.get("probe")
        if probe and probe.get("detail"):
            notes.append(f"  {item.get('name')}: probe {probe.get('status')}: {probe['detail']}")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"overall: {data.get('status', '?')}  (generated {data.get('generated_at', '?')})"]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if not rows:
        lines.append("(no integrations registered)")
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


# --- parser and entry point -------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chegou-hub")
    except PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"chegou-hub {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chegou-hub",
        description="Chegou Hub: the Slack-first operations hub.",
        epilog="Configuration comes from the environment and .env; see `chegou-hub config check`.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    config = sub.add_parser("config", help="configuration commands")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION")
    check = config_sub.add_parser(
        "check",
        help="list integrations as configured / not configured / invalid (secrets masked)",
        description="Exit 0 when every value present is valid, 2 when something is malformed.",
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(func=_cmd_config_check)

    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_up = db_sub.add_parser("upgrade", help="apply every pending migration (all areas)")
    db_up.set_defaults(func=_cmd_db_upgrade)
    db_cur = db_sub.add_parser(
        "current", help="show the database's revisions; exit 1 if migrations are pending"
    )
    db_cur.set_defaults(func=_cmd_db_current)

    health = sub.add_parser(
        "health",
        help="integration health as a table (exit 1 when an integration fails)",
        description="The same data as GET /health, over the last 24 h of recorded calls.",
    )
    health.add_argument("--json", action="store_true", help="print the /health JSON")
    health.add_argument(
        "--probe", action="store_true", help="also make one cheap live call per integration"
    )
    health.set_defaults(func=_cmd_health)

    run = sub.add_parser(
        "run",
        help="run the hub: migrate, web server, Slack, scheduler (stops on SIGTERM/SIGINT)",
    )
    run.add_argument("--host", help="bind address (default WEB_HOST)")
    run.add_argument("--port", type=int, help="port (default WEB_PORT)")
    run.set_defaults(func=_cmd_run)

    for module_name in _area_cli_modules():
        module = importlib.import_module(module_name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        # A group without its action (`chegou-hub db`) prints that group's help (and exits 0).
        if getattr(args, "command", None):
            parser.parse_args([args.command, "--help"])
        parser.print_help()
        return 0
    _loaded.clear()
    try:
        if args.command != "config":
            load_configured_settings()  # validate and configure logging before any command
        return int(func(args) or 0)
    except ConfigurationError as exc:
        for line in exc.lines:
            print(f"chegou-hub: invalid configuration: {line}", file=sys.stderr)
        print("chegou-hub: run `chegou-hub config check` for details", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.process import database_error

        reason = database_error(exc)
        if reason is None:
            raise
        print(f"chegou-hub: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
