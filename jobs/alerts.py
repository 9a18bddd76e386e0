"""The alert engine: detectors give signals, signals open and close incidents.

Every `@detector` in `jobs.registry.DETECTORS` is polled by the critical job `alerts.poll`
(every minute). For each signal:
- active, no open incident for its key  → open one and post it to the signal's route;
- active, incident open                  → keep it open; post a reminder only once
                                           `alert_cooldown_seconds` passed since the last post;
- inactive, incident open                → close it and post a recovery message;
- inactive, nothing open                 → nothing.
One open incident per key is guaranteed by a unique column (`open_key`); reminders and
recoveries are claimed with conditional UPDATEs, so several instances never post twice. A
detector that raises is logged and skipped; the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.db import session_scope
from jobs.models import Incident
from jobs.registry import DETECTORS, JobContext, JobOutcome, Signal, scheduled

if TYPE_CHECKING:
    from bot.hub import Hub

log = logging.getLogger(__name__)

Action = Literal["opened", "reminded", "closed", "unchanged"]
SEVERITY_EMOJI = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
SEVERITY_PT = {"critical": "crítico", "warning": "aviso", "info": "informativo"}


@dataclass
class PollResult:
    signals: int = 0
    actions: dict[str, Action] = field(default_factory=dict)
    failed_detectors: list[str] = field(default_factory=list)


class AlertEngine:
    def __init__(
        self, hub: Hub, detectors: Mapping[str, Callable[[Hub], Iterable[Signal]]] | None = None
    ) -> None:
        self.hub = hub
        self.detectors = DETECTORS if detectors is None else detectors

    def poll(self) -> PollResult:
        result = PollResult()
        for name, detect in sorted(self.detectors.items()):
            try:
                signals = list(detect(self.hub))
            except Exception:
                log.exception("detector failed detector=%s", name)
                result.failed_detectors.append(name)
                continue
            for signal in signals:
                result.signals += 1
                result.actions[signal.key] = self.apply(name, signal)
        return result

    def apply(self, detector: str, signal: Signal) -> Action:
        now = self.hub.clock.now()
        incident = self._open_incident(signal.key)
        if signal.active:
            if incident is None:
                return self._open(detector, signal, now)
            return self._still_active(incident, signal, now)
        if incident is None:
            return "unchanged"
        return self._close(incident, signal, now)

    # --- transitions --------------------------------------------------------------------------
    def _open(self, detector: str, signal: Signal, now: datetime) -> Action:
        incident = Incident(
            key=signal.key,
            open_key=signal.key,
            detector=detector,
            status="open",
            severity=signal.severity,
            title=signal.title[:255],
            text=signal.text,
            route=signal.route,
            channel=self.hub.settings.channel_for(signal.route),
            opened_at=now,
            last_seen_at=now,
        )
        try:
            with session_scope(self.hub.engine) as session:
                session.add(incident)
        except IntegrityError:
            return "unchanged"  # another instance opened it a moment ago
        log.warning("incident opened key=%s severity=%s", signal.key, signal.severity)
        self._claim_and_post(incident, None, _opening_text(signal), signal, now)
        return "opened"

    def _still_active(self, incident: Incident, signal: Signal, now: datetime) -> Action:
        with self.hub.engine.begin() as conn:
            conn.execute(
                update(Incident)
                .where(col(Incident.id) == incident.id)
                .values(
                    last_seen_at=now,
                    severity=signal.severity,
                    title=signal.title[:255],
                    text=signal.text,
                )
            )
        cooldown = timedelta(seconds=self.hub.settings.alert_cooldown_seconds)
        last = incident.last_posted_at
        if last is not None and now - last < cooldown:
            return "unchanged"
        if incident.post_count == 0:
            text = _opening_text(signal)  # the opening post failed: this is its first post
        else:
            since = _local(self.hub, incident.opened_at)
            text = f"{_emoji(signal)} Ainda em aberto (desde {since}): *{signal.title}*"
            text = f"{text}\n{signal.text}".strip()
        posted = self._claim_and_post(incident, last, text, signal, now)
        return "reminded" if posted else "unchanged"

    def _close(self, incident: Incident, signal: Signal, now: datetime) -> Action:
        with self.hub.engine.begin() as conn:
            claimed = conn.execute(
                update(Incident)
                .where(col(Incident.id) == incident.id, col(Incident.status) == "open")
                .values(status="closed", open_key=None, closed_at=now, last_seen_at=now)
            )
        if claimed.rowcount != 1:
            return "unchanged"
        log.info("incident closed key=%s", incident.key)
        if incident.post_count == 0:
            return "closed"  # its opening was never posted: a recovery would confuse
        duration = _duration(now - incident.opened_at)
        text = f"✅ Normalizado: *{incident.title}* (durou {duration})."
        if signal.text:
            text += f"\n{signal.text}"
        self._post(incident.route, text, None, None)
        return "closed"

    # --- posting ------------------------------------------------------------------------------
    def _claim_and_post(
        self,
        incident: Incident,
        previous: datetime | None,
        text: str,
        signal: Signal,
        now: datetime,
    ) -> bool:
        """Post once across instances: claim by moving `last_posted_at` from what we read."""
        previous_cond = (
            col(Incident.last_posted_at).is_(None)
            if previous is None
            else col(Incident.last_posted_at) == previous
        )
        with self.hub.engine.begin() as conn:
            claimed = conn.execute(
                update(Incident)
                .where(col(Incident.id) == incident.id, previous_cond)
                .values(last_posted_at=now, post_count=Incident.post_count + 1)
            )
        if claimed.rowcount != 1:
            return False
        blocks = signal.blocks or _blocks(text, incident, self.hub)
        try:
            ts = self._post(signal.route, text, blocks, signal.file)
        except Exception:
            # Give the claim back so the next poll tries again.
            log.exception("posting incident failed key=%s", incident.key)
            with self.hub.engine.begin() as conn:
                conn.execute(
                    update(Incident)
                    .where(col(Incident.id) == incident.id)
                    .values(last_posted_at=previous, post_count=Incident.post_count - 1)
                )
            return False
        if ts and incident.message_ts is None:
            with self.hub.engine.begin() as conn:
                conn.execute(
                    update(Incident).where(col(Incident.id) == incident.id).values(message_ts=ts)
                )
        return True

    def _post(
        self,
        route: str,
        text: str,
        blocks: list[dict[str, Any]] | None,
        file: tuple[str, bytes] | None,
    ) -> str | None:
        channel = self.hub.settings.channel_for(route)
        notifier = self.hub.notifier
        if channel is None or notifier is None:
            log.warning(
                "alert not posted: no channel or Slack configured route=%s (set "
                "HUB_CHANNEL_ALERTS)",
                route,
            )
            return None
        ts = notifier.post(channel, text, blocks)
        if file is not None:
            notifier.upload(channel, file[0], file[1], thread_ts=ts)
        return ts

    def _open_incident(self, key: str) -> Incident | None:
        with session_scope(self.hub.engine) as session:
            return session.exec(select(Incident).where(Incident.open_key == key)).first()


def open_incidents(hub: Hub) -> list[Incident]:
    """Open incidents, most severe first, then oldest first (Home tab and `/hub alerts`)."""
    with session_scope(hub.engine) as session:
        rows = list(session.exec(select(Incident).where(Incident.status == "open")).all())
    return sorted(rows, key=lambda i: (SEVERITY_ORDER.get(i.severity, 9), i.opened_at, i.id))


@scheduled(
    "alerts.poll",
    priority="critical",
    interval={"seconds": 60},
    description="Verifica os detectores de alerta (APIs fora do ar, lentidão, limites, custos)",
    once_per_slot=False,
)
def poll_alerts(ctx: JobContext) -> JobOutcome:
    result = AlertEngine(ctx.hub).poll()
    changed = {k: v for k, v in result.actions.items() if v != "unchanged"}
    summary = ", ".join(f"{k}={v}" for k, v in sorted(changed.items()))
    if result.failed_detectors:
        summary = f"{summary}; detectores com erro: {', '.join(result.failed_detectors)}"
    return JobOutcome(items=result.signals, summary=summary.strip("; "))


# --- formatting -------------------------------------------------------------------------------
def _emoji(signal: Signal) -> str:
    return SEVERITY_EMOJI.get(signal.severity, "⚠️")


def _opening_text(signal: Signal) -> str:
    return f"{_emoji(signal)} *{signal.title}*\n{signal.text}".strip()


def _blocks(text: str, incident: Incident, hub: Hub) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Incidente #{incident.id} · aberto em "
                    f"{_local(hub, incident.opened_at)} · `/hub alerts` lista os abertos",
                }
            ],
        },
    ]


def _local(hub: Hub, when: datetime) -> str:
    return when.astimezone(hub.settings.tz).strftime("%d/%m %H:%M")


def _duration(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 1:
        return "menos de 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
