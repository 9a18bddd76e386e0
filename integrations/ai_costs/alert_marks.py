"""Persisted marks of alerts already sent (budgets, spikes): each fires once."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.db import session_scope
from integrations.ai_costs.models import AiCostAlertMark

if TYPE_CHECKING:
    from bot.hub import Hub


def claim(hub: Hub, kind: str, scope: str, mark: str) -> bool:
    """Record (kind, scope, mark); True only for the caller that recorded it first."""
    try:
        with session_scope(hub.engine) as session:
            session.add(
                AiCostAlertMark(kind=kind, scope=scope, mark=mark, created_at=hub.clock.now())
            )
    except IntegrityError:
        return False
    return True


def exists(hub: Hub, kind: str, scope: str, mark: str) -> bool:
    with session_scope(hub.engine) as session:
        row = session.exec(
            select(AiCostAlertMark).where(
                AiCostAlertMark.kind == kind,
                AiCostAlertMark.scope == scope,
                AiCostAlertMark.mark == mark,
            )
        ).first()
    return row is not None


def marks(hub: Hub, kind: str, *, since: datetime | None = None) -> list[AiCostAlertMark]:
    with session_scope(hub.engine) as session:
        query = select(AiCostAlertMark).where(AiCostAlertMark.kind == kind)
        if since is not None:
            query = query.where(AiCostAlertMark.created_at >= since)
        return list(session.exec(query))
