"""Tables of the jobs area: runs, (job, slot) claims, batch progress, dead letters, incidents
and the scheduler lease. APScheduler's own `apscheduler_jobs` table is created by its job store
and kept out of Alembic (bot.db.EXTERNAL_TABLES)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Column, Field, Index

from bot.db import SQLModel, UTCDateTime


class JobRun(SQLModel, table=True):
    """One execution attempt of a job for a slot (scheduled, retry, manual or re-run)."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=128)
    slot: str = Field(max_length=64)
    attempt: int = 1
    trigger: str = Field(max_length=16)  # schedule | retry | manual | dead_letter
    instance: str = Field(max_length=128)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    outcome: str = Field(max_length=16)  # running | ok | failed | missed
    items: int = 0
    summary: str | None = Field(default=None, max_length=500)
    error: str | None = Field(default=None, max_length=1000)


class JobSlot(SQLModel, table=True):
    """The claim that makes a (job, slot) run at most once across restarts and instances.

    Inserted by the first attempt (the unique constraint decides the winner); later attempts
    (retries, a dead-letter re-run) take it over with a conditional UPDATE on its status."""

    __tablename__ = "job_slots"
    __table_args__ = (UniqueConstraint("job_id", "slot"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=128)
    slot: str = Field(max_length=64)
    status: str = Field(max_length=16)  # running | retry_wait | done | dead
    attempts: int = 1
    owner: str = Field(max_length=128)
    claimed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class JobBatch(SQLModel, table=True):
    """A finished batch of a (job, slot): the keys of its items, so a retry skips them."""

    __tablename__ = "job_batches"
    __table_args__ = (Index("ix_job_batches_job_slot", "job_id", "slot"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=128)
    slot: str = Field(max_length=64)
    item_keys: str = Field(sa_column=Column(Text(), nullable=False))  # JSON list of str
    items: int = 0
    run_id: int | None = None
    finished_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class DeadLetter(SQLModel, table=True):
    """A (job, slot) that failed every attempt; re-run with `/hub jobs retry <id>`."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=128)
    slot: str = Field(max_length=64)
    args: str = Field(sa_column=Column(Text(), nullable=False))  # JSON object
    error: str = Field(max_length=1000)
    attempts: int = 0
    status: str = Field(max_length=16)  # open | resolved
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    resolved_by: str | None = Field(default=None, max_length=64)


class Incident(SQLModel, table=True):
    """An alert raised by a detector signal, open until an inactive signal closes it.

    `open_key` equals `key` while open and is NULL once closed: its unique constraint allows
    one open incident per key (on SQLite and PostgreSQL alike) and any number of closed ones."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("open_key"),
        Index("ix_incidents_key_opened", "key", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255)
    open_key: str | None = Field(default=None, max_length=255)
    detector: str = Field(max_length=128)
    status: str = Field(max_length=16)  # open | closed
    severity: str = Field(max_length=16)
    title: str = Field(max_length=255)
    text: str = Field(sa_column=Column(Text(), nullable=False))
    route: str = Field(max_length=32)
    channel: str | None = Field(default=None, max_length=64)
    message_ts: str | None = Field(default=None, max_length=32)
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_posted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    post_count: int = 0


class SchedulerLease(SQLModel, table=True):
    """The leader lease: whoever holds an unexpired row schedules; `generation` fences."""

    __tablename__ = "scheduler_leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    generation: int = 0
    acquired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
