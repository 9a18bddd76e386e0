"""The FTS5 knowledge base over the guides."""

from __future__ import annotations

import os
from pathlib import Path

from bot.assistant.knowledge import KnowledgeBase, fts_query, split_guide
from tests.conftest import REPO_ROOT


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")


def test_split_guide_uses_title_and_sections_and_ignores_code() -> None:
    sections = split_guide(
        "x.md",
        "# Guia X\n\nIntro.\n\n## Passo um\nTexto 1\n```\n## não é seção\n```\n## Passo dois\nT2\n",
    )
    assert [(s.guide, s.section) for s in sections] == [
        ("Guia X", "Introdução"),
        ("Guia X", "Passo um"),
        ("Guia X", "Passo dois"),
    ]
    assert "## não é seção" in sections[1].body


def test_query_drops_stopwords_and_folds_plurals() -> None:
    assert fts_query("Como eu cancelo os pedidos duplicados?") == (
        '"cancel"* OR "pedido"* OR "duplic"*'
    )
    assert fts_query("o que é?") == ""


def test_accent_insensitive_ranked_search_with_snippets(tmp_path: Path) -> None:
    _write(tmp_path / "user-guides" / "a.md", "# Confirmações\n\n## Prazo\nO cartão expira.\n")
    _write(
        tmp_path / "user-guides" / "b.md",
        "# Custos de IA\n\n## Alertas\nQuando o gasto passa do orçamento, há confirmação por "
        "e-mail.\n",
    )
    kb = KnowledgeBase(tmp_path)
    hits = kb.search("confirmacao")  # no accents in the question
    assert [h.guide for h in hits] == ["Confirmações", "Custos de IA"]  # title match first
    assert hits[1].snippet.count("*confirmação*") == 1
    assert hits[0].path == os.path.join("user-guides", "a.md")
    assert kb.search("orcamento")[0].section == "Alertas"
    assert kb.search("xyzzy") == []


def test_rebuilt_when_a_guide_changes(tmp_path: Path) -> None:
    guide = tmp_path / "g.md"
    _write(guide, "# Guia\n\nFrete grátis.\n")
    kb = KnowledgeBase(tmp_path)
    assert kb.search("frete") and kb.builds == 1
    assert kb.search("frete") and kb.builds == 1  # unchanged: no rebuild
    _write(guide, "# Guia\n\nDevolução em 7 dias.\n")
    os.utime(guide, ns=(1, 1))  # make sure the fingerprint changes even on coarse clocks
    assert kb.search("devolucao") and kb.builds == 2
    assert kb.search("frete") == []
    _write(tmp_path / "novo.md", "# Novo\n\nPedidos duplicados.\n")
    assert kb.search("duplicados")[0].guide == "Novo"


def test_the_real_guides_answer_common_questions() -> None:
    kb = KnowledgeBase(REPO_ROOT / "docs")
    assert kb.search("quem pode confirmar uma ação")[0].guide == "Confirmações"
    assert kb.search("limite de perguntas do assistente")[0].guide == "Assistente (Claude)"
    assert kb.search("a quem perguntar sobre erro com referência")[0].guide.startswith(
        "Visão geral"
    )
