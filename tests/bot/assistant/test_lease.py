"""The thread lease: one turn per Slack thread across instances sharing the database.

"Instances" are two Hub objects on the same engine (each has its own in-process busy set), on
SQLite and, with TEST_DATABASE_URL, PostgreSQL. Time is a fake clock: waiting advances it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.assistant.conversations import ConversationStore
from bot.assistant.lease import (
    LeaseKeeper,
    ThreadBusy,
    ThreadLease,
    busy_threads,
    hold_thread,
    lease_owner,
    lease_seconds,
)
from bot.assistant.models import AssistantConversation
from bot.clock import FakeClock
from bot.db import session_scope
from bot.hub import Hub
from tests.conftest import make_settings

L = 120.0  # the default lease: 2 × ASSISTANT_TIMEOUT_SECONDS (60)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def two_hubs(tmp_path: Path, db_engine: Engine, clock: FakeClock) -> Iterator[tuple[Hub, Hub]]:
    settings = make_settings(tmp_path)
    a = Hub.create(settings, engine=db_engine, clock=clock)
    b = Hub.create(settings, engine=db_engine, clock=clock)
    yield a, b
    a.close()
    b.close()


def _lease(engine: Engine, clock: FakeClock, owner: str, thread_ts: str = "1.0") -> ThreadLease:
    return ThreadLease(engine, clock, "C1", thread_ts, owner, L, started_by="U1")


def _conversations(engine: Engine) -> list[AssistantConversation]:
    with session_scope(engine) as session:
        return list(session.exec(select(AssistantConversation)).all())


def test_lease_length_is_twice_the_claude_timeout(tmp_path: Path) -> None:
    assert lease_seconds(make_settings(tmp_path)) == L
    assert lease_seconds(make_settings(tmp_path, assistant_timeout_seconds=15)) == 30
    owner = lease_owner("a1b2c3d4e5")
    assert owner.startswith("a1b2c3d4e5@") and len(owner) <= 64


def test_one_holder_at_a_time_and_the_next_after_release(
    two_hubs: tuple[Hub, Hub], clock: FakeClock
) -> None:
    hub, _ = two_hubs
    db_engine = hub.engine
    a, b = _lease(db_engine, clock, "turn-a"), _lease(db_engine, clock, "turn-b")
    assert a.try_claim()  # the thread's first question creates its conversation, claimed
    assert not b.try_claim()
    [row] = _conversations(db_engine)
    assert (row.started_by, row.first_turn, row.lease_owner) == ("U1", 0, "turn-a")
    # The conversation store sees the same conversation (no second row).
    assert ConversationStore(hub).load("C1", "1.0", "U9").id == row.id
    a.release()
    assert b.try_claim()
    assert not a.try_claim()
    b.release()
    [row] = _conversations(db_engine)
    assert (row.lease_owner, row.lease_until) == (None, None)


def test_renewal_keeps_a_long_turn_exclusive_and_expiry_frees_a_crashed_one(
    db_engine: Engine, clock: FakeClock
) -> None:
    a, b = _lease(db_engine, clock, "turn-a"), _lease(db_engine, clock, "turn-b")
    assert a.try_claim()
    for _ in range(9):  # three lease lengths, renewed every L/3: b never gets in
        clock.advance(L / 3)
        assert a.renew() and not b.try_claim()
    clock.advance(L)  # a's instance dies (no renewal, no release): exactly at expiry it holds
    assert not b.try_claim()
    clock.advance(0.001)
    assert b.try_claim()
    # a comes back: its renewal and release find the lease taken and change nothing.
    assert not a.renew()
    a.release()
    assert not _lease(db_engine, clock, "turn-c").try_claim()
    [row] = _conversations(db_engine)
    assert row.lease_owner == "turn-b"


def _race(leases: list[ThreadLease]) -> list[str]:
    """Every lease claims at the same moment, each from its own thread; the winners' owners."""
    barrier = threading.Barrier(len(leases), timeout=30)
    won: list[str] = []
    errors: list[BaseException] = []

    def claim(lease: ThreadLease) -> None:
        try:
            barrier.wait()
            if lease.try_claim():
                won.append(lease.owner)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    return won


def test_concurrent_claims_have_one_winner(db_engine: Engine, clock: FakeClock) -> None:
    """Eight instances claim at once, on a thread never seen (INSERT race) and then on the
    released, free one (UPDATE race): exactly one wins each time."""
    for _ in range(2):
        leases = [_lease(db_engine, clock, f"turn-{i}", "2.0") for i in range(8)]
        won = _race(leases)
        assert len(won) == 1
        [winner] = [lease for lease in leases if lease.owner == won[0]]
        winner.release()
    assert len(_conversations(db_engine)) == 1


