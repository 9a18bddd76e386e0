# ruff: noqa: F811  (pytest fixtures imported from tests.integrations.shopify.fixtures)
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from bot.hub import Hub
from integrations.shopify.simulator import ShopifySimulator
from jobs.registry import JOBS, load_jobs
from tests.integrations.shopify.fixtures import (  # noqa: F401 (pytest fixtures)
    BR,
    make_shop_hub,
    shop_hub,
    shopify_sim,
)

T = TypeVar("T")


@dataclass
class FakeJobContext:
    hub: Hub
    job_id: str
    slot: str
    args: dict[str, Any] = field(default_factory=dict)
    posts: list[dict[str, Any]] = field(default_factory=list)
    done: set[str] = field(default_factory=set)

    def post(
        self,
        route: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        file: tuple[str, bytes] | None = None,
    ) -> None:
        self.posts.append({"route": route, "text": text, "blocks": blocks, "file": file})

    def batches(
        self, items: Sequence[T], *, key: Callable[[T], str], size: int = 1
    ) -> Iterator[list[T]]:
        for item in items:
            if key(item) in self.done:
                continue
            yield [item]
            self.done.add(key(item))


def test_jobs_are_registered_with_schedules() -> None:
    load_jobs()
    daily = JOBS["shopify.duplicates_daily"]
    weekly = JOBS["shopify.ips_weekly"]
    assert daily.cron == {"hour": 8, "minute": 0} and daily.route == "shopify"
    assert weekly.cron is not None and weekly.cron["day_of_week"] == "mon"


def test_daily_duplicates_posts_one_report_per_store(
    shop_hub: Hub, shopify_sim: tuple[ShopifySimulator, Any]
) -> None:
    load_jobs()
    ctx = FakeJobContext(shop_hub, "shopify.duplicates_daily", "2026-11-02")
    outcome = JOBS["shopify.duplicates_daily"].func(ctx)  # type: ignore[arg-type]
    assert outcome is not None and outcome.items >= 4
    assert [p["route"] for p in ctx.posts] == ["shopify", "shopify"]
    br = ctx.posts[0]
    assert br["text"].startswith("Loja Chegou Brasil") and "/hub duplicados br" in str(br["blocks"])


def test_weekly_ips_attaches_csv_for_long_lists(
    shop_hub: Hub, shopify_sim: tuple[ShopifySimulator, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.shopify as view

    load_jobs()
    monkeypatch.setattr(view, "MAX_IPS_SHOWN", 0)
    ctx = FakeJobContext(shop_hub, "shopify.ips_weekly", "2026-11-02")
    outcome = JOBS["shopify.ips_weekly"].func(ctx)  # type: ignore[arg-type]
    assert outcome is not None and outcome.items >= 2
    br = ctx.posts[0]
    assert br["file"] is not None and br["file"][0].endswith(".csv")
    assert b"187.45.210.77" in br["file"][1]


def test_a_failing_store_is_retried_alone(
    shop_hub: Hub, shopify_sim: tuple[ShopifySimulator, Any]
) -> None:
    from integrations.runtime.errors import AuthError

    load_jobs()
    sim, _ = shopify_sim
    tokens = set(sim.shops[BR].access_tokens)
    sim.shops[BR].access_tokens.clear()
    ctx = FakeJobContext(shop_hub, "shopify.duplicates_daily", "2026-11-02")
    with pytest.raises(AuthError):
        JOBS["shopify.duplicates_daily"].func(ctx)  # type: ignore[arg-type]
    assert ctx.posts == []
    sim.shops[BR].access_tokens.update(tokens)
    JOBS["shopify.duplicates_daily"].func(ctx)  # type: ignore[arg-type]
    assert [p["text"].split(":")[0] for p in ctx.posts] == [
        "Loja Chegou Brasil",
        "Loja Chegou México",
    ]
