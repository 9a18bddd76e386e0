"""`/hub custos` end to end: signed slash commands through the real Bolt app and the Slack
simulator, with the OpenAI and Anthropic admin simulators behind the hub."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.ai_costs.report import build_report, money, parse_period
from tests.e2e.fixtures import ADMIN, OPERATOR, VIEWER, SlackFactory
from tests.integrations.ai_costs.conftest import Sims, make_hub
from tests.integrations.ai_costs.conftest import sims as sims

CHANNEL = "C0COSTS001"


@pytest.fixture
def costs_hub(
    tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock, sims: Sims
) -> Iterator[Hub]:
    hub = make_hub(
        tmp_path, sqlite_engine, fake_clock, sims, hub_admins=[ADMIN], hub_operators=[OPERATOR]
    )
    yield hub
    hub.close()


def _text(message: object) -> str:
    blocks = getattr(message, "blocks", None) or []
    parts = [getattr(message, "text", "")]
    for b in blocks:
        if "text" in b and isinstance(b["text"], dict):
            parts.append(b["text"]["text"])
        parts += [e.get("text", "") for e in b.get("elements", []) if isinstance(e, dict)]
    return "\n".join(parts)


def test_custos_posts_the_report_and_the_chart(slack: SlackFactory, costs_hub: Hub) -> None:
    driver = slack(costs_hub)
    sent = driver.command("custos 30d todos projeto", user=VIEWER, channel=CHANNEL)
    assert sent.status == 200
    [post] = [m for m in driver.messages(CHANNEL) if "Gastos com IA" in m.text]
    body = _text(post)
    report = build_report(costs_hub, parse_period("30d", costs_hub.clock.now().date()))
    assert money(report.total) in body
    assert "OpenAI" in body and "Anthropic" in body and "previsão de fechamento" in body
    [chart] = [f for f in driver.uploads() if f.filename.endswith(".png")]
    assert chart.content is not None and chart.content.startswith(b"\x89PNG")
    assert chart.channel == CHANNEL and chart.thread_ts == post.ts


def test_custos_bad_arguments_get_a_portuguese_usage_message(
    slack: SlackFactory, costs_hub: Hub
) -> None:
    driver = slack(costs_hub)
    driver.command("custos semana-que-vem", user=VIEWER, channel=CHANNEL)
    text = driver.ephemerals(VIEWER)[-1].text
    assert "não reconhecido" in text and "/hub custos" in text
    assert not [m for m in driver.messages(CHANNEL) if "Gastos com IA" in m.text]


def test_exportar_uploads_a_csv_with_the_report_total(slack: SlackFactory, costs_hub: Hub) -> None:
    driver = slack(costs_hub)
    driver.command("custos exportar csv 2026-10-01..2026-10-31", user=VIEWER, channel=CHANNEL)
    [upload] = [f for f in driver.uploads() if f.filename.endswith(".csv")]
    assert upload.content is not None and upload.channel == CHANNEL
    rows = list(csv.DictReader(io.StringIO(upload.content.decode())))
    total = sum((Decimal(r["cost_usd"]) for r in rows if r["source"] == "cost"), Decimal(0))
    report = build_report(
        costs_hub, parse_period("2026-10-01..2026-10-31", costs_hub.clock.now().date())
    )
    assert total == report.total > 0


def test_validar_tells_a_wrong_key_type_apart(
    slack: SlackFactory, tmp_path: Path, sqlite_engine: Engine, fake_clock: FakeClock, sims: Sims
) -> None:
    hub = make_hub(
        tmp_path, sqlite_engine, fake_clock, sims, openai_admin_api_key=SecretStr("sk-proj-zzz")
    )
    driver = slack(hub)
    driver.command("custos validar", user=VIEWER, channel=CHANNEL)
    text = driver.ephemerals(VIEWER)[-1].text
    assert "OpenAI:* a chave não tem permissão para ler custos" in text
    assert "Anthropic:* chave Admin válida" in text
    assert "sk-proj-zzz" not in text
    hub.close()


def test_sincronizar_is_for_operators(slack: SlackFactory, costs_hub: Hub) -> None:
    driver = slack(costs_hub)
    driver.command("custos sincronizar", user=VIEWER, channel=CHANNEL)
    assert "Só operadores" in driver.ephemerals(VIEWER)[-1].text
    driver.command("custos sincronizar", user=OPERATOR, channel=CHANNEL)
    text = driver.ephemerals(OPERATOR)[-1].text
    assert "Sincronização de custos de IA" in text and "OpenAI (custos)" in text
    assert "falhou" not in text
