"""`chegou-hub demo [--script FILE|DIR]`: the hub offline (imports stay inside the command)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _cmd_demo(args: argparse.Namespace) -> int:
    from bot.logging_setup import configure_logging
    from bot.sandbox.console import main_loop
    from bot.sandbox.demo import DemoSession

    # The console is the demo's output; logs would drown it (--verbose brings them back).
    configure_logging("INFO" if args.verbose else "WARNING")
    script = Path(args.script) if args.script else None
    if script is not None and not script.exists():
        print(f"script não encontrado: {script}")
        return 2
    with DemoSession(seed=args.seed, output_dir=args.output_dir) as session:
        return main_loop(session, script)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the hub offline: simulators, the real Slack app and a console",
        description="Offline demo: every simulator, the real Slack app, and a console where "
        "you type /hub …, @hub … or a DM and click buttons by number.",
    )
    parser.add_argument(
        "--script", metavar="FILE|DIR", help="run .hub lines non-interactively (a dir: *.hub)"
    )
    parser.add_argument("--output-dir", default="demo-output", help="where uploaded files go")
    parser.add_argument("--seed", type=int, default=42, help="seed of the simulators' data")
    parser.add_argument("--verbose", action="store_true", help="show INFO logs")
    parser.set_defaults(func=_cmd_demo)
