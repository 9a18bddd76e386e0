"""Conversation storage and trimming to the history budget."""

from __future__ import annotations

from pathlib import Path

from bot.assistant.conversations import ConversationStore, estimate_tokens
from bot.clock import FakeClock
from bot.db import make_engine, upgrade
from bot.hub import Hub
from tests.conftest import make_settings


def _hub(tmp_path: Path, budget: int) -> Hub:
    settings = make_settings(tmp_path, assistant_history_token_budget=budget)
    engine = make_engine(settings.database_url)
    upgrade(engine)
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


def test_turns_are_stored_and_reloaded_in_order(tmp_path: Path) -> None:
    hub = _hub(tmp_path, 100_000)
    store = ConversationStore(hub)
    conv = store.load("C1", "1.0", "U1")
    for i in range(3):
        store.save_turn(conv, _turn(i))
    again = ConversationStore(hub).load("C1", "1.0", "U2")
    assert again.id == conv.id
    assert [t.turn for t in again.turns] == [0, 1, 2]
    assert ConversationStore(hub).history(again) == [m for i in range(3) for m in _turn(i)]
    hub.close()


def test_trimming_drops_whole_old_turns_in_steps_and_remembers(tmp_path: Path) -> None:
    per_turn = sum(estimate_tokens(m["content"]) for m in _turn(0))
    budget = per_turn * 4 + 10
    hub = _hub(tmp_path, budget)
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
