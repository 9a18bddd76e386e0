"""`chegou-hub demo`: the whole hub offline — every simulator, the real Slack app, a console.

`DemoSession` starts, in order:
1. the Slack simulator (seeded workspace: #geral, #alertas, #custos-ia, #shopify, #novidades;
   people: ana = admin, otavio = operator, vera = viewer);
2. every `integrations/<svc>/sandbox.py` that defines `demo_setup(env)` (found with pkgutil;
   one that fails is skipped with a warning, the rest of the demo still runs);
3. Settings built from those overrides only (the real environment and `.env` are ignored, so no
   real credential is ever used) plus demo Slack secrets and a temporary SQLite database;
4. the real Bolt app in HTTP mode, reached through signed requests (`SlackDriver`).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.sandbox.environment import DemoEnvironment
from bot.sandbox.slack_sim import SlackSimulator, seed_default_workspace
from bot.settings import Settings

if TYPE_CHECKING:
    from pydantic_settings import PydanticBaseSettingsSource

    from bot.hub import Hub
    from bot.sandbox.driver import SlackDriver

log = logging.getLogger(__name__)

DEMO_BOT_TOKEN = "xoxb-demo-0000000000-offline"
DEMO_SIGNING_SECRET = "demo-signing-secret-not-a-real-one"
DEMO_USERS = {
    "admin": "U0ADMIN001",
    "operador": "U0OPER0001",
    "operator": "U0OPER0001",
    "viewer": "U0VIEW0001",
    "leitura": "U0VIEW0001",
}
DEMO_CHANNELS = {
    "hub_channel_alerts": "C0ALERTS01",
    "hub_channel_costs": "C0COSTS001",
    "hub_channel_shopify": "C0SHOPIFY1",
    "hub_channel_novelties": "C0NOVELTY1",
}


class DemoSettings(Settings):
    """Settings from explicit values only: the demo never reads the environment or `.env`."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[Any],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def discover_sandboxes() -> list[str]:
    import integrations

    return sorted(
        info.name
        for info in pkgutil.walk_packages(integrations.__path__, prefix="integrations.")
        if info.name.rsplit(".", 1)[-1] == "sandbox"
    )


class DemoSession:
    def __init__(self, *, seed: int = 42, output_dir: Path | str = "demo-output") -> None:
        self.seed = seed
        self.output_dir = Path(output_dir)
        self.stack = ExitStack()
        self.env = DemoEnvironment(self.stack, seed=seed)
        self.warnings: list[str] = []
        self.started: list[str] = []
        self.slack = SlackSimulator(bot_token=DEMO_BOT_TOKEN)
        self.hub: Hub
        self.driver: SlackDriver
        self.scheduler: Any = None

    def __enter__(self) -> DemoSession:
        try:
            self._start()
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stack.close()

    def _start(self) -> None:
        from bot.db import make_engine, upgrade
        from bot.hub import Hub
        from bot.sandbox.driver import SlackDriver

        seed_default_workspace(self.slack)
        self.env.add_simulator("slack", self.slack.server())
        overrides: dict[str, Any] = {}
        for module_name in discover_sandboxes():
            try:
                module = importlib.import_module(module_name)
                setup = getattr(module, "demo_setup", None)
                if setup is None:
                    continue
                overrides.update(setup(self.env) or {})
                self.started.append(module_name.split(".")[1])
            except Exception as exc:
                log.exception("demo setup failed module=%s", module_name)
                self.warnings.append(f"{module_name}: {type(exc).__name__}: {exc}")
        tmp = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="chegou-demo-")))
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp / 'demo.db'}",
            "hub_admins": [DEMO_USERS["admin"]],
            "hub_operators": [DEMO_USERS["operador"]],
            "jobs_enabled": False,
            "retry_wait_min_seconds": 0.1,
            "retry_wait_max_seconds": 0.5,
            "hub_docs_dir": str(Path(__file__).resolve().parents[2] / "docs"),
            **DEMO_CHANNELS,
            **overrides,
            "slack_base_url": self.slack.base_url,
            "slack_bot_token": DEMO_BOT_TOKEN,
            "slack_signing_secret": DEMO_SIGNING_SECRET,
            "slack_app_token": None,
        }
        settings = DemoSettings(**values)
        engine = make_engine(settings.database_url)
        upgrade(engine)
        self.hub = Hub.create(settings, engine=engine)
        self.stack.callback(self.hub.close)
        self.driver = SlackDriver.build(self.hub, self.slack, signing_secret=DEMO_SIGNING_SECRET)
        self.stack.callback(self.driver.close)

    def run_job(self, job_id: str) -> str:
        """Run a scheduled job now through `jobs.scheduler` (when the jobs area exists)."""
        try:
            scheduler_module = importlib.import_module("jobs.scheduler")
        except ImportError:
            raise LookupError("o agendador de jobs (jobs.scheduler) ainda não existe") from None
        if self.scheduler is None:
            self.scheduler = scheduler_module.HubScheduler(self.hub)
        result = self.scheduler.run_now(job_id)
        self.driver.wait_idle()
        return "" if result is None else str(result)
