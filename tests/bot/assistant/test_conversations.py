"""Conversation storage and trimming to the history budget."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from bot.assistant.conversations import ConversationStore, estimate_tokens
from bot.clock import FakeClock
from bot.hub import Hub
from tests.conftest import make_settings


def _hub(tmp_path: Path, budget: int, engine: Engine) -> Hub:
    """A hub on `engine` (SQLite and, with TEST_DATABASE_URL, PostgreSQL)."""
    settings = make_settings(tmp_path, assistant_history_token_budget=budget)
    return Hub.create(settings, engine=engine, clock=FakeClock())


def _turn(i: int) -> list[dict[str, object]]:
    return [
        {"role": "user", "content": [{"type": "text", "text": f"pergunta {i} " + "x" * 200}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": f"t{i}", "name": "health", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": f"resposta {i}"}]},
    ]


def test_turns_are_stored_and_reloaded_in_order(tmp_path: Path, db_engine: Engine) -> None:
    hub = _hub(tmp_path, 100_000, db_engine)
    store = ConversationStore(hub)
    conv = store.load("C1", "1.0", "U1")
    for i in range(3):
        store.save_turn(conv, _turn(i))
    again = ConversationStore(hub).load("C1", "1.0", "U2")
    assert again.id == conv.id
    assert [t.turn for t in again.turns] == [0, 1, 2]
    assert ConversationStore(hub).history(again) == [m for i in range(3) for m in _turn(i)]
    hub.close()


def test_trimming_drops_whole_old_turns_in_steps_and_remembers(
    tmp_path: Path, db_engine: Engine
) -> None:
    per_turn = sum(estimate_tokens(m["content"]) for m in _turn(0))
    budget = per_turn * 4 + 10
    hub = _hub(tmp_path, budget, db_engine)
    store = ConversationStore(hub)
    conv = store.load("C1", "1.0", "U1")
    for i in range(4):
        store.save_turn(conv, _turn(i))
    assert len(store.history(conv)) == 16  # fits: nothing trimmed
    store.save_turn(conv, _turn(4))
    history = store.history(conv)
    # Over budget: trimmed down to 60 % of it, whole turns only, oldest first.
    assert history[0]["content"][0]["text"].startswith("pergunta 3")  # type: ignore[index]
    assert len(history) % 4 == 0 and history[0]["role"] == "user"
    assert sum(estimate_tokens(m["content"]) for m in history) <= budget * 0.6
    # The trim point is stored: a restart sees the same (cache-friendly) start.
    reloaded = ConversationStore(hub).load("C1", "1.0", "U1")
    assert reloaded.first_turn == 3
    store.save_turn(reloaded, _turn(5))
    assert ConversationStore(hub).history(reloaded)[0] == history[0]
    hub.close()


def test_rate_limit_window_on_each_database(tmp_path: Path, db_engine: Engine) -> None:
    from bot.assistant import ratelimit
    from bot.assistant.models import AssistantRequest
    from bot.db import session_scope

    hub = Hub.create(
        make_settings(tmp_path, assistant_rate_limit_count=2), engine=db_engine, clock=FakeClock()
    )
    for i, status in enumerate(["answered", "rate_limited", "failed", "too_long"]):
        with session_scope(db_engine) as session:
            session.add(
                AssistantRequest(
                    ref_id=f"r{i}",
                    user_id="U1",
                    channel_id="C",
                    thread_ts="1",
                    status=status,
                    created_at=hub.clock.now(),
                )
            )
        hub.clock.advance(60)  # type: ignore[attr-defined]
    decision = ratelimit.check(hub, "U1")
    assert (decision.allowed, decision.used) == (False, 2)  # rejected ones do not count
    assert decision.retry_after_seconds == 600 - 4 * 60
    hub.clock.advance(decision.retry_after_seconds)  # type: ignore[attr-defined]
    assert ratelimit.check(hub, "U1").allowed
    hub.close()
