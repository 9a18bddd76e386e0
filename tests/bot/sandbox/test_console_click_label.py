"""`!click "<rótulo>"` in the demo console clicks the most recently shown button with that label."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.console import Console
from bot.sandbox.demo import DemoSession
from tests.bot.sandbox.test_demo import demo_action  # noqa: F401 (pytest fixture)


def test_click_by_label_uses_the_newest_button(
    tmp_path: Path,
    demo_action: list[int],  # noqa: F811
) -> None:
    lines: list[str] = []
    with DemoSession(output_dir=tmp_path / "out") as session:
        console = Console(session, write=lines.append)
        steps = [
            "!as operador",
            "/hub processar 3",
            "/hub processar 5",
            "!expect [3] Confirmar",
            '!click "Confirmar"',  # the card for 5, not the older one for 3
            "!expect Feito: 5 itens.",
            # The card for 5 has no buttons any more: "Cancelar" is the one of the card for 3.
            "!click 'Cancelar'",
            "!expect Cancelada por @otavio",
            '!click "Não existe"',
        ]
        results = [console.run_line(step, where=str(i)) for i, step in enumerate(steps, 1)]
    assert results == [True] * (len(steps) - 1) + [False], "\n".join(lines)
    assert demo_action == [5]
    assert "> @otavio clica em [3] Confirmar" in lines
    assert "> @otavio clica em [2] Cancelar" in lines
    assert "nenhum botão 'Não existe' visível foi mostrado" in console.failures[-1]
