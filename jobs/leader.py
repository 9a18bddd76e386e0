"""Which instance schedules: a lease row with an expiry, renewed by its holder.

Why a lease row rather than `pg_try_advisory_lock`: one code path on SQLite and PostgreSQL, a
failover bound we define (the lease length) instead of one set by TCP keep-alive on a dead
connection, and it runs on the hub's clock, so failover is tested on a fake clock. Every
acquisition bumps `generation`, a fencing token: a holder whose renewal finds another
generation knows it lost the lease and stops scheduling.

Bounds, with L = settings.jobs_leader_lease_seconds and renewal every L/3:
- a live leader renews twice before its lease can expire, so one slow renewal costs nothing;
- when the leader dies, its lease expires at most L after its last renewal and a follower,
  trying every L/3, takes over at most L + L/3 after the death (`failover_bound`).
Instances' clocks are assumed NTP-synchronised; skew between them adds to the bound.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from jobs.models import SchedulerLease

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.clock import Clock

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class LeaderLease:
    engine: Engine
    clock: Clock
    holder: str
    lease_seconds: float
    name: str = LEASE_NAME
    generation: int | None = None  # set while we hold the lease

    @property
    def renew_interval(self) -> float:
        return self.lease_seconds / 3

    @property
    def failover_bound(self) -> float:
        """Longest time between a leader's death and a follower taking over."""
        return self.lease_seconds + self.renew_interval

    @property
    def is_leader(self) -> bool:
        return self.generation is not None

    def maintain(self) -> bool:
        """Renew when leading, try to acquire otherwise; returns whether we lead now."""
        if self.generation is not None and self._renew():
            return True
        if self.generation is not None:
            log.warning("leader lease lost holder=%s", self.holder)
            self.generation = None
        return self._acquire()

    def release(self) -> None:
        """Give the lease up at shutdown so a follower takes over at its next try."""
        if self.generation is None:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(SchedulerLease)
                .where(
                    col(SchedulerLease.name) == self.name,
                    col(SchedulerLease.holder) == self.holder,
                    col(SchedulerLease.generation) == self.generation,
                )
                .values(expires_at=_EPOCH)
            )
        log.info("leader lease released holder=%s", self.holder)
        self.generation = None

    def _acquire(self) -> bool:
        now = self.clock.now()
        expires = now + timedelta(seconds=self.lease_seconds)
        with self.engine.begin() as conn:
            # Take the lease over when it expired (or is ours from before a restart).
            result = conn.execute(
                update(SchedulerLease)
                .where(
                    col(SchedulerLease.name) == self.name,
                    or_(
                        col(SchedulerLease.expires_at) < now,
                        col(SchedulerLease.holder) == self.holder,
                    ),
                )
                .values(
                    holder=self.holder,
                    generation=SchedulerLease.generation + 1,
                    acquired_at=now,
                    expires_at=expires,
                )
                .returning(col(SchedulerLease.generation))
            )
            row = result.first()
        if row is not None:
            self.generation = int(row[0])
            log.info("leader lease acquired holder=%s generation=%s", self.holder, row[0])
            return True
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(SchedulerLease).values(
                        name=self.name,
                        holder=self.holder,
                        generation=1,
                        acquired_at=now,
                        expires_at=expires,
                    )
                )
        except IntegrityError:
            return False  # someone else holds a live lease
        self.generation = 1
        log.info("leader lease created holder=%s", self.holder)
        return True

    def _renew(self) -> bool:
        now = self.clock.now()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(SchedulerLease)
                .where(
                    col(SchedulerLease.name) == self.name,
                    col(SchedulerLease.holder) == self.holder,
                    col(SchedulerLease.generation) == self.generation,
                    col(SchedulerLease.expires_at) >= now,
                )
                .values(expires_at=now + timedelta(seconds=self.lease_seconds))
            )
        return result.rowcount == 1
