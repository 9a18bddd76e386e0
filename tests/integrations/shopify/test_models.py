"""Migration 0004_shopify matches the models, and the ledger claim is single-use on both DBs."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.db import SQLModel, import_all_models
from bot.hub import Hub
from bot.security.confirmations import ExecutionContext
from integrations.shopify import cancel
from integrations.shopify.models import ShopifyCancellation
from integrations.shopify.service import ip_lists, set_ip_list
from tests.conftest import make_settings

TABLES = {"shopify_ip_lists", "shopify_cancellations"}


def _touches_shopify(diff: Any) -> bool:
    text = repr(diff)
    return any(t in text for t in TABLES)


def test_migration_matches_models(db_engine: Engine) -> None:
    import_all_models()
    with db_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, SQLModel.metadata) if _touches_shopify(d)]
    assert diffs == []


def test_ledger_claim_is_single_use_and_ip_lists_round_trip(
    db_engine: Engine, tmp_path: Any
) -> None:
    hub = Hub.create(make_settings(tmp_path), engine=db_engine, clock=FakeClock())
    ctx = ExecutionContext("A1", "U1", "U1", "C1", None, lambda e, d: None)
    order = {"id": "gid://shopify/Order/1", "name": "#1", "kept_id": "gid://shopify/Order/2"}
    assert cancel._claim(hub, "br", order, ctx) is None
    assert (
        cancel._claim(hub, "br", order, ctx) == "outro cancelamento deste pedido está em andamento"
    )
    assert isinstance(hub.clock, FakeClock)
    hub.clock.advance(16 * 60)  # a claim abandoned by a crashed worker is taken over later
    assert cancel._claim(hub, "br", order, ctx) is None
    assert cancel._claim(hub, "br", order, ctx) is not None
    cancel._mark(hub, order["id"], "failed", error="x")
    assert cancel._claim(hub, "br", order, ctx) is None  # a failure may be retried
    cancel._mark(hub, order["id"], "cancelled")
    assert cancel._claim(hub, "br", order, ctx) == "já foi cancelado pelo hub antes"
    from bot.db import session_scope

    with session_scope(db_engine) as session:
        row = session.get(ShopifyCancellation, order["id"])
        assert row is not None and row.created_at.tzinfo is not None
    set_ip_list(hub, "br", "2804:14C::A", "watch", user="U1")
    set_ip_list(hub, "br", "2804:14c::a", "resolved", user="U1")
    set_ip_list(hub, "mx", "1.2.3.4", "allow")
    assert ip_lists(hub, "br") == {"allow": set(), "watch": set(), "resolved": {"2804:14c::a"}}
    set_ip_list(hub, "br", "2804:14c::a", None)
    assert ip_lists(hub, "br")["resolved"] == set()
    hub.close()
