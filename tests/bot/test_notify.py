from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.notify import SlackNotifier
from bot.sandbox.slack_sim import SlackSimulator, seed_default_workspace
from bot.slack_client import make_web_client
from tests.conftest import make_settings


@pytest.fixture
def sim() -> Iterator[SlackSimulator]:
    simulator = SlackSimulator(bot_token="xoxb-notify")
    seed_default_workspace(simulator)
    with simulator.server():
        yield simulator


def test_slack_notifier_posts_and_uploads(sim: SlackSimulator, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, slack_bot_token="xoxb-notify", slack_base_url=sim.base_url)
    notifier = SlackNotifier(make_web_client(settings))
    ts = notifier.post("C0ALERTS01", "alerta", blocks=[{"type": "divider"}])
    assert ts == sim.messages("C0ALERTS01")[-1].ts
    notifier.post("C0ALERTS01", "no fio", thread_ts=ts)
    assert sim.messages("C0ALERTS01")[-1].thread_ts == ts
    notifier.upload("C0ALERTS01", "g.png", b"png-bytes", title="Gráfico", comment="veja")
    (shared,) = sim.uploads()
    assert (shared.content, shared.title, shared.initial_comment) == (
        b"png-bytes",
        "Gráfico",
        "veja",
    )
