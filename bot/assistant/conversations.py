"""Conversations: one per Slack thread, stored in the database with tool calls and results.

A turn is one question and everything the model and the tools said to answer it; it is stored
in one transaction when it ends, so a restart never leaves half a turn (a tool call without its
result) in the history. The model sees the turns from `first_turn` on; when their estimated size
passes `settings.assistant_history_token_budget`, the oldest whole turns are hidden until the
history is down to 60 % of the budget (`first_turn` moves forward and is stored). Trimming in
steps keeps the start of the prompt stable for several turns, so prompt caching keeps working.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.assistant.models import AssistantConversation, AssistantMessage
from bot.db import Session, session_scope

if TYPE_CHECKING:
    from bot.hub import Hub

TRIM_TARGET = 0.6


def estimate_tokens(content: Any) -> int:
    """≈4 characters per token of the message's JSON (the model's tokenizer is not local)."""
    return max(1, len(json.dumps(content, ensure_ascii=False)) // 4)


@dataclass
class StoredTurn:
    turn: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0


@dataclass
class Conversation:
    id: int
    channel_id: str
    thread_ts: str
    first_turn: int
    turns: list[StoredTurn]

    @property
    def next_turn(self) -> int:
        return (self.turns[-1].turn + 1) if self.turns else 0


class ConversationStore:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def load(self, channel_id: str, thread_ts: str, user_id: str) -> Conversation:
        """The thread's conversation, created on first use (safe against a concurrent create)."""
        now = self.hub.clock.now()
        for _ in range(2):
            with session_scope(self.hub.engine) as session:
                row = session.exec(
                    select(AssistantConversation).where(
                        AssistantConversation.channel_id == channel_id,
                        AssistantConversation.thread_ts == thread_ts,
                    )
                ).first()
                if row is None:
                    row = AssistantConversation(
                        channel_id=channel_id,
                        thread_ts=thread_ts,
                        started_by=user_id,
                        first_turn=0,
                        created_at=now,
                        updated_at=now,
                    )
                    session.add(row)
                    try:
                        session.flush()
                    except IntegrityError:
                        session.rollback()
                        continue
                assert row.id is not None
                messages = session.exec(
                    select(AssistantMessage)
                    .where(AssistantMessage.conversation_id == row.id)
                    .order_by(col(AssistantMessage.seq))
                ).all()
                turns: dict[int, StoredTurn] = {}
                for m in messages:
                    turn = turns.setdefault(m.turn, StoredTurn(m.turn))
                    turn.messages.append({"role": m.role, "content": json.loads(m.content)})
                    turn.tokens += m.tokens
                return Conversation(
                    row.id, channel_id, thread_ts, row.first_turn, list(turns.values())
                )
        raise RuntimeError("could not create the conversation")  # pragma: no cover

    def history(self, conversation: Conversation, reserve_tokens: int = 0) -> list[dict[str, Any]]:
        """The messages the model sees, trimmed to the budget (leaving room for the question)."""
        budget = self.hub.settings.assistant_history_token_budget - reserve_tokens
        visible = [t for t in conversation.turns if t.turn >= conversation.first_turn]
        total = sum(t.tokens for t in visible)
        if total > budget:
            target = max(0, int(budget * TRIM_TARGET))
            while visible and total > target:
                total -= visible.pop(0).tokens
            first = visible[0].turn if visible else conversation.next_turn
            self._set_first_turn(conversation, first)
        return [m for t in visible for m in t.messages]

    def _set_first_turn(self, conversation: Conversation, first: int) -> None:
        conversation.first_turn = first
        with session_scope(self.hub.engine) as session:
            row = session.get(AssistantConversation, conversation.id)
            if row is not None:
                row.first_turn = first
                row.updated_at = self.hub.clock.now()
                session.add(row)

    def save_turn(
        self,
        conversation: Conversation,
        messages: list[dict[str, Any]],
        *,
        extra_rows: Sequence[Any] = (),
        finalize: Callable[[Session], None] | None = None,
    ) -> None:
        """Store one finished turn (all its messages) atomically, with the turn's other rows
        (usage) and bookkeeping (`finalize`) in the same transaction: one commit per turn."""
        now = self.hub.clock.now()
        with session_scope(self.hub.engine) as session:
            last_seq = session.exec(
                select(func.max(AssistantMessage.seq)).where(
                    AssistantMessage.conversation_id == conversation.id
                )
            ).one()
            last_turn = session.exec(
                select(func.max(AssistantMessage.turn)).where(
                    AssistantMessage.conversation_id == conversation.id
                )
            ).one()
            seq = -1 if last_seq is None else int(last_seq)
            turn = 0 if last_turn is None else int(last_turn) + 1
            stored = StoredTurn(turn)
            for message in messages:
                seq += 1
                tokens = estimate_tokens(message["content"])
                session.add(
                    AssistantMessage(
                        conversation_id=conversation.id,
                        seq=seq,
                        turn=turn,
                        role=message["role"],
                        content=json.dumps(message["content"], ensure_ascii=False),
                        tokens=tokens,
                        created_at=now,
                    )
                )
                stored.messages.append(message)
                stored.tokens += tokens
            row = session.get(AssistantConversation, conversation.id)
            if row is not None:
                row.updated_at = now
                session.add(row)
            for extra in extra_rows:
                session.add(extra)
            if finalize is not None:
                finalize(session)
        if stored.messages:
            conversation.turns.append(stored)


def prune_conversations(hub: Hub, before: datetime) -> int:
    """Delete the conversations idle since before `before`, with their messages.

    A later reply in such a thread starts a new conversation. A conversation whose thread is
    being answered right now (an unexpired lease, `bot.assistant.lease`) is kept: its turn is
    about to be stored. Messages are deleted explicitly rather than through the foreign key's
    cascade, which SQLite only honours when enabled.
    """
    now = hub.clock.now()
    is_idle = and_(
        col(AssistantConversation.updated_at) < before,
        or_(
            col(AssistantConversation.lease_owner).is_(None),
            col(AssistantConversation.lease_until) < now,
        ),
    )
    with session_scope(hub.engine) as session:
        idle = select(AssistantConversation.id).where(is_idle)
        session.execute(
            delete(AssistantMessage).where(col(AssistantMessage.conversation_id).in_(idle))
        )
        result = session.execute(delete(AssistantConversation).where(is_idle))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
