"""`chegou-hub` command line. Importing this module must stay cheap: heavy libraries (matplotlib,
googleapiclient, anthropic, slack_bolt) are imported inside the commands that use them.

Areas add commands in a `cli.py` module of their package (integrations/<svc>/cli.py,
jobs/cli.py) exposing `register(subparsers) -> None`; each sets `func=(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

AREA_PACKAGES = ("integrations", "jobs", "bot")


def _area_cli_modules() -> list[str]:
    names: list[str] = []
    for package_name in AREA_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if info.name.rsplit(".", 1)[-1] == "cli" and info.name != "bot.cli":
                names.append(info.name)
    return sorted(names)


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.db import make_engine, upgrade
    from bot.settings import load_settings

    settings = load_settings()
    upgrade(make_engine(settings.database_url))
    print("banco de dados atualizado")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chegou-hub", description="Chegou Hub: the Slack-first operations hub."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_up = db_sub.add_parser("upgrade", help="apply migrations")
    db_up.set_defaults(func=_cmd_db_upgrade)
    for module_name in _area_cli_modules():
        module = importlib.import_module(module_name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
