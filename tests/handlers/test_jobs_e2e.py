"""Jobs and alerts through the real Bolt app and the Slack simulator: a failing job's alert
lands in the alerts channel, the Home tab and `/hub alerts` show it, a viewer may not touch
jobs, an operator re-runs the dead letter from Slack and the recovery is posted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.sandbox.slack_sim import BOT_USER_ID, SlackSimulator
from jobs.registry import JOBS, JobContext, JobOutcome, JobSpec
from jobs.scheduler import HubScheduler
from tests.conftest import make_settings
from tests.e2e.fixtures import OPERATOR, VIEWER, SlackFactory

ALERTS, SHOP = "C0ALERTS01", "C0SHOPIFY1"


class Flaky:
    broken = True

    def __call__(self, ctx: JobContext) -> JobOutcome:
        if self.broken:
            raise ConnectionError("loja1 não respondeu")
        ctx.post("shopify", f"Pedidos duplicados de {ctx.slot}: nenhum")
        return JobOutcome(items=1)


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Flaky:
    job = Flaky()
    monkeypatch.setitem(
        JOBS,
        "shopify.duplicates",
        JobSpec("shopify.duplicates", job, "normal", {"hour": 8, "minute": 0}, None, "Duplicados"),
    )
    return job


@pytest.fixture
def jobs_hub(tmp_path: Path, sqlite_engine: Engine, flaky: Flaky) -> Iterator[Hub]:
    settings = make_settings(
        tmp_path,
        hub_operators=[OPERATOR],
        hub_channel_alerts=ALERTS,
        hub_channel_shopify=SHOP,
        jobs_retry_attempts=2,
        jobs_retry_base_seconds=30,
    )
    clock = FakeClock(datetime(2026, 11, 3, 10, 59, tzinfo=UTC))
    hub = Hub.create(settings, engine=sqlite_engine, clock=clock)  # notifier: the app's
    yield hub
    hub.close()


def _bot_texts(sim: SlackSimulator, channel: str) -> list[str]:
    return [m.text for m in sim.messages(channel) if m.user == BOT_USER_ID]


def test_dead_letter_alert_and_retry_from_slack(
    slack: SlackFactory, slack_sim: SlackSimulator, jobs_hub: Hub, flaky: Flaky
) -> None:
    driver = slack(jobs_hub)
    scheduler = HubScheduler(jobs_hub, specs={"shopify.duplicates": JOBS["shopify.duplicates"]})
    scheduler.start(background=False)
    clock = jobs_hub.clock
    assert isinstance(clock, FakeClock)
    try:
        scheduler.tick()
        for seconds in (60, 30):  # 08:00 local, then the retry 30 s later
            clock.advance(seconds)
            for future in scheduler.tick().values():
                future.result(timeout=30)
    finally:
        scheduler.shutdown()

    [alert] = _bot_texts(slack_sim, ALERTS)
    assert "shopify.duplicates falhou 2 vezes (2026-11-03)" in alert
    assert "/hub jobs retry 1" in alert

    driver.open_home(user=VIEWER)
    assert "shopify.duplicates falhou 2 vezes" in json.dumps(
        slack_sim.views[VIEWER], ensure_ascii=False
    )
    driver.command("alerts", user=VIEWER)
    assert "🔴 *Job shopify.duplicates falhou 2 vezes" in driver.ephemerals(VIEWER)[-1].text

    driver.command("jobs retry 1", user=VIEWER)
    assert "operador" in driver.ephemerals(VIEWER)[-1].text  # refused: viewers can't
    assert flaky.broken

    flaky.broken = False
    driver.command("jobs retry 1", user=OPERATOR)
    assert driver.ephemerals(OPERATOR)[-1].text.startswith("✅ Falha #1 reprocessada")
    assert _bot_texts(slack_sim, SHOP) == ["Pedidos duplicados de 2026-11-03: nenhum"]
    assert _bot_texts(slack_sim, ALERTS)[-1].startswith("✅ Normalizado")

    driver.command("alertas", user=VIEWER)
    assert driver.ephemerals(VIEWER)[-1].text == "✅ Nenhum alerta aberto."
    driver.command("jobs", user=OPERATOR)
    listing = driver.ephemerals(OPERATOR)[-1].text
    assert "shopify.duplicates" in listing and "última: ✅ ok" in listing
