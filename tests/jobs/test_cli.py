from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from jobs.registry import JOBS, JobContext, JobOutcome, JobSpec


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Environment for the CLI (its own database) and a job whose breakage the test controls."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("HUB_CHANNEL_ALERTS", "C_ALERTS")
    monkeypatch.setenv("JOBS_RETRY_ATTEMPTS", "1")
    state = {"broken": True}

    def report(ctx: JobContext) -> JobOutcome:
        if state["broken"]:
            raise RuntimeError("planilha indisponível")
        ctx.post("costs", "relatório pronto")
        return JobOutcome(items=2)

    monkeypatch.setitem(
        JOBS, "t.cli", JobSpec("t.cli", report, "normal", {"hour": 9, "minute": 30})
    )
    return state


def test_list_run_dead_letters_retry(
    state: dict[str, bool], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jobs", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "JOB",
        "PRIORIDADE",
        "PRÓXIMA",
        "ÚLTIMA",
        "RESULTADO",
        "ITENS",
    ]
    assert "alerts.poll" in out
    assert any(line.startswith("t.cli") and "09:30" in line for line in out.splitlines())

    assert main(["jobs", "run", "t.cli"]) == 1  # one attempt allowed: straight to dead letters
    out = capsys.readouterr().out
    assert "resultado=failed" in out
    assert "erro: RuntimeError: planilha indisponível" in out
    assert "na fila de falhas: #1" in out
    assert "[C_ALERTS]" in out  # the dead-letter alert

    assert main(["jobs", "dead-letters"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#1  t.cli  slot=manual-")
    assert "erro=RuntimeError: planilha indisponível" in out

    state["broken"] = False
    assert main(["jobs", "retry", "1"]) == 0
    out = capsys.readouterr().out
    assert "[C_ALERTS] relatório pronto" in out  # costs falls back to the alerts channel
    assert "falha #1: ok" in out
    assert main(["jobs", "dead-letters"]) == 0
    assert capsys.readouterr().out == "nenhuma falha aberta\n"


def test_unknown_job(state: dict[str, bool], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "run", "nada"]) == 2
    assert "job desconhecido: nada" in capsys.readouterr().out
