"""The assistant end to end through Slack: signed events into the real Bolt app (the Slack
helper's driver and Web API simulator), Claude answered by the Anthropic simulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlmodel import select

from bot.assistant.models import AssistantFeedback
from bot.clock import FakeClock
from bot.db import session_scope
from bot.hub import Hub
from bot.sandbox.driver import SlackDriver
from bot.sandbox.slack_sim import SimMessage, SlackSimulator
from bot.security.confirmations import (
    ACTIONS,
    ActionSpec,
    ExecutionContext,
    ExecutionResult,
    register_action,
)
from bot.security.roles import Role
from integrations.claude.sandbox import ClaudeSimulator, Reply
from integrations.runtime.harness import SimulatorServer
from integrations.runtime.tools import Tool, ToolContext
from tests.bot.assistant.conftest import make_hub, tool_results
from tests.e2e.fixtures import ADMIN, OPERATOR

CHANNEL = "C0GENERAL1"


@pytest.fixture
def e2e_hub(
    tmp_path: Path, claude_sim: tuple[ClaudeSimulator, SimulatorServer], fake_clock: FakeClock
) -> Iterator[Hub]:
    hub = make_hub(
        tmp_path,
        claude_sim[1].base_url,
        fake_clock,
        hub_admins=[ADMIN],
        hub_operators=[OPERATOR],
        assistant_rate_limit_count=2,
    )
    yield hub
    hub.close()


@pytest.fixture
def driver(slack: Callable[..., SlackDriver], e2e_hub: Hub) -> SlackDriver:
    return slack(e2e_hub)


def _thread(driver: SlackDriver, thread_ts: str) -> list[SimMessage]:
    return [m for m in driver.messages(CHANNEL) if m.thread_ts == thread_ts and m.user != OPERATOR]


def _bot_replies(driver: SlackDriver, thread_ts: str) -> list[SimMessage]:
    return [m for m in _thread(driver, thread_ts) if m.bot_id]


def _mention(driver: SlackDriver, text: str, **kw: Any) -> str:
    driver.mention(text, user=kw.pop("user", OPERATOR), channel=CHANNEL, **kw)
    question = [m for m in driver.messages(CHANNEL) if not m.bot_id][-1]
    return question.thread_ts or question.ts


def _cite(body: dict[str, Any]) -> Reply:
    content = tool_results(body)[0]["content"]
    guide = content.split('"guide": "', 1)[1].split('"', 1)[0]
    return Reply.text(f"O cartão vale 15 minutos.\n\nFonte: guia *{guide}*")


def test_mention_tool_call_answer_in_thread_citing_a_guide_then_follow_up(
    driver: SlackDriver, sim: ClaudeSimulator, slack_sim: SlackSimulator
) -> None:
    sim.script(Reply.tool("search_docs", {"query": "prazo da confirmação"}), _cite)
    thread = _mention(driver, "quanto tempo vale um cartão de confirmação?")
    [reply] = _bot_replies(driver, thread)
    assert "Fonte: guia *Confirmações*" in reply.text
    assert not reply.streaming
    statuses = [s["status"] for s in slack_sim.statuses if s["thread_ts"] == thread]
    assert statuses[:2] == ["pensando…", "procurando nos guias…"]
    assert [c.method for c in driver.calls() if c.method.startswith("chat.")][:1] == [
        "chat.startStream"
    ]
    # 👍 / 👎 under the answer; the click is recorded.
    driver.click("👍 Ajudou", user=OPERATOR, message=reply)
    with session_scope(driver.hub.engine) as session:
        [vote] = session.exec(select(AssistantFeedback)).all()
    assert (vote.user_id, vote.value, vote.message_ts) == (OPERATOR, "up", reply.ts)
    assert "ajudou" in driver.ephemerals(OPERATOR)[-1].text

    # A follow-up in the thread needs the earlier context.
    sim.script(Reply.text("Depois disso, peça a ação de novo."))
    driver.mention("e depois que expira?", user=OPERATOR, channel=CHANNEL, thread_ts=thread)
    sent = sim.requests[-1]["messages"]
    assert "quanto tempo vale um cartão" in str(sent[0])
    assert any(b.get("type") == "tool_use" for m in sent for b in m["content"])
    assert _bot_replies(driver, thread)[-1].text == "Depois disso, peça a ação de novo."


def test_dm_is_its_own_thread(driver: SlackDriver, sim: ClaudeSimulator) -> None:
    sim.script(Reply.text("Oi! Em que posso ajudar?"))
    driver.dm("oi", user=OPERATOR)
    dm_channel = driver.sim.im_channel(OPERATOR)
    bot = [m for m in driver.messages(dm_channel) if m.bot_id]
    assert bot[-1].text == "Oi! Em que posso ajudar?"
    assert "mensagem direta" in str(sim.requests[-1]["messages"][-1])


def test_parallel_tools_through_slack(
    driver: SlackDriver, sim: ClaudeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    barrier = threading.Barrier(2, timeout=10)

    def both(_ctx: ToolContext, args: dict[str, Any]) -> Any:
        barrier.wait()
        return {"vendor": args["vendor"], "usd": "12.50"}

    tool = Tool(
        "ai_spend",
        "Gasto com IA",
        {"type": "object", "properties": {"vendor": {"type": "string"}}},
        both,
        status_text="consultando os custos de IA…",
    )
    monkeypatch.setattr("bot.assistant.builtin_tools.discover_tools", lambda hub: [tool])
    sim.script(
        Reply.tools([("ai_spend", {"vendor": "openai"}), ("ai_spend", {"vendor": "anthropic"})]),
        Reply.text("OpenAI: US$ 12,50; Anthropic: US$ 12,50."),
    )
    thread = _mention(driver, "quanto gastamos com IA?")
    assert not any(r.get("is_error") for r in tool_results(sim.requests[1]))
    assert _bot_replies(driver, thread)[-1].text == "OpenAI: US$ 12,50; Anthropic: US$ 12,50."


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([Reply.text("Resposta.", stop_reason="stop_sequence")], "Resposta."),
        ([Reply.pause("Parte um"), Reply.text(" e dois.")], "Parte um e dois."),
        (
            [
                Reply.text("Muito longo", stop_reason="max_tokens"),
                Reply.text(" mesmo", stop_reason="max_tokens"),
            ],
            "cortada",
        ),
        ([Reply.refusal()], "não posso ajudar"),
        ([Reply.context_exceeded()], "conversa nova"),
    ],
    ids=["stop_sequence", "pause_turn", "max_tokens", "refusal", "context_window"],
)
def test_each_stop_reason_through_slack(
    driver: SlackDriver, sim: ClaudeSimulator, replies: list[Reply], expected: str
) -> None:
    sim.script(*replies)
    thread = _mention(driver, "pergunta")
    assert expected in _bot_replies(driver, thread)[-1].text


def test_proposal_card_nothing_executed_until_confirmed(
    driver: SlackDriver, sim: ClaudeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    executed: list[dict[str, Any]] = []

    def execute(hub: Hub, ctx: ExecutionContext, args: dict[str, Any]) -> ExecutionResult:
        executed.append({"args": args, "by": ctx.confirmer_id})
        return ExecutionResult(text="Pedido 1001 cancelado.")

    register_action(
        ActionSpec(
            kind="e2e.cancel",
            min_role=Role.OPERATOR,
            validate=lambda hub, args: {"order": str(args["order"])},
            describe=lambda hub, args: f"Cancelar o pedido {args['order']}",
            execute=execute,
            title="Cancelar pedido",
        )
    )
    tool = Tool(
        "cancel_order",
        "Propõe cancelar um pedido",
        {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
        lambda ctx, args: ctx.propose("e2e.cancel", {"order": args["order"]}),
        kind="proposal",
    )
    monkeypatch.setattr("bot.assistant.builtin_tools.discover_tools", lambda hub: [tool])
    try:
        sim.script(
            Reply.tool("cancel_order", {"order": "1001"}),
            Reply.text("Publiquei o cartão; confirme para cancelar."),
        )
        thread = _mention(driver, "cancela o pedido 1001")
        card = next(
            m
            for m in _bot_replies(driver, thread)
            if m.blocks and "Cancelar o pedido" in str(m.blocks)
        )
        assert executed == []  # a card, nothing else
        first = driver.click("Confirmar", user=OPERATOR, message=card)
        assert executed == [{"args": {"order": "1001"}, "by": OPERATOR}]
        # The same click delivered again (double click / replay) executes nothing more.
        driver.send(
            urlencode({"payload": json.dumps(first.payload)}), "application/x-www-form-urlencoded"
        )
        driver.wait_idle()
        assert len(executed) == 1
    finally:
        ACTIONS.pop("e2e.cancel", None)


def test_rate_limit_through_slack(driver: SlackDriver, sim: ClaudeSimulator) -> None:
    sim.script(Reply.text("um"), Reply.text("dois"), Reply.text("três"))
    _mention(driver, "primeira")
    _mention(driver, "segunda")
    thread = _mention(driver, "terceira")
    assert "o limite é 2" in _bot_replies(driver, thread)[-1].text
    assert sim.pending == 1


def test_stream_expiry_falls_back_to_chat_update(
    driver: SlackDriver, sim: ClaudeSimulator, slack_sim: SlackSimulator
) -> None:
    slack_sim.stream_ttl = -1.0  # every stream is already expired after it starts
    text = "Parágrafo da resposta. " * 30
    sim.script(Reply.text(text.strip()))
    thread = _mention(driver, "resposta longa")
    [reply] = _bot_replies(driver, thread)
    assert reply.text == text.strip()
    assert reply.edited == 1 and driver.calls("chat.update")
    assert reply.blocks is not None and reply.blocks[-1]["block_id"] == "assistant_feedback"


def test_error_reply_through_slack(driver: SlackDriver, sim: ClaudeSimulator) -> None:
    sim.script(*[Reply.overloaded() for _ in range(5)])
    thread = _mention(driver, "oi")
    text = _bot_replies(driver, thread)[-1].text
    assert "sobrecarregado" in text and "referência" in text
