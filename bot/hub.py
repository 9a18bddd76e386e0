"""The process-wide context handed to handlers, jobs and services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.notify import Notifier
    from bot.settings import Settings
    from integrations.runtime.client import Runtime


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    clock: Clock
    runtime: Runtime
    notifier: Notifier | None = None
    # Area services cache themselves here (e.g. one ShopifyService per store).
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        engine: Engine | None = None,
        clock: Clock = SYSTEM_CLOCK,
        notifier: Notifier | None = None,
    ) -> Hub:
        from bot.db import make_engine
        from integrations.runtime.client import Runtime

        engine = engine or make_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            clock=clock,
            runtime=Runtime(settings, engine, clock),
            notifier=notifier,
        )

    def close(self) -> None:
        self.runtime.close()
