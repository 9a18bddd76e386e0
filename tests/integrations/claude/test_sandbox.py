"""The Anthropic simulator: validation like the API, caching like the API, streaming, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from bot.clock import FakeClock
from integrations.claude.sandbox import (
    API_KEY,
    STAND_IN_NOTICE,
    ClaudeSimulator,
    Reply,
    count_tokens,
)
from integrations.runtime.harness import SimulatorServer

MODEL = "claude-sonnet-5-5"
BIG = "Regras da casa. " * 400  # ≈ 1,600 tokens: above Sonnet's 1,024 minimum


@pytest.fixture
def sim_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(sim_clock: FakeClock) -> Iterator[tuple[ClaudeSimulator, anthropic.Anthropic]]:
    simulator = ClaudeSimulator(clock=sim_clock)
    with SimulatorServer(simulator.app(), name="claude") as server:
        client = anthropic.Anthropic(api_key=API_KEY, base_url=server.base_url, max_retries=0)
        yield simulator, client
        client.close()


def _tool(name: str = "search_docs", cache: bool = False) -> dict[str, Any]:
    tool: dict[str, Any] = {
        "name": name,
        "description": "Busca nos guias.",
        "input_schema": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    }
    if cache:
        tool["cache_control"] = {"type": "ephemeral"}
    return tool


def test_rejects_a_wrong_key(sim: tuple[ClaudeSimulator, anthropic.Anthropic]) -> None:
    simulator, client = sim
    bad = anthropic.Anthropic(api_key="sk-wrong", base_url=str(client.base_url), max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert simulator.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"messages": [{"role": "user", "content": ""}]}, "non-empty"),
        ({"messages": [{"role": "assistant", "content": "oi"}]}, "first message"),
        ({"messages": [{"role": "user", "content": "x"}], "model": "gpt-4o"}, "model"),
        (
            {"messages": [{"role": "user", "content": "x"}], "extra_body": {"temperature": 1}},
            "Extra",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {"role": "assistant", "content": "resposta com espaço "},
                ]
            },
            "trailing whitespace",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "tool_use",
                                "id": "toolu_1",
                                "name": "search_docs",
                                "input": {},
                            }
                        ],
                    },
                    {"role": "user", "content": "esqueci o resultado"},
                ],
                "tools": [_tool()],
            },
            "without `tool_result`",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "tool_use",
                                "id": "toolu_1",
                                "name": "search_docs",
                                "input": {},
                            }
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "antes"},
                            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"},
                        ],
                    },
                ],
                "tools": [_tool()],
            },
            "FIRST",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_9", "content": "r"}
                        ],
                    }
                ]
            },
            "unexpected `tool_use_id`",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": t, "cache_control": {"type": "ephemeral"}}
                            for t in "abcde"
                        ],
                    }
                ]
            },
            "maximum of 4 blocks",
        ),
    ],
)
def test_rejects_what_the_api_rejects(
    sim: tuple[ClaudeSimulator, anthropic.Anthropic], kwargs: dict[str, Any], message: str
) -> None:
    _, client = sim
    params: dict[str, Any] = {"model": MODEL, "max_tokens": 50}
    params.update(kwargs)
    with pytest.raises((anthropic.BadRequestError, anthropic.NotFoundError)) as info:
        client.messages.create(**params)
    assert message in str(info.value)


def test_tool_use_round_trip_and_parallel_calls(
    sim: tuple[ClaudeSimulator, anthropic.Anthropic],
) -> None:
    simulator, client = sim
    simulator.script(
        Reply.tools([("search_docs", {"query": "a"}), ("health", {})]), Reply.text("Pronto.")
    )
    tools = [_tool(), {**_tool("health"), "input_schema": {"type": "object", "properties": {}}}]
    first = client.messages.create(
        model=MODEL, max_tokens=200, tools=tools, messages=[{"role": "user", "content": "oi"}]
    )
    assert first.stop_reason == "tool_use"
    calls = [b for b in first.content if b.type == "tool_use"]
    assert [c.name for c in calls] == ["search_docs", "health"]
    assert len({c.id for c in calls}) == 2
    second = client.messages.create(
        model=MODEL,
        max_tokens=200,
        tools=tools,
        messages=[
            {"role": "user", "content": "oi"},
            {"role": "assistant", "content": [c.model_dump(exclude_none=True) for c in calls]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": c.id, "content": "ok"} for c in calls
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and second.content[0].text == "Pronto."


def test_streaming_events_and_final_message(
    sim: tuple[ClaudeSimulator, anthropic.Anthropic],
) -> None:
    simulator, client = sim
    text = "Resposta em partes para testar o streaming do simulador."
    simulator.script(Reply.tool("search_docs", {"query": "frete"}, text=text))
    pieces: list[str] = []
    with client.messages.stream(
        model=MODEL, max_tokens=300, tools=[_tool()], messages=[{"role": "user", "content": "?"}]
    ) as stream:
        for event in stream:
            if event.type == "text":
                pieces.append(event.text)
        final = stream.get_final_message()
    assert len(pieces) > 1 and "".join(pieces) == text
    assert final.stop_reason == "tool_use"
    tool_use = final.content[1]
    assert tool_use.type == "tool_use" and tool_use.input == {"query": "frete"}
    assert final.usage.output_tokens > 1


def test_max_tokens_cuts_the_reply(sim: tuple[ClaudeSimulator, anthropic.Anthropic]) -> None:
    simulator, client = sim
    simulator.script(Reply.text("palavra " * 200))
    msg = client.messages.create(
        model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}]
    )
    assert msg.stop_reason == "max_tokens"
    assert msg.usage.output_tokens == 20
    assert msg.content[0].type == "text" and len(msg.content[0].text) == 80


def test_scripted_errors(sim: tuple[ClaudeSimulator, anthropic.Anthropic]) -> None:
    simulator, client = sim
    simulator.script(
        Reply.rate_limited(retry_after=7), Reply.overloaded(), Reply.overloaded(mid_stream=True)
    )
    messages: Any = [{"role": "user", "content": "x"}]
    with pytest.raises(anthropic.RateLimitError) as rl:
        client.messages.create(model=MODEL, max_tokens=20, messages=messages)
    assert rl.value.response.headers["retry-after"] == "7"
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model=MODEL, max_tokens=20, messages=messages)
    with (
        pytest.raises(anthropic.APIStatusError) as mid,
        client.messages.stream(model=MODEL, max_tokens=20, messages=messages) as stream,
    ):
        stream.get_final_message()
    assert mid.value.type == "overloaded_error"


def test_empty_script_fails_loudly(sim: tuple[ClaudeSimulator, anthropic.Anthropic]) -> None:
    _, client = sim
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(
            model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}]
        )


def _cached_request(client: anthropic.Anthropic, messages: list[Any], system: str = BIG) -> Any:
    return client.messages.create(
        model=MODEL,
        max_tokens=50,
        tools=[_tool(cache=True)],
        system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        messages=messages,
    )


def test_prompt_caching_reads_writes_and_totals(
    sim: tuple[ClaudeSimulator, anthropic.Anthropic], sim_clock: FakeClock
) -> None:
    simulator, client = sim
    simulator.script(*(Reply.text("ok") for _ in range(5)))
    messages: list[Any] = [{"role": "user", "content": "primeira pergunta"}]
    first = _cached_request(client, messages).usage
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation_input_tokens > 1024
    second = _cached_request(client, messages).usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    # Totals agree: input_tokens counts only the uncached part.
    assert first.input_tokens + first.cache_creation_input_tokens == (
        second.input_tokens + second.cache_read_input_tokens
    )
    # One changed byte in the system prompt: nothing of the prefix matches any more.
    changed = _cached_request(client, messages, system=BIG + "!").usage
    assert changed.cache_read_input_tokens == 0
    # Entries expire after 5 minutes without use.
    sim_clock.advance(301)
    expired = _cached_request(client, messages).usage
    assert expired.cache_read_input_tokens == 0 and expired.cache_creation_input_tokens > 0


def test_below_the_model_minimum_nothing_is_cached(
    sim: tuple[ClaudeSimulator, anthropic.Anthropic],
) -> None:
    simulator, client = sim
    simulator.script(Reply.text("ok"), Reply.text("ok"))
    for _ in range(2):
        usage = _cached_request(client, [{"role": "user", "content": "x"}], system="curto").usage
        assert usage.cache_creation_input_tokens == 0
        assert usage.cache_read_input_tokens == 0


def test_conversation_breakpoint_reads_the_previous_turn(
    sim: tuple[ClaudeSimulator, anthropic.Anthropic],
) -> None:
    simulator, client = sim
    simulator.script(Reply.text("r1"), Reply.text("r2"))
    turn1 = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "p1", "cache_control": {"type": "ephemeral"}}],
        }
    ]
    u1 = _cached_request(client, turn1).usage
    turn2 = [
        {"role": "user", "content": [{"type": "text", "text": "p1"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "r1"}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "p2", "cache_control": {"type": "ephemeral"}}],
        },
    ]
    u2 = _cached_request(client, turn2).usage
    # The moved breakpoint still finds turn 1's prefix (look-back) and writes the longer one.
    assert u2.cache_read_input_tokens == u1.cache_creation_input_tokens
    assert u2.cache_creation_input_tokens == count_tokens(
        '{"type":"text","text":"r1"}'
    ) + count_tokens('{"type":"text","text":"p2"}')
    assert u2.input_tokens == 0


def test_stand_in_picks_tools_and_says_it_is_the_stand_in(
    sim: tuple[ClaudeSimulator, anthropic.Anthropic],
) -> None:
    simulator, client = sim
    simulator.stand_in = True
    tools = [_tool(), {**_tool("health"), "input_schema": {"type": "object", "properties": {}}}]
    first = client.messages.create(
        model=MODEL,
        max_tokens=500,
        tools=tools,
        messages=[{"role": "user", "content": "as integrações estão funcionando?"}],
    )
    calls = [b for b in first.content if b.type == "tool_use"]
    assert [c.name for c in calls] == ["health"]
    second = client.messages.create(
        model=MODEL,
        max_tokens=2000,
        tools=tools,
        messages=[
            {"role": "user", "content": "as integrações estão funcionando?"},
            {"role": "assistant", "content": [c.model_dump(exclude_none=True) for c in calls]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": calls[0].id,
                        "content": '<tool_result_data tool="health">\n{"shopify": "pass"}\n'
                        "</tool_result_data>",
                    }
                ],
            },
        ],
    )
    text = second.content[0].text  # type: ignore[union-attr]
    assert text.startswith(STAND_IN_NOTICE)
    assert "shopify" in text


def test_cache_creation_is_split_by_ttl_and_1h_must_come_first(
    sim: tuple[ClaudeSimulator, anthropic.Anthropic],
) -> None:
    simulator, client = sim
    simulator.script(Reply.text("ok"))
    long_tool = {**_tool(), "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    usage = client.messages.create(
        model=MODEL,
        max_tokens=50,
        tools=[long_tool],
        system=[{"type": "text", "text": BIG, "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "x"}],
    ).usage
    assert usage.cache_creation is not None
    split = usage.cache_creation
    # The tool alone is below the minimum: its 1h breakpoint writes nothing; the 5m one all.
    assert split.ephemeral_1h_input_tokens == 0
    assert split.ephemeral_5m_input_tokens == usage.cache_creation_input_tokens > 1024
    with pytest.raises(anthropic.BadRequestError, match="must not come after"):
        client.messages.create(
            model=MODEL,
            max_tokens=50,
            tools=[_tool(cache=True)],
            system=[
                {"type": "text", "text": BIG, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
            ],
            messages=[{"role": "user", "content": "x"}],
        )


def test_tool_choice_must_name_a_defined_tool(
    sim: tuple[ClaudeSimulator, anthropic.Anthropic],
) -> None:
    _, client = sim
    with pytest.raises(anthropic.BadRequestError, match="tool_choice"):
        client.messages.create(
            model=MODEL,
            max_tokens=50,
            tools=[_tool()],
            tool_choice={"type": "tool", "name": "nope"},
            messages=[{"role": "user", "content": "x"}],
        )


def test_demo_setup_starts_the_stand_in_without_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from contextlib import ExitStack

    from bot.sandbox.environment import DemoEnvironment
    from integrations.claude.sandbox import demo_setup

    with ExitStack() as stack:
        env = DemoEnvironment(stack=stack)
        overrides = demo_setup(env)
        assert overrides["anthropic_api_key"] == API_KEY
        assert overrides["anthropic_base_url"] == env.simulators["claude"].base_url
        assert env.extras["claude_simulator"].stand_in is True
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-real")
    with ExitStack() as stack:
        env = DemoEnvironment(stack=stack)
        assert demo_setup(env) == {}  # real Claude against the simulated integrations
        assert "claude" not in env.simulators


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("tem IPs suspeitos hoje?", ["shopify_ip_report"]),
        ("pedidos duplicados na loja?", ["shopify_find_duplicates"]),
        ("quanto gastamos com OpenAI?", ["ai_spend"]),
        ("status das integrações", ["health"]),
        ("como funciona o frete?", ["search_docs"]),
        ("cancele os duplicados", ["shopify_find_duplicates"]),  # never the proposal tool
    ],
)
def test_stand_in_keyword_rules(question: str, expected: list[str]) -> None:
    from integrations.claude.sandbox import stand_in_reply

    names = [
        "shopify_shipping",
        "shopify_ip_report",
        "ai_spend",
        "shopify_find_duplicates",
        "shopify_cancel_duplicates",
        "health",
        "search_docs",
    ]
    tools = [{"name": n, "input_schema": {"type": "object", "properties": {}}} for n in names]
    reply = stand_in_reply({"messages": [{"role": "user", "content": question}], "tools": tools})
    assert [b["name"] for b in reply.content if b["type"] == "tool_use"] == expected
