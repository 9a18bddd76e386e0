"""One question at a time per Slack thread, across every instance sharing the database.

Two messages in one thread can reach two instances at once (HTTP behind a load balancer, Socket
Mode spreading events over connections); answered side by side they would each read the history
without the other's turn and store interleaved turns. So a turn runs under two locks:

- in the process, a set of busy threads per `Hub` (one hub per process): a second message for a
  thread this process is answering waits here, without polling the database;
- across instances, a lease on the thread's conversation row (`lease_owner`, `lease_until` on
  `assistant_conversations`), like the scheduler's leader lease (`jobs.leader`): claimed with one
  conditional UPDATE (free or expired → mine) or, for a thread seen for the first time, one
  INSERT of the row already claimed (a unique-key clash means another instance just did);
  renewed every L/3 by a keeper thread while the turn runs (a turn of several rounds and tools
  can outlast L); released when the turn ends, errors included.

The owner is unique per turn (the request's reference, host and pid), so a lease is never
mistaken for another turn's. A crashed instance's lease expires at most L after its last renewal
(L = `lease_seconds(settings)`, twice `ASSISTANT_TIMEOUT_SECONDS`); the next message takes it
over. Waiting is bounded (`ASSISTANT_THREAD_WAIT_SECONDS`), polling with backoff on the hub's
clock (a fake clock in tests); past the bound `ThreadBusy` is raised and the caller tells the
person to send the message again. Waiting messages are not queued in order: whichever polls
first after the release goes next. Instances' clocks are assumed NTP-synchronised.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.assistant.models import AssistantConversation

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.clock import Clock
    from bot.hub import Hub
    from bot.settings import Settings

log = logging.getLogger(__name__)

POLL_FIRST_SECONDS = 0.25
POLL_MAX_SECONDS = 2.0
OWNER_MAX = 64
_HOST = f"{socket.gethostname()[:32]}:{os.getpid()}"
_LOCAL_KEY = "assistant.busy_threads"


def lease_seconds(settings: Settings) -> float:
    """How long a lease lasts without renewal: twice one Claude request's timeout."""
    return 2 * settings.assistant_timeout_seconds


def lease_owner(ref: str) -> str:
    """A turn's owner name: its request reference, then this process."""
    return f"{ref}@{_HOST}"[:OWNER_MAX]


class ThreadBusy(Exception):
    """The thread stayed busy (another question being answered) for the whole wait."""

    def __init__(self, channel_id: str, thread_ts: str, waited: float) -> None:
        super().__init__(f"thread {channel_id}:{thread_ts} busy after {waited:.1f}s")
        self.waited = waited


@dataclass
class ThreadLease:
    """The lease on one thread's conversation, for one owner (one turn)."""

    engine: Engine
    clock: Clock
    channel_id: str
    thread_ts: str
    owner: str
    lease_seconds: float
    started_by: str = ""  # for a conversation the claim creates

    def _this_thread(self) -> ColumnElement[bool]:
        return and_(
            col(AssistantConversation.channel_id) == self.channel_id,
            col(AssistantConversation.thread_ts) == self.thread_ts,
        )

    def try_claim(self) -> bool:
        """Take the lease if it is free or expired; True when this owner holds it now."""
        now = self.clock.now()
        until = now + timedelta(seconds=self.lease_seconds)
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(AssistantConversation)
                .where(
                    self._this_thread(),
                    or_(
                        col(AssistantConversation.lease_owner).is_(None),
                        col(AssistantConversation.lease_until) < now,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=until)
            )
            if taken.rowcount == 1:
                return True
            exists = conn.execute(
                select(col(AssistantConversation.id)).where(self._this_thread())
            ).first()
        if exists is not None:
            return False  # held by another turn, unexpired
        # The thread's first question: create its conversation already claimed.
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(AssistantConversation).values(
                        channel_id=self.channel_id,
                        thread_ts=self.thread_ts,
                        started_by=self.started_by,
                        first_turn=0,
                        created_at=now,
                        updated_at=now,
                        lease_owner=self.owner,
                        lease_until=until,
                    )
                )
        except IntegrityError:
            return False  # another instance created it first: it holds the lease
        return True

    def renew(self) -> bool:
        """Push the expiry L ahead; False when the lease is no longer ours (taken over)."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(AssistantConversation)
                .where(self._this_thread(), col(AssistantConversation.lease_owner) == self.owner)
                .values(lease_until=now + timedelta(seconds=self.lease_seconds))
            )
        return result.rowcount == 1

    def release(self) -> None:
        """Free the thread at once (only if we still hold it)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(AssistantConversation)
                .where(self._this_thread(), col(AssistantConversation.lease_owner) == self.owner)
                .values(lease_owner=None, lease_until=None)
            )


