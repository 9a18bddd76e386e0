"""The daily sync job, the detectors (signals), assistant tools, registry entries and the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.hub import Hub
from bot.settings import Budget
from integrations.ai_costs.report import build_report, parse_period
from integrations.ai_costs.sync import sync
from integrations.runtime.harness import Fault
from integrations.runtime.registry import get
from integrations.runtime.tools import ToolContext
from jobs.costs import CostSyncFailed, cost_budgets, cost_spikes, cost_sync_health, sync_costs
from jobs.registry import DETECTORS, JOBS
from tests.integrations.ai_costs.conftest import CostsHubFactory, Sims

TODAY = date(2026, 11, 2)


@dataclass
class JobCtx:
    hub: Hub
    job_id: str = "costs.sync"
    slot: str = "2026-11-02"
    args: dict[str, Any] = field(default_factory=dict)


def test_job_and_detectors_are_registered() -> None:
    spec = JOBS["costs.sync"]
    assert spec.priority == "low" and spec.cron and not spec.once_per_slot
    assert {"costs.spike", "costs.budget", "costs.sync_health"} <= set(DETECTORS)


def test_sync_job_succeeds_and_raises_on_failure_after_storing_the_rest(
    costs_hub: Hub, sims: Sims
) -> None:
    outcome = sync_costs(JobCtx(costs_hub))  # type: ignore[arg-type]
    assert outcome.items > 0 and "requisições" in outcome.summary
    for money_path in ("/v1/organizations/cost_report", "/v1/organizations/analytics/cost"):
        sims.anthropic_server.faults.add(money_path, Fault(status=500))
    costs_hub.clock.advance(3600)  # type: ignore[attr-defined]
    with pytest.raises(CostSyncFailed, match="anthropic/cost"):
        sync_costs(JobCtx(costs_hub))  # type: ignore[arg-type]


def test_spike_detector_signals_once_with_chart_and_contributors(
    make_costs_hub: CostsHubFactory, fake_clock: FakeClock
) -> None:
    hub = make_costs_hub(ai_spike_min_usd=Decimal(2))
    assert list(cost_spikes(hub)) == []  # nothing synced yet: no verdict
    assert sync(hub).ok
    signals = {s.key: s for s in cost_spikes(hub)}
    spike = signals["costs.spike:anthropic"]
    assert spike.active and spike.route == "costs" and spike.file is not None
    assert spike.file[1].startswith(b"\x89PNG")
    assert spike.details["day"] == "2026-11-01" and spike.details["contributors"]["project"]
    assert "Pico de gasto com IA na Anthropic em 01/11" in spike.title
    # polled again: the spike is not re-signalled
    assert "costs.spike:anthropic" not in {s.key for s in cost_spikes(hub)}
    # next day is normal: the incident is closed
    fake_clock.advance(24 * 3600)
    assert sync(hub).ok
    after = {s.key: s for s in cost_spikes(hub)}
    assert after["costs.spike:anthropic"].active is False


def test_budget_detector_once_per_threshold(make_costs_hub: CostsHubFactory) -> None:
    hub = make_costs_hub(
        ai_budgets={"anthropic": Budget(monthly_usd=Decimal(1))},
    )
    assert sync(hub).ok
    [signal] = list(cost_budgets(hub))
    assert signal.active and signal.key == "costs.budget:anthropic:*:2026-11:100"
    assert signal.severity == "critical" and "atingiu 100 %" in signal.title
    assert list(cost_budgets(hub)) == []


def test_sync_health_detector(costs_hub: Hub, sims: Sims) -> None:
    assert list(cost_sync_health(costs_hub)) == []
    assert sync(costs_hub).ok
    assert all(not s.active for s in cost_sync_health(costs_hub))
    sims.openai_server.faults.add("/v1/organization", Fault(status=503))
    costs_hub.clock.advance(37 * 3600)  # type: ignore[attr-defined]
    sync(costs_hub)
    signals = {s.key: s for s in cost_sync_health(costs_hub)}
    assert signals["costs.sync:openai"].active
    assert not signals["costs.sync:anthropic"].active


def test_assistant_tools(costs_hub: Hub) -> None:
    from integrations.ai_costs.tools import get_tools

    assert sync(costs_hub).ok
    tools = {t.name: t for t in get_tools(costs_hub)}
    assert set(tools) == {"ai_spend", "ai_top_contributors", "ai_budget_status"}
    assert all(t.kind == "read" for t in tools.values())
    ctx = ToolContext(user_id="U1", channel_id="C1", thread_ts=None, propose=lambda k, a: "")
    out = tools["ai_spend"].run(ctx, {"period": "30d", "vendor": "openai", "dimension": "modelo"})
    report = build_report(
        costs_hub, parse_period("30d", TODAY), vendors=["openai"], dimension="model"
    )
    assert out["total_usd"] == f"{report.total:.2f}"
    assert out["breakdown"][0]["name"].startswith("OpenAI · gpt-")
    json.dumps(out)  # JSON-serialisable
    top = tools["ai_top_contributors"].run(ctx, {"period": "7d", "limit": 2})
    assert len(top["projetos"]) == 2 and len(top["chaves"]) == 2
    assert tools["ai_budget_status"].run(ctx, {})["budgets"] == []
    with pytest.raises(ValueError, match="não reconhecido"):
        tools["ai_spend"].run(ctx, {"period": "ontem"})


def test_no_tools_when_not_configured(hub: Hub) -> None:
    from integrations.ai_costs.tools import get_tools

    assert get_tools(hub) == []


def test_registry_entries(costs_hub: Hub) -> None:
    openai = get("openai")
    anthropic = get("anthropic_admin")
    assert openai.is_configured(costs_hub.settings) and anthropic.is_configured(costs_hub.settings)
    assert openai.health_check is not None and openai.health_check(costs_hub).status == "pass"
    assert anthropic.health_check is not None
    assert anthropic.health_check(costs_hub).status == "pass"
    bad = costs_hub.settings.model_copy(
        update={"openai_admin_api_key": type(costs_hub.settings.openai_admin_api_key)("sk-proj-1")}
    )
    assert "chave de projeto" in openai.config_errors(bad)[0]


def test_cli_sync_report_export_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sims: Sims
) -> None:
    from bot.cli import main

    env = {k.upper(): v for k, v in sims.overrides().items()}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    env["AI_COSTS_BACKFILL_DAYS"] = "70"  # the CLI runs on the system clock
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["costs", "sync"]) == 0
    assert "openai/cost" in capsys.readouterr().out
    assert main(["costs", "report", "--days", "7", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert Decimal(doc["total_usd"]) == sum(Decimal(v) for v in doc["by_vendor"].values())
    assert doc["period"]["label"] == "últimos 7 dias"
    out_file = tmp_path / "x.json"
    args = ["costs", "export", "--format", "json", "--from", "2026-10-01", "--to", "2026-10-07"]
    assert main([*args, "-o", str(out_file)]) == 0
    exported = json.loads(out_file.read_text())
    assert exported["period"]["end_inclusive"] == "2026-10-07"
    start, end = date(2026, 10, 1), date(2026, 10, 8)
    assert Decimal(exported["totals"]["cost_usd"]) == sims.openai.total(
        start, end
    ) + sims.anthropic.total(start, end)
    capsys.readouterr()
    assert main(["costs", "validate"]) == 0
    assert "openai: ok" in capsys.readouterr().out
    monkeypatch.setenv("OPENAI_ADMIN_API_KEY", "sk-admin-revoked")
    assert main(["costs", "validate"]) == 1
    assert "openai: invalid" in capsys.readouterr().out


def test_detectors_only_reevaluate_when_the_data_changes(
    costs_hub: Hub, sims: Sims, monkeypatch: pytest.MonkeyPatch
) -> None:
    import integrations.ai_costs.budgets as budgets
    import integrations.ai_costs.spikes as spikes

    calls = {"spike": 0, "budget": 0}
    real_check, real_due = spikes.check_spikes, budgets.due_alerts

    def check(hub: Hub) -> Any:
        calls["spike"] += 1
        return real_check(hub)

    def due(hub: Hub) -> Any:
        calls["budget"] += 1
        return real_due(hub)

    monkeypatch.setattr(spikes, "check_spikes", check)
    monkeypatch.setattr(budgets, "due_alerts", due)
    assert sync(costs_hub).ok
    for _ in range(3):
        list(cost_spikes(costs_hub))
        list(cost_budgets(costs_hub))
    assert calls == {"spike": 1, "budget": 1}
    costs_hub.clock.advance(3600)  # type: ignore[attr-defined]
    assert sync(costs_hub).ok  # new data stored: evaluated again
    list(cost_spikes(costs_hub))
    list(cost_budgets(costs_hub))
    assert calls == {"spike": 2, "budget": 2}
