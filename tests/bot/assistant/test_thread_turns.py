"""`answer()` with two messages in one Slack thread: one turn at a time, across instances.

An "instance" is a Hub on the shared engine (SQLite and, with TEST_DATABASE_URL, PostgreSQL),
with its own Slack client; the Claude simulator plays the model. Waiting runs on a fake clock
whose `sleep` can be held shut, so a test can catch the second message while it waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.assistant import BUSY_TEXT, answer, ratelimit
from bot.assistant.lease import ThreadLease
from bot.assistant.models import AssistantConversation, AssistantMessage, AssistantRequest
from bot.clock import FakeClock
from bot.db import session_scope
from bot.hub import Hub
from integrations.claude.sandbox import API_KEY, ClaudeSimulator, Reply
from integrations.runtime.harness import SimulatorServer
from integrations.runtime.tools import Tool, ToolContext
from tests.bot.assistant.conftest import FakeSlack, mention, request_text
from tests.conftest import make_settings

THREAD = "1700000000.000100"
WAIT = 10.0  # real seconds: only a safety net against a hung test


class GatedClock(FakeClock):
    """A fake clock whose `sleep` (the waiting message's poll) says it was called and then
    waits for the gate; open, it behaves like FakeClock (advances at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.sleeping = threading.Event()

    def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        if not self.gate.wait(WAIT):
            raise AssertionError("the gate was never opened")
        super().sleep(seconds)


@pytest.fixture
def fake_clock() -> GatedClock:  # the Claude simulator's clock too (conftest's claude_sim)
    return GatedClock()


MakeHub = Callable[..., Hub]


@pytest.fixture
def make_instance(
    tmp_path: Path,
    db_engine: Engine,
    fake_clock: GatedClock,
    claude_sim: tuple[ClaudeSimulator, SimulatorServer],
) -> Iterator[MakeHub]:
    hubs: list[Hub] = []

    def factory(**overrides: Any) -> Hub:
        values: dict[str, Any] = {
            "anthropic_api_key": API_KEY,
            "anthropic_base_url": claude_sim[1].base_url,
            "hub_operators": ["UOPER"],
        }
        values.update(overrides)
        hubs.append(
            Hub.create(make_settings(tmp_path, **values), engine=db_engine, clock=fake_clock)
        )
        return hubs[-1]

    yield factory
    for hub in hubs:
        hub.close()


def _turns(engine: Engine) -> dict[int, str]:
    """Each stored turn's first message (the question), by turn number."""
    with session_scope(engine) as session:
        rows = session.exec(select(AssistantMessage).order_by(col(AssistantMessage.seq))).all()
    first: dict[int, str] = {}
    for row in rows:
        first.setdefault(row.turn, row.content)
    return first


def _statuses(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        rows = session.exec(select(AssistantRequest).order_by(col(AssistantRequest.id))).all()
    return [r.status for r in rows]


def _lease_row(engine: Engine) -> tuple[str | None, object]:
    with session_scope(engine) as session:
        [row] = session.exec(select(AssistantConversation)).all()
    return row.lease_owner, row.lease_until


def _run(target: Callable[..., None], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("where", ["another instance", "the same instance"])
def test_a_message_sent_while_the_thread_is_busy_is_answered_next_with_the_whole_thread(
    where: str,
    make_instance: MakeHub,
    sim: ClaudeSimulator,
    fake_clock: GatedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inside, finish = threading.Event(), threading.Event()

    def slow_lookup(_ctx: ToolContext, _args: dict[str, Any]) -> Any:
        inside.set()
        assert finish.wait(WAIT)
        return {"pedidos": 12}

    tool = Tool(
        name="slow_lookup",
        description="Uma consulta demorada",
        input_schema={"type": "object", "properties": {}},
        run=slow_lookup,
    )
    monkeypatch.setattr("bot.assistant.builtin_tools.discover_tools", lambda hub: [tool])
    sim.script(
        Reply.tool("slow_lookup", {}),
        Reply.text("Foram 12 pedidos."),
        Reply.text("Ontem foram 9."),
    )
    first_hub = make_instance()
    second_hub = first_hub if where == "the same instance" else make_instance()
    first_slack, second_slack = FakeSlack(), FakeSlack()

    first = _run(answer, first_hub, first_slack, mention("quantos pedidos hoje?", ts=THREAD))
    assert inside.wait(WAIT)  # the first answer is half-way, inside its tool call
    fake_clock.gate.clear()
    fake_clock.sleeping.clear()
    follow_up = mention("e ontem?", ts="1700000001.000200", thread_ts=THREAD)
    second = _run(answer, second_hub, second_slack, follow_up)
    assert fake_clock.sleeping.wait(WAIT)  # the second found the thread busy and waits
    assert len(sim.requests) == 1  # … without asking Claude anything
    finish.set()
    first.join(WAIT)
    assert not first.is_alive()
    fake_clock.gate.set()
    second.join(WAIT)
    assert not second.is_alive()

    assert first_slack.reply_text() == "Foram 12 pedidos."
    assert second_slack.reply_text() == "Ontem foram 9."
    # The second question saw the first turn whole: question, tool call, result, answer.
    messages = sim.requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert "quantos pedidos hoje?" in request_text(messages[0])
    assert messages[1]["content"][0]["type"] == "tool_use"
    assert messages[3]["content"][0]["text"] == "Foram 12 pedidos."
    assert "e ontem?" in request_text(messages[4])
    # Stored in order, one turn after the other; the thread is free again.
    turns = _turns(first_hub.engine)
    assert sorted(turns) == [0, 1]
    assert "quantos pedidos hoje?" in turns[0] and "e ontem?" in turns[1]
    assert _statuses(first_hub.engine) == ["answered", "answered"]
    assert _lease_row(first_hub.engine) == (None, None)
    assert fake_clock.slept and sum(fake_clock.slept) < 120


def test_a_message_that_waits_too_long_is_asked_to_be_sent_again(
    make_instance: MakeHub,
    sim: ClaudeSimulator,
    fake_clock: GatedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = make_instance(assistant_thread_wait_seconds=30)
    slack = FakeSlack()
    # Another instance is answering in this thread (its lease is live for 120 s).
    elsewhere = ThreadLease(hub.engine, fake_clock, "CGERAL", THREAD, "turn-elsewhere", 120)
    assert elsewhere.try_claim()

    start = fake_clock.monotonic()
    with caplog.at_level(logging.INFO, logger="bot.assistant"):
        answer(hub, slack, mention("e ontem?", ts="1700000001.000200", thread_ts=THREAD))

    assert fake_clock.monotonic() - start == 30
    assert sim.requests == []
    [busy] = _requests(hub)
    assert busy.status == "busy"
    text = slack.reply_text()
    assert text == BUSY_TEXT.format(ref=busy.ref_id)
    assert "Ainda estou respondendo à mensagem anterior" in text and "de novo" in text
    post = slack.of("chat.postMessage")[-1]
    assert post["thread_ts"] == THREAD and "blocks" not in post
    [record] = [r for r in caplog.records if "assistant thread busy" in r.getMessage()]
    assert busy.ref_id in record.getMessage()
    assert record.levelno == logging.WARNING and not record.exc_info
    assert "Traceback" not in text
    # Turned away, so not counted against the person's limit.
    assert ratelimit.check(hub, "UOPER").used == 0
    assert _lease_row(hub.engine)[0] == "turn-elsewhere"  # the other turn's lease untouched

    # Sent again once the other answer is done: answered.
    elsewhere.release()
    sim.script(Reply.text("Ontem foram 9."))
    answer(hub, slack, mention("e ontem?", ts="1700000002.000300", thread_ts=THREAD))
    assert slack.reply_text() == "Ontem foram 9."


def test_a_thread_left_busy_by_a_crashed_instance_is_answered_after_the_lease_expires(
    make_instance: MakeHub, sim: ClaudeSimulator, fake_clock: GatedClock
) -> None:
    hub = make_instance(assistant_thread_wait_seconds=150)
    dead = ThreadLease(hub.engine, fake_clock, "CGERAL", THREAD, "turn-dead", 120)
    assert dead.try_claim()  # and its instance died without releasing
    sim.script(Reply.text("Respondido."))
    slack = FakeSlack()
    start = fake_clock.monotonic()
    answer(hub, slack, mention("oi de novo", ts="1700000001.000200", thread_ts=THREAD))
    assert slack.reply_text() == "Respondido."
    assert 120 < fake_clock.monotonic() - start <= 122
    assert _statuses(hub.engine) == ["answered"]
    assert _lease_row(hub.engine) == (None, None)


def _requests(hub: Hub) -> list[AssistantRequest]:
    with session_scope(hub.engine) as session:
        return list(session.exec(select(AssistantRequest)).all())
