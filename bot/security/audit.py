"""The append-only audit log: who asked for, confirmed, executed or failed which action.

Only `record` writes; nothing in the hub updates or deletes rows. `recent` feeds `/hub audit`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from bot.db import session_scope
from bot.security.models import AuditEntry

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)

EVENTS = (
    "requested",  # a confirmation card was posted
    "refused",  # a click by someone not allowed, or a proposal without the role
    "confirmed",  # the single claim succeeded
    "cancelled",
    "expired",
    "invalid",  # arguments no longer valid at confirm time
    "executed",
    "failed",
)


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor_id: str
    event: str
    kind: str | None
    action_id: str | None
    channel_id: str | None
    detail: dict[str, Any]


def record(
    hub: Hub,
    event: str,
    *,
    actor_id: str,
    kind: str | None = None,
    action_id: str | None = None,
    channel_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    entry = AuditEntry(
        at=hub.clock.now(),
        actor_id=actor_id,
        event=event[:48],
        kind=kind,
        action_id=action_id,
        channel_id=channel_id,
        detail_json=json.dumps(detail or {}, default=str, ensure_ascii=False, sort_keys=True),
    )
    with session_scope(hub.engine) as session:
        session.add(entry)
    log.info(
        "audit event=%s actor=%s kind=%s action=%s", event, actor_id, kind or "-", action_id or "-"
    )


def recent(hub: Hub, *, limit: int = 20, kind: str | None = None) -> list[AuditRecord]:
    with session_scope(hub.engine) as session:
        query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
        if kind:
            query = query.where(col(AuditEntry.kind).startswith(kind))
        rows = session.exec(query).all()
    return [
        AuditRecord(
            r.at, r.actor_id, r.event, r.kind, r.action_id, r.channel_id, json.loads(r.detail_json)
        )
        for r in rows
    ]