def test_a_second_instance_waits_with_backoff_then_gives_up(
    two_hubs: tuple[Hub, Hub], clock: FakeClock
) -> None:
    a, b = two_hubs
    with hold_thread(a, "C1", "1.0", owner="turn-a", started_by="U1", wait_seconds=10):
        start = clock.monotonic()
        with (
            pytest.raises(ThreadBusy) as busy,
            hold_thread(b, "C1", "1.0", owner="turn-b", started_by="U1", wait_seconds=10),
        ):
            pytest.fail("b must not run while a holds the thread")  # pragma: no cover
        assert clock.slept == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 0.25]
        assert clock.monotonic() - start == 10 and busy.value.waited == 10
        assert "C1:1.0" not in busy_threads(b)
    clock.slept.clear()
    with hold_thread(b, "C1", "1.0", owner="turn-b", started_by="U1", wait_seconds=10) as lease:
        assert lease.owner == "turn-b"
    assert clock.slept == []  # free at once: no waiting


def test_a_crashed_instances_lease_is_taken_over_by_a_waiting_message(
    two_hubs: tuple[Hub, Hub], clock: FakeClock
) -> None:
    a, b = two_hubs
    assert _lease(a.engine, clock, "turn-dead").try_claim()  # claimed, then the process died
    start = clock.monotonic()
    with hold_thread(b, "C1", "1.0", owner="turn-b", started_by="U1", wait_seconds=L + 10):
        waited = clock.monotonic() - start
        assert L < waited <= L + 2  # past the expiry, within one poll
        [row] = _conversations(b.engine)
        assert row.lease_owner == "turn-b"


def test_within_one_process_the_waiter_does_not_poll_the_database(
    two_hubs: tuple[Hub, Hub], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, _ = two_hubs
    claims: list[str] = []
    real_claim = ThreadLease.try_claim

    def counted(self: ThreadLease) -> bool:
        claims.append(self.owner)
        return real_claim(self)

    monkeypatch.setattr(ThreadLease, "try_claim", counted)
    with (
        hold_thread(hub, "C1", "1.0", owner="turn-a", started_by="U1", wait_seconds=5),
        pytest.raises(ThreadBusy),
        hold_thread(hub, "C1", "1.0", owner="turn-b", started_by="U1", wait_seconds=5),
    ):
        pytest.fail("the second turn must wait")  # pragma: no cover
    assert claims == ["turn-a"]
    # Another thread of the same process is not held up.
    with (
        hold_thread(hub, "C1", "1.0", owner="turn-c", started_by="U1", wait_seconds=0),
        hold_thread(hub, "C1", "9.0", owner="turn-d", started_by="U1", wait_seconds=0),
    ):
        assert "C1:1.0" in busy_threads(hub) and "C1:9.0" in busy_threads(hub)


def test_the_lease_is_released_when_the_turn_fails(
    two_hubs: tuple[Hub, Hub], clock: FakeClock
) -> None:
    a, b = two_hubs
    with (
        pytest.raises(RuntimeError),
        hold_thread(a, "C1", "1.0", owner="turn-a", started_by="U1", wait_seconds=0),
    ):
        raise RuntimeError("boom")
    assert "C1:1.0" not in busy_threads(a)
    assert _lease(b.engine, clock, "turn-b").try_claim()
    assert not [t for t in threading.enumerate() if t.name.startswith("lease-turn-a")]


class ScriptedStop:
    """A stop event for LeaseKeeper.run(): each wait advances the fake clock; stops after n."""

    def __init__(self, clock: FakeClock, waits: int) -> None:
        self.clock = clock
        self.waits = waits
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        if len(self.timeouts) > self.waits:
            return True
        self.clock.advance(timeout or 0)
        return False

    def set(self) -> None:
        self.waits = 0


def test_keeper_renews_every_third_of_the_lease_and_notices_a_takeover(
    db_engine: Engine, clock: FakeClock
) -> None:
    a, b = _lease(db_engine, clock, "turn-a"), _lease(db_engine, clock, "turn-b")
    assert a.try_claim()
    keeper = LeaseKeeper(a, ScriptedStop(clock, waits=9))
    keeper.run()  # a turn three lease lengths long
    assert keeper.stop_event.timeouts == [L / 3] * 10  # type: ignore[attr-defined]
    assert not keeper.lost and not b.try_claim()
    clock.advance(L + 1)  # a stalls past its lease (renewals failing): b takes over
    assert b.try_claim()
    keeper = LeaseKeeper(a, ScriptedStop(clock, waits=5))
    keeper.run()
    assert keeper.lost and len(keeper.stop_event.timeouts) == 1  # type: ignore[attr-defined]
    [row] = _conversations(db_engine)
    assert row.lease_owner == "turn-b"
