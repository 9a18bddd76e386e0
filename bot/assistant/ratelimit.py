"""Per-user rate limit: at most N questions per sliding window, counted in the database.

The log is the `assistant_requests` table itself (one row per accepted question), so the limit
holds across restarts and across several hub instances. Rejected questions (over the limit,
too long, or turned away because the thread stayed busy: the person is asked to send it again)
are recorded too but do not count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import col, select

from bot.assistant.models import AssistantRequest
from bot.db import session_scope

if TYPE_CHECKING:
    from bot.hub import Hub

NOT_COUNTED = ("rate_limited", "too_long", "busy")


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    used: int
    limit: int
    retry_after_seconds: int = 0


def check(hub: Hub, user_id: str) -> RateDecision:
    settings = hub.settings
    limit = settings.assistant_rate_limit_count
    window = timedelta(seconds=settings.assistant_rate_limit_window_seconds)
    now = hub.clock.now()
    since = now - window
    with session_scope(hub.engine) as session:
        used, oldest = session.exec(
            select(func.count(), func.min(AssistantRequest.created_at)).where(
                AssistantRequest.user_id == user_id,
                col(AssistantRequest.created_at) > since,
                col(AssistantRequest.status).not_in(NOT_COUNTED),
            )
        ).one()
        used = int(used or 0)
        if used < limit:
            return RateDecision(True, used, limit)
        # The oldest question in the window leaves it first; the N-th oldest when several do.
        times = session.exec(
            select(AssistantRequest.created_at)
            .where(
                AssistantRequest.user_id == user_id,
                col(AssistantRequest.created_at) > since,
                col(AssistantRequest.status).not_in(NOT_COUNTED),
            )
            .order_by(col(AssistantRequest.created_at))
            .limit(used - limit + 1)
        ).all()
    frees_at = (times[-1] if times else oldest or now) + window
    wait = max(1, math.ceil((frees_at - now).total_seconds()))
    return RateDecision(False, used, limit, wait)


def limit_message(decision: RateDecision, window_seconds: int) -> str:
    minutes = max(1, math.ceil(decision.retry_after_seconds / 60))
    window_min = max(1, round(window_seconds / 60))
    return (
        f"⏳ Você fez {decision.used} perguntas nos últimos {window_min} minutos, o limite é "
        f"{decision.limit}. Tente de novo em cerca de {minutes} min. Enquanto isso, os "
        "comandos `/hub` continuam funcionando (veja `/hub help`)."
    )
