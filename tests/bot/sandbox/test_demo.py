"""`chegou-hub demo`: the shipped tour runs offline and exits 0; failing steps exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.hub import Hub
from bot.sandbox.console import Console
from bot.sandbox.demo import DemoSession
from bot.security import confirmations
from bot.security.confirmations import ActionSpec, ExecutionContext, ExecutionResult
from bot.security.roles import Role
from handlers import registry
from handlers.registry import CommandContext, Subcommand
from tests.conftest import REPO_ROOT

TOUR = REPO_ROOT / "bot" / "sandbox" / "tour"


def test_tour_runs_offline_and_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--script", str(TOUR), "--output-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "=== 00_basics.hub ===" in out
    assert "Tour concluído sem falhas." in out


def test_failed_expectation_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "bad.hub"
    script.write_text("/hub help\n!expect texto que não existe\n!nao-existe\n", encoding="utf-8")
    code = main(["demo", "--script", str(script), "--output-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "bad.hub:2: !expect texto que não existe" in out
    assert "bad.hub:3: !nao-existe" in out
    assert "2 passo(s) falharam" in out


@pytest.fixture
def demo_action(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    ran: list[int] = []

    def execute(hub: Hub, ctx: ExecutionContext, args: dict[str, Any]) -> ExecutionResult:
        ran.append(args["n"])
        return ExecutionResult(text=f"Feito: {args['n']} itens.")

    monkeypatch.setitem(
        confirmations.ACTIONS,
        "demo.op",
        ActionSpec(
            "demo.op",
            Role.OPERATOR,
            lambda hub, a: {"n": int(a["n"])},
            lambda hub, a: f"Processar {a['n']} itens.",
            execute,
            title="Confirmar processamento",
        ),
    )

    def propose(ctx: CommandContext) -> None:
        from bot.charts import bar_chart

        ctx.upload("itens.png", bar_chart("Itens", ["a", "b"], [1, 2]), title="Itens")
        ctx.propose("demo.op", {"n": ctx.args[0]})

    monkeypatch.setitem(
        registry.SUBCOMMANDS, "processar", Subcommand("processar", propose, "/hub processar N", "x")
    )
    return ran


def test_console_numbers_buttons_saves_files_and_injects_faults(
    tmp_path: Path, demo_action: list[int]
) -> None:
    lines: list[str] = []
    with DemoSession(output_dir=tmp_path / "out") as session:
        console = Console(session, write=lines.append)
        steps = [
            "!as operador",
            "/hub processar 3",
            "!expect [1] Confirmar",
            "!expect [2] Cancelar",
            "!expect 📎 arquivo em #geral: Itens",
            "!as viewer",
            "!click 1",
            "!expect Só @otavio (quem pediu) ou um administrador",
            "!as operador",
            "!click 1",
            "!expect (editada)",
            "!expect Feito: 3 itens.",
            "!fault slack /api/chat.postMessage 503 1",
            "/hub processar 4",
            "!expect Algo deu errado ao executar `/hub processar`",
            "!expect REF-",
            "!clear-faults",
            "!fault nenhum / 503",
        ]
        results = [console.run_line(step, where=str(i)) for i, step in enumerate(steps, 1)]
    assert results == [True] * (len(steps) - 1) + [False], "\n".join(lines)
    assert demo_action == [3]
    saved = sorted((tmp_path / "out").glob("*-itens.png"))
    assert len(saved) == 2  # one per /hub processar
    assert all(png.read_bytes().startswith(b"\x89PNG") for png in saved)
    assert "simulador desconhecido: nenhum (disponíveis: " in console.failures[-1]


def test_job_step_runs_through_the_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    ran: list[str] = []

    class FakeScheduler:
        def __init__(self, hub: Hub) -> None:
            self.hub = hub

        def run_now(self, job_id: str) -> str:
            ran.append(job_id)
            assert self.hub.notifier is not None
            self.hub.notifier.post("C0ALERTS01", f"Relatório do job {job_id}")
            return f"{job_id}: ok"

    fake = types.ModuleType("jobs.scheduler")
    fake.HubScheduler = FakeScheduler  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "jobs.scheduler", fake)
    lines: list[str] = []
    with DemoSession(output_dir=tmp_path) as session:
        console = Console(session, write=lines.append)
        assert console.run_line("!job relatorio.diario")
        assert console.run_line("!expect [#alertas] Chegou Hub:")
        assert console.run_line("!expect Relatório do job relatorio.diario")
        assert console.run_line("!expect relatorio.diario: ok")
        assert not console.run_line("!job")
    assert ran == ["relatorio.diario"]
