"""`answer()` end to end against the Claude simulator and a recording Slack client."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.assistant import NOT_CONFIGURED_TEXT, REFUSAL_TEXT, answer
from bot.assistant.models import AssistantConversation, AssistantRequest, AssistantUsage
from bot.clock import FakeClock
from bot.db import session_scope
from bot.hub import Hub
from integrations.claude.sandbox import ClaudeSimulator, Reply
from integrations.runtime.harness import SimulatorServer
from integrations.runtime.tools import Tool, ToolContext
from tests.bot.assistant.conftest import (
    AssistantHubFactory,
    FakeSlack,
    make_hub,
    mention,
    request_text,
    tool_results,
)


def _cite_first_guide(body: dict[str, Any]) -> Reply:
    """A model that answers from the search_docs result it was given, citing the guide."""
    result = tool_results(body)[0]["content"]
    assert "<tool_result_data" in result
    guide = result.split('"guide": "', 1)[1].split('"', 1)[0]
    return Reply.text(f"Primeiro o cartão, depois o clique em Confirmar.\n\nFonte: guia *{guide}*")


def _requests(hub: Hub) -> list[AssistantRequest]:
    with session_scope(hub.engine) as session:
        return list(session.exec(select(AssistantRequest)).all())


def test_mention_tool_call_answer_citing_a_guide(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(
        Reply.tool("search_docs", {"query": "como funciona a confirmação de ações"}),
        _cite_first_guide,
    )
    answer(ahub, fake_slack, mention("como funcionam as confirmações?"))

    assert "Fonte: guia *Confirmações*" in fake_slack.reply_text()
    # The model got the best sections in full, not only snippets.
    assert "uma vez só" in tool_results(sim.requests[1])[0]["content"]
    assert fake_slack.statuses()[:2] == ["pensando…", "procurando nos guias…"]
    start = fake_slack.of("chat.startStream")[0]
    assert start["thread_ts"] == "1700000000.000100" and start["recipient_user_id"] == "UOPER"
    stop = fake_slack.of("chat.stopStream")[-1]
    buttons = [e["action_id"] for b in stop["blocks"] for e in b["elements"]]
    assert buttons == ["assistant_feedback_up", "assistant_feedback_down"]
    # The model saw the tools with a cache breakpoint on the last one and on the system prompt.
    first = sim.requests[0]
    assert first["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
    # Per-request context is in the messages, never in the cached system prompt.
    assert "<contexto_da_pergunta>" in first["messages"][-1]["content"][0]["text"]
    assert "contexto_da_pergunta>\n" not in first["system"][0]["text"]
    [req] = _requests(ahub)
    assert (req.status, req.stop_reason, req.rounds, req.tool_calls) == (
        "answered",
        "end_turn",
        2,
        1,
    )


def test_follow_up_keeps_context_and_survives_a_restart(
    tmp_path: Path,
    claude_sim: tuple[ClaudeSimulator, SimulatorServer],
    fake_clock: FakeClock,
    fake_slack: FakeSlack,
) -> None:
    sim, server = claude_sim
    hub = make_hub(tmp_path, server.base_url, fake_clock)
    sim.script(Reply.tool("search_docs", {"query": "limite de perguntas"}), Reply.text("São 20."))
    answer(hub, fake_slack, mention("qual o limite de perguntas?"))
    hub.close()

    restarted = make_hub(tmp_path, server.base_url, fake_clock)  # same database, new process
    sim.script(Reply.text("Em 10 minutos."))
    answer(
        restarted,
        fake_slack,
        mention("e em quanto tempo?", ts="1700000001.000200", thread_ts="1700000000.000100"),
    )
    follow_up = sim.requests[-1]["messages"]
    roles = [m["role"] for m in follow_up]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert "qual o limite de perguntas?" in request_text(follow_up[0])
    assert follow_up[1]["content"][0]["type"] == "tool_use"  # tool calls are kept
    assert follow_up[2]["content"][0]["type"] == "tool_result"
    assert follow_up[3]["content"][0]["text"] == "São 20."
    # Each thread is its own conversation.
    sim.script(Reply.text("Oi."))
    answer(restarted, fake_slack, mention("outra conversa", ts="1700000099.000100"))
    assert len(sim.requests[-1]["messages"]) == 1
    with session_scope(restarted.engine) as session:
        assert len(session.exec(select(AssistantConversation)).all()) == 2
    restarted.close()


def test_tool_calls_of_one_turn_run_in_parallel(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    barrier = threading.Barrier(3, timeout=10)

    def waits_for_the_others(_ctx: ToolContext, args: dict[str, Any]) -> Any:
        barrier.wait()  # breaks (error) unless all three calls run at the same time
        return {"loja": args["loja"], "duplicados": 0}

    tool = Tool(
        name="shopify_duplicates",
        description="Duplicados de uma loja",
        input_schema={"type": "object", "properties": {"loja": {"type": "string"}}},
        run=waits_for_the_others,
        status_text="consultando a Shopify…",
    )
    monkeypatch.setattr("bot.assistant.builtin_tools.discover_tools", lambda hub: [tool])
    sim.script(
        Reply.tools([("shopify_duplicates", {"loja": loja}) for loja in ("br", "mx", "es")]),
        Reply.text("Nenhum duplicado nas três lojas."),
    )
    answer(ahub, fake_slack, mention("tem duplicado nas lojas?"))
    results = tool_results(sim.requests[1])
    assert len(results) == 3
    assert not any(r.get("is_error") for r in results)
    assert "consultando a Shopify…" in fake_slack.statuses()
    assert fake_slack.reply_text() == "Nenhum duplicado nas três lojas."


def test_pause_turn_resends_and_continues(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(Reply.pause("Consultando os guias "), Reply.text(" e pronto."))
    answer(ahub, fake_slack, mention("pergunta longa"))
    second = sim.requests[1]["messages"]
    assert second[-1]["role"] == "assistant"
    assert [b["text"] for b in second[-1]["content"]] == ["Consultando os guias"]
    assert fake_slack.reply_text() == "Consultando os guias  e pronto."


def test_max_tokens_continues_once_then_says_it_was_cut(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(
        Reply.text("Primeira parte", stop_reason="max_tokens"),
        Reply.text(" segunda parte", stop_reason="max_tokens"),
    )
    answer(ahub, fake_slack, mention("explique tudo"))
    assert sim.requests[1]["messages"][-1]["content"][-1]["text"] == "Primeira parte"
    text = fake_slack.reply_text()
    assert text.startswith("Primeira parte segunda parte")
    assert "cortada" in text
    assert _requests(ahub)[0].status == "cut"


def test_max_tokens_continuation_finishes_the_answer(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(Reply.text("Começo", stop_reason="max_tokens"), Reply.text(" e fim."))
    answer(ahub, fake_slack, mention("explique"))
    assert fake_slack.reply_text() == "Começo e fim."
    assert _requests(ahub)[0].status == "answered"


def test_refusal_is_polite_and_not_kept(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(Reply.refusal(), Reply.text("Claro."))
    answer(ahub, fake_slack, mention("algo proibido"))
    assert fake_slack.reply_text() == REFUSAL_TEXT
    follow_up = mention("outra coisa", ts="1700000002.000100", thread_ts="1700000000.000100")
    answer(ahub, fake_slack, follow_up)
    assert len(sim.requests[-1]["messages"]) == 1  # the refused turn is not in the history


def test_context_window_exceeded_suggests_a_new_thread(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(Reply.context_exceeded("Resumo parcial"))
    answer(ahub, fake_slack, mention("mais uma"))
    assert "Resumo parcial" in fake_slack.reply_text()
    assert "conversa nova" in fake_slack.reply_text()


def test_stop_sequence_is_a_finished_answer(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(Reply.text("Até aqui.", stop_reason="stop_sequence"))
    answer(ahub, fake_slack, mention("oi"))
    assert fake_slack.reply_text() == "Até aqui."


def test_rounds_are_bounded(
    make_ahub: AssistantHubFactory,
    sim: ClaudeSimulator,
    fake_slack: FakeSlack,
) -> None:
    hub = make_ahub(assistant_max_rounds=2)
    sim.script(*[Reply.tool("health", {}) for _ in range(3)])
    answer(hub, fake_slack, mention("loop infinito"))
    assert len(sim.requests) == 2 and sim.pending == 1
    assert "etapas demais" in fake_slack.reply_text()
    # The stored conversation stays valid for the next question.
    sim.reset()
    sim.script(Reply.text("ok"))
    answer(
        hub, fake_slack, mention("e agora?", ts="1700000003.000100", thread_ts="1700000000.000100")
    )
    assert sim.requests[-1]["messages"][-2]["role"] == "assistant"


def test_rate_limited_by_claude_is_retried_after_retry_after(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack, fake_clock: FakeClock
) -> None:
    sim.script(Reply.rate_limited(retry_after=7), Reply.overloaded(), Reply.text("Respondi."))
    answer(ahub, fake_slack, mention("oi"))
    assert fake_slack.reply_text() == "Respondi."
    assert fake_clock.slept[:1] == [7.0]
    calls = [r for r in ahub.runtime.records if r.integration == "claude"]
    assert [r.category for r in calls] == ["rate_limit", "server", None]


def test_persistent_overload_gives_an_error_reply_with_reference(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(*[Reply.overloaded() for _ in range(5)])
    answer(ahub, fake_slack, mention("oi"))
    text = fake_slack.reply_text()
    assert "sobrecarregado" in text and "referência" in text
    [req] = _requests(ahub)
    assert req.status == "failed" and req.error_category == "server"
    assert req.ref_id in text
    assert "Traceback" not in text


def test_error_mid_stream_is_retried_only_before_text_reached_the_user(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(
        Reply.tool("health", {}, text="Vou verificar."),
        Reply.overloaded(mid_stream=True),  # nothing shown yet in this round: retried
        Reply.overloaded(mid_stream=True, text="Tudo certo com a"),  # text shown: not retried
        Reply.text("nunca pedido"),
    )
    answer(ahub, fake_slack, mention("status?"))
    assert len(sim.requests) == 3 and sim.pending == 1
    text = fake_slack.reply_text()
    assert text.startswith("Vou verificar.\n\nTudo certo com a")
    assert "sobrecarregado" in text and "referência" in text
    assert fake_slack.of("chat.stopStream")  # the streamed message was closed properly


def test_unexpected_crash_still_replies(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(hub: Hub) -> list[Tool]:
        raise RuntimeError("bug")

    monkeypatch.setattr("bot.assistant.builtin_tools.discover_tools", boom)
    answer(ahub, fake_slack, mention("oi"))
    assert "Algo deu errado" in fake_slack.reply_text()
    assert "bug" not in fake_slack.reply_text()


def test_stream_expiry_falls_back_to_chat_update(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    long_text = "Linha da resposta longa. " * 40
    sim.script(Reply.text(long_text.strip()))
    fake_slack.expire_after_appends = 1
    answer(ahub, fake_slack, mention("resposta longa"))
    update = fake_slack.of("chat.update")[-1]
    assert update["text"] == long_text.strip()
    assert update["blocks"][0] == {"type": "markdown", "text": long_text.strip()}
    assert update["blocks"][-1]["block_id"] == "assistant_feedback"


def test_a_refused_stream_stop_still_delivers_the_answer(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    fake_slack.stop_error = "invalid_blocks"
    sim.script(Reply.text("Resposta completa."))
    answer(ahub, fake_slack, mention("oi"))
    update = fake_slack.of("chat.update")[-1]
    assert update["text"] == "Resposta completa."
    assert update["blocks"][-1]["block_id"] == "assistant_feedback"


def test_without_streaming_the_reply_is_posted(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    fake_slack.streaming_supported = False
    sim.script(Reply.text("Resposta."))
    answer(ahub, fake_slack, mention("oi"))
    post = fake_slack.of("chat.postMessage")[-1]
    assert post["text"] == "Resposta." and post["thread_ts"] == "1700000000.000100"


def test_not_configured(tmp_path: Path, fake_clock: FakeClock, fake_slack: FakeSlack) -> None:
    hub = make_hub(tmp_path, "http://127.0.0.1:9", fake_clock, anthropic_api_key=None)
    answer(hub, fake_slack, mention("oi"))
    assert fake_slack.reply_text() == NOT_CONFIGURED_TEXT
    hub.close()


def test_per_user_rate_limit(
    make_ahub: AssistantHubFactory,
    sim: ClaudeSimulator,
    fake_clock: FakeClock,
    fake_slack: FakeSlack,
) -> None:
    hub = make_ahub(
        assistant_rate_limit_count=3,
        assistant_rate_limit_window_seconds=600,
    )
    sim.script(*[Reply.text("ok") for _ in range(5)])
    for i in range(3):
        answer(hub, fake_slack, mention(f"pergunta {i}", ts=f"17000000{i:02d}.000100"))
        fake_clock.advance(60)
    answer(hub, fake_slack, mention("a quarta", ts="1700000099.000100"))
    assert len(sim.requests) == 3
    text = fake_slack.reply_text()
    assert "limite é 3" in text and "7 min" in text
    # Another user is not affected.
    answer(hub, fake_slack, mention("de outra pessoa", user="UOUTRO", ts="1700000100.000100"))
    assert len(sim.requests) == 4
    # When the oldest question leaves the window, the user may ask again.
    fake_clock.advance(timedelta(minutes=7).total_seconds())
    answer(hub, fake_slack, mention("agora pode", ts="1700000200.000100"))
    assert len(sim.requests) == 5


def test_input_length_cap(
    make_ahub: AssistantHubFactory,
    sim: ClaudeSimulator,
    fake_slack: FakeSlack,
) -> None:
    hub = make_ahub(assistant_max_input_chars=100)
    answer(hub, fake_slack, mention("x" * 101))
    assert sim.requests == []
    assert "101 caracteres" in fake_slack.reply_text() and "100" in fake_slack.reply_text()
    assert [r.status for r in _requests(hub)] == ["too_long"]


def test_usage_recorded_per_user_and_thread_with_cache(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(Reply.tool("search_docs", {"query": "custos"}), Reply.text("Veja o guia."))
    answer(ahub, fake_slack, mention("custos?"))
    with session_scope(ahub.engine) as session:
        rows = session.exec(select(AssistantUsage).order_by(AssistantUsage.id)).all()  # type: ignore[arg-type]
    assert len(rows) == 2
    assert {(r.user_id, r.channel_id, r.thread_ts) for r in rows} == {
        ("UOPER", "CGERAL", "1700000000.000100")
    }
    reported = [r["usage"] for r in sim.responses]
    assert [
        (
            r.input_tokens,
            r.cache_creation_input_tokens,
            r.cache_read_input_tokens,
            r.output_tokens,
        )
        for r in rows
    ] == [
        (
            u["input_tokens"],
            u["cache_creation_input_tokens"],
            u["cache_read_input_tokens"],
            u["output_tokens"],
        )
        for u in reported
    ]
    assert rows[0].model == ahub.settings.assistant_model
    # Handed to the AI spend area, priced there (Sonnet list price via the costs price table).
    assert all(r.cost_usd is not None and r.cost_usd > 0 for r in rows)


def test_second_round_reads_the_first_from_cache(
    make_ahub: AssistantHubFactory,
    sim: ClaudeSimulator,
    fake_slack: FakeSlack,
) -> None:
    hub = make_ahub(assistant_model="claude-sonnet-5-5")
    sim.script(Reply.tool("search_docs", {"query": "custos"}), Reply.text("Veja o guia."))
    answer(hub, fake_slack, mention("custos?"))
    first, second = (r["usage"] for r in sim.responses)
    assert first["cache_creation_input_tokens"] > 1024  # tools + system prompt + question
    assert first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["input_tokens"] == 0  # everything new is written for the next round


def test_guides_read_are_named_when_the_model_forgets_to_cite(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    sim.script(
        Reply.tool("search_docs", {"query": "quem pode confirmar"}),
        Reply.text("Quem pediu, ou um administrador."),
    )
    answer(ahub, fake_slack, mention("quem confirma ações?"))
    # Every guide the search returned is named (the corpus grows with each area's guides).
    text = fake_slack.reply_text()
    assert text.startswith("Quem pediu, ou um administrador.\n\n_Guias consultados: *Confirmações*")
    assert text.endswith("._")
    # A cited answer gets no extra line.
    sim.script(
        Reply.tool("search_docs", {"query": "quem pode confirmar"}),
        Reply.text("Quem pediu. Fonte: guia *Confirmações*"),
    )
    answer(ahub, fake_slack, mention("de novo", ts="1700000500.000100"))
    assert "Guias consultados" not in fake_slack.reply_text()


def test_a_rejected_continuation_keeps_the_partial_answer(
    ahub: Hub, sim: ClaudeSimulator, fake_slack: FakeSlack
) -> None:
    prefill_rejected = Reply(
        error_status=400,
        error_type="invalid_request_error",
        error_message="This model does not support assistant message prefill.",
    )
    sim.script(Reply.text("Metade da resposta", stop_reason="max_tokens"), prefill_rejected)
    answer(ahub, fake_slack, mention("explique"))
    text = fake_slack.reply_text()
    assert text.startswith("Metade da resposta") and "cortada" in text
    assert _requests(ahub)[0].status == "cut"


def test_refused_key_is_answered_per_category_and_logged_without_traceback(
    ahub: Hub,
    sim: ClaudeSimulator,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim.api_key = "sk-ant-another-key"
    with caplog.at_level(logging.INFO, logger="bot.assistant"):
        answer(ahub, fake_slack, mention("oi"))
    text = fake_slack.reply_text()
    assert "Claude (assistente) recusou as credenciais configuradas" in text
    [req] = _requests(ahub)
    assert req.status == "failed" and req.error_category == "auth" and req.ref_id in text
    [record] = [r for r in caplog.records if "assistant failed" in r.getMessage()]
    assert record.levelno == logging.WARNING and not record.exc_info
