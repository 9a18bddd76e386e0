from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.ai_costs.anthropic_client import AnthropicAdminClient
from integrations.ai_costs.common import next_cursor, require_usd
from integrations.ai_costs.openai_client import OpenAIAdminClient, model_of_line_item
from integrations.ai_costs.sandbox import OpenAISimulator
from integrations.runtime.errors import BadResponse, ClientError, NotConfigured
from integrations.runtime.harness import SimulatorServer
from tests.integrations.ai_costs.conftest import Sims

TODAY = date(2026, 11, 2)


def test_openai_costs_paginate_by_bucket_limit(costs_hub: Hub, sims: Sims) -> None:
    client = OpenAIAdminClient(costs_hub)
    start, end = TODAY - timedelta(days=30), TODAY
    pages = list(client.cost_pages(start, end, limit=7))
    assert [p.buckets for p in pages] == [7, 7, 7, 7, 2]
    assert client.requests == 5
    # pages are contiguous, cover the window exactly, and carry every day once
    assert pages[0].start == start and pages[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(pages))
    total = sum((line.amount_usd for p in pages for line in p.lines), Decimal(0))
    assert total == sims.openai.total(start, end)
    lines = [line for p in pages for line in p.lines]
    assert all(isinstance(line.amount_usd, Decimal) for line in lines)
    assert {line.api_key_id for line in lines} <= {
        k for keys in sims.openai.data.keys.values() for k in keys
    }
    assert all(line.api_key_id and line.project_id and line.item for line in lines)


def test_openai_usage_and_names(costs_hub: Hub, sims: Sims) -> None:
    client = OpenAIAdminClient(costs_hub)
    pages = list(client.usage_pages(TODAY - timedelta(days=40), TODAY))
    assert [p.buckets for p in pages] == [31, 9]  # 1d usage buckets: at most 31 per page
    lines = [line for p in pages for line in p.lines]
    assert lines and all(line.model and line.project_id and line.api_key_id for line in lines)
    assert all(
        line.input_tokens + line.cache_read_tokens + line.output_tokens > 0 for line in lines
    )
    assert sum(line.requests for line in lines) > 0
    projects = client.projects()
    assert [pid for pid, _ in projects] == [pid for pid, _ in sims.openai.data.projects]
    keys = client.project_keys(projects[0][0])
    assert len(keys) == 2 and all(name for _, name in keys)


def test_openai_old_result_shape_falls_back_to_project_and_line_item(
    costs_hub: Hub, fake_clock: FakeClock
) -> None:
    legacy = OpenAISimulator(clock=fake_clock, projects=3, line_items=4, legacy_shape=True)
    with SimulatorServer(legacy.app(), name="openai-legacy") as server:
        costs_hub.settings.openai_base_url = f"{server.base_url}/v1"
        client = OpenAIAdminClient(costs_hub)
        start = TODAY - timedelta(days=10)
        lines = [line for p in client.cost_pages(start, TODAY) for line in p.lines]
    assert client.group_by_key is False
    assert lines and all(line.api_key_id == "" for line in lines)
    assert sum((line.amount_usd for line in lines), Decimal(0)) == legacy.total(start, TODAY)


def test_line_item_model_parsing() -> None:
    assert model_of_line_item("gpt-4o-2024-08-06, input") == "gpt-4o-2024-08-06"
    assert model_of_line_item("gpt-4o-mini, cached input") == "gpt-4o-mini"
    assert model_of_line_item("web search tool calls") == ""


def test_anthropic_cost_amounts_are_cents(costs_hub: Hub, sims: Sims) -> None:
    client = AnthropicAdminClient(costs_hub)
    start = TODAY - timedelta(days=40)
    pages = list(client.cost_pages(start, TODAY))
    assert [p.buckets for p in pages] == [31, 9]
    lines = [line for p in pages for line in p.lines]
    raw_cents = sum((Decimal(line.raw["amount"]) for line in lines), Decimal(0))
    total = sum((line.amount_usd for line in lines), Decimal(0))
    assert total == raw_cents / 100 == sims.anthropic.total(start, TODAY)
    assert {line.model for line in lines} >= {"claude-sonnet-4-5-20250929"}
    assert any(line.project_id == "" for line in lines)  # default workspace is null


def test_anthropic_usage_report(costs_hub: Hub) -> None:
    client = AnthropicAdminClient(costs_hub)
    lines = [line for p in client.usage_pages(TODAY - timedelta(days=3), TODAY) for line in p.lines]
    assert lines
    assert all(line.cache_write_tokens > 0 and line.output_tokens > 0 for line in lines)
    assert {line.api_key_id for line in lines} and all(line.api_key_id for line in lines)
    assert client.workspaces()


def test_simulator_rejects_limits_beyond_the_real_api(costs_hub: Hub) -> None:
    client = OpenAIAdminClient(costs_hub)
    with pytest.raises(ClientError) as err:
        client._get(
            "/organization/costs", operation="t", params=[("start_time", 0), ("limit", 181)]
        )
    assert err.value.status_code == 400
    anthropic = AnthropicAdminClient(costs_hub)
    with pytest.raises(ClientError):
        anthropic._get(
            "/v1/organizations/cost_report",
            operation="t",
            params=[("starting_at", "2026-10-01T00:00:00Z"), ("limit", 32)],
        )


def test_not_configured(tmp_path: object, hub: Hub) -> None:
    with pytest.raises(NotConfigured, match="OPENAI_ADMIN_API_KEY"):
        OpenAIAdminClient(hub)
    with pytest.raises(NotConfigured, match="ANTHROPIC_ADMIN_API_KEY"):
        AnthropicAdminClient(hub)


def test_amounts_in_another_currency_and_broken_cursors_are_bad_responses() -> None:
    require_usd("usd", integration="openai", operation="costs.page")
    require_usd(None, integration="openai", operation="costs.page")  # missing means USD
    with pytest.raises(BadResponse, match="unexpected currency 'EUR'"):
        require_usd("eur", integration="anthropic_admin", operation="cost_report.page")
    assert next_cursor({"has_more": False}, integration="openai", operation="p") is None
    last = next_cursor({"has_more": True, "next_page": "c2"}, integration="o", operation="p")
    assert last == "c2"
    with pytest.raises(BadResponse, match="has_more without next_page") as err:
        next_cursor({"has_more": True}, integration="openai", operation="usage.completions.page")
    assert err.value.operation == "usage.completions.page"
