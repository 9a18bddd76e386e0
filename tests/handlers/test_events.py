from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.settings import Settings
from handlers.events import claim_event, prune_event_receipts, strip_mentions


def test_claims_are_unique_across_hubs_and_prunable(
    db_engine: Engine, settings: Settings, fake_clock: FakeClock
) -> None:
    one = Hub.create(settings, engine=db_engine, clock=fake_clock)
    two = Hub.create(settings, engine=db_engine, clock=fake_clock)
    assert claim_event(one, "event:Ev1", "app_mention") is True
    assert claim_event(two, "event:Ev1", "app_mention") is False
    fake_clock.advance(3600)
    assert claim_event(one, "event:Ev2", "message") is True
    assert prune_event_receipts(one, fake_clock.now() - timedelta(minutes=30)) == 1
    assert claim_event(two, "event:Ev1", "app_mention") is True  # pruned, so new again
    assert claim_event(two, "event:Ev2", "message") is False


def test_strip_mentions() -> None:
    assert strip_mentions("<@U0HUBBOT01>   quanto  gastamos?") == "quanto gastamos?"
    assert strip_mentions("oi <@W0ABC|ana> e <@U0HUBBOT01>") == "oi e"