class _Stop(Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...

    def set(self) -> None: ...


class LeaseKeeper:
    """Renews a held lease every L/3 until stopped (like the scheduler's leader loop).

    Real time on purpose: the turn it guards runs in real time. `run()` is the loop, for a
    thread; tests drive it synchronously with a scripted `stop`.
    """

    def __init__(self, lease: ThreadLease, stop: _Stop | None = None) -> None:
        self.lease = lease
        self.interval = lease.lease_seconds / 3
        self.stop_event: _Stop = stop if stop is not None else threading.Event()
        self.lost = False
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            try:
                held = self.lease.renew()
            except Exception:
                # The database hiccuped: keep trying while the lease has not expired.
                log.warning(
                    "assistant thread lease renewal failed owner=%s",
                    self.lease.owner,
                    exc_info=True,
                )
                continue
            if not held:
                self.lost = True
                log.warning(
                    "assistant thread lease lost channel=%s thread=%s owner=%s",
                    self.lease.channel_id,
                    self.lease.thread_ts,
                    self.lease.owner,
                )
                return

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run, name=f"lease-{self.lease.owner[:10]}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join()


class BusyThreads:
    """The threads this process is answering now (the in-process half of the lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[str] = set()

    def try_enter(self, key: str) -> bool:
        with self._lock:
            if key in self._busy:
                return False
            self._busy.add(key)
            return True

    def leave(self, key: str) -> None:
        with self._lock:
            self._busy.discard(key)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._busy


def busy_threads(hub: Hub) -> BusyThreads:
    """This process's busy threads (kept on the hub: one hub per process)."""
    found = hub.services.get(_LOCAL_KEY)
    if found is None:
        found = hub.services.setdefault(_LOCAL_KEY, BusyThreads())
    assert isinstance(found, BusyThreads)
    return found


@contextmanager
def hold_thread(
    hub: Hub,
    channel_id: str,
    thread_ts: str,
    *,
    owner: str,
    started_by: str,
    wait_seconds: float,
) -> Iterator[ThreadLease]:
    """Run the body as the only turn of the thread (here and on every other instance).

    Waits up to `wait_seconds` (hub clock) for the thread, polling with backoff; raises
    ThreadBusy when it stays busy. The lease is renewed while the body runs and released after
    it, whatever happens.
    """
    clock = hub.clock
    key = f"{channel_id}:{thread_ts}"
    local = busy_threads(hub)
    lease = ThreadLease(
        hub.engine,
        clock,
        channel_id,
        thread_ts,
        owner,
        lease_seconds(hub.settings),
        started_by=started_by,
    )
    started = clock.monotonic()
    deadline = started + wait_seconds
    delay = POLL_FIRST_SECONDS

    def pause() -> None:
        nonlocal delay
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            raise ThreadBusy(channel_id, thread_ts, clock.monotonic() - started)
        clock.sleep(min(delay, remaining))
        delay = min(delay * 2, POLL_MAX_SECONDS)

    # In-process first: only one turn per thread and process polls the database.
    while not local.try_enter(key):
        pause()
    try:
        while not lease.try_claim():
            pause()
    except BaseException:
        local.leave(key)
        raise
    waited = clock.monotonic() - started
    if waited > 0:
        log.info(
            "assistant thread was busy channel=%s thread=%s waited=%.1fs owner=%s",
            channel_id,
            thread_ts,
            waited,
            owner,
        )
    keeper = LeaseKeeper(lease)
    keeper.start()
    try:
        yield lease
    finally:
        keeper.stop()
        try:
            lease.release()
        except Exception:
            # Not fatal: the lease expires on its own within L.
            log.exception("could not release the assistant thread lease owner=%s", owner)
        local.leave(key)
