"""Prompt caching and hub overhead of the assistant over a scripted 10-turn conversation.

Runs the real `bot.assistant.answer` (conversation store, knowledge base, tool loop, usage
recording) against the Claude simulator, which reports cache reads and writes the way the API
does (byte-for-byte prefixes, per-model minimum, 5-minute entries). Slack is an in-process
recorder, so the time measured is the hub's own work plus the model calls.

Prints, for the shipped configuration and for a reference run whose requests carry only the
tools/system breakpoints (no moving breakpoint on the conversation):
- the share of input tokens served from the cache after the first turn (goal ≥ 80 %);
- the hub's own overhead per turn, excluding model time (time inside the SDK call).

    .venv/bin/python benchmarks/assistant_cache.py [--model claude-sonnet-4-6] [--turns 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.assistant import IncomingMessage, answer  # noqa: E402
from bot.assistant.loop import AssistantLoop  # noqa: E402
from bot.db import make_engine, upgrade  # noqa: E402
from bot.hub import Hub  # noqa: E402
from bot.settings import Settings  # noqa: E402
from integrations.claude.client import ClaudeClient  # noqa: E402
from integrations.claude.sandbox import (  # noqa: E402
    API_KEY,
    MODELS,
    ClaudeSimulator,
    Reply,
    prompt_blocks,
)
from integrations.runtime.harness import SimulatorServer  # noqa: E402

QUESTIONS = [
    "Como funcionam as confirmações de ações no hub?",
    "Quem pode confirmar o cancelamento de pedidos duplicados?",
    "E quanto tempo o cartão de confirmação fica válido?",
    "Qual é o limite de perguntas ao assistente?",
    "O que acontece quando passo do limite?",
    "Como avalio uma resposta sua?",
    "As integrações estão funcionando agora?",
    "O que significa uma referência de erro?",
    "A quem eu pergunto sobre gastos com IA?",
    "Resume o que conversamos em três tópicos.",
]
ANSWER = (
    "Resumo: {q} — segundo o guia, o cartão de confirmação mostra a prévia da ação e só "
    "executa depois do clique de uma pessoa com o papel certo; cliques repetidos não repetem a "
    "ação. Fonte: guia *Confirmações*."
)


class QuietSlack:
    """Accepts the Web API calls the assistant makes (no network, negligible cost)."""

    def __init__(self) -> None:
        self.calls = 0

    def _ok(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return {"ok": True, "ts": f"1800000000.{self.calls:06d}"}

    assistant_threads_setStatus = _ok
    chat_startStream = _ok
    chat_appendStream = _ok
    chat_stopStream = _ok
    chat_update = _ok
    chat_postMessage = _ok
    chat_postEphemeral = _ok


def _model(turn: int) -> list[Reply]:
    """Odd turns look something up first; every turn ends with a short cited answer."""
    final = Reply.text(ANSWER.format(q=QUESTIONS[turn][:60]))
    if turn % 2 == 0:
        return [Reply.tool("search_docs", {"query": QUESTIONS[turn]}), final]
    if turn == 6:
        return [Reply.tool("health", {}), final]
    return [final]


def run(model: str, turns: int, *, conversation_breakpoint: bool) -> dict[str, float]:
    sim = ClaudeSimulator()
    original = AssistantLoop.build_params

    def without_message_breakpoints(
        self: AssistantLoop, messages: list[dict[str, Any]], question_index: int | None
    ) -> dict[str, Any]:
        params = original(self, messages, question_index)
        for message in params["messages"]:
            for block in message["content"]:
                block.pop("cache_control", None)
        return params

    if not conversation_breakpoint:
        AssistantLoop.build_params = without_message_breakpoints  # type: ignore[method-assign]
    try:
        with (
            SimulatorServer(sim.app(), name="claude") as server,
            tempfile.TemporaryDirectory() as tmp,
        ):
            settings = Settings(
                _env_file=None,
                database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
                anthropic_api_key=API_KEY,
                anthropic_base_url=server.base_url,
                assistant_model=model,
                assistant_rate_limit_count=1000,
                hub_docs_dir=str(REPO / "docs"),
            )
            engine = make_engine(settings.database_url)
            upgrade(engine)
            hub = Hub.create(settings, engine=engine)
            slack = QuietSlack()
            overhead: list[float] = []
            model_time: list[float] = []
            for turn in range(turns):
                sim.script(*_model(turn))
                client = ClaudeClient.from_hub(hub)
                before = client.timing.seconds
                first = len(sim.responses)
                t0 = time.perf_counter()
                answer(
                    hub,
                    slack,
                    IncomingMessage(
                        channel_id="CBENCH",
                        user_id="UBENCH",
                        text=QUESTIONS[turn % len(QUESTIONS)],
                        ts=f"1700000{turn:03d}.000100",
                        thread_ts="1700000000.000100",
                        is_dm=False,
                    ),
                )
                total = time.perf_counter() - t0
                spent = client.timing.seconds - before
                overhead.append(total - spent)
                model_time.append(spent)
                if len(sim.responses) == first:
                    raise RuntimeError(f"turn {turn} got no model response")
            hub.close()
            engine.dispose()
    finally:
        AssistantLoop.build_params = original  # type: ignore[method-assign]
    usage = [r["usage"] for r in sim.responses]
    first_turn = len(_model(0))
    later = usage[first_turn:]
    total_in = sum(
        u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"]
        for u in later
    )
    read = sum(u["cache_read_input_tokens"] for u in later)
    written = sum(u["cache_creation_input_tokens"] for u in usage)
    opening = sim.requests[0]
    static = prompt_blocks(
        {"tools": opening.get("tools"), "system": opening["system"], "messages": []}, "x"
    )
    return {
        "static_tokens": float(static[-1].cumulative_tokens if static else 0),
        "share": read / total_in if total_in else 0.0,
        "total_in": float(total_in),
        "read": float(read),
        "written": float(written),
        "responses": float(len(usage)),
        "overhead_ms": statistics.median(overhead) * 1000,
        "overhead_p90_ms": sorted(overhead)[int(0.9 * (len(overhead) - 1))] * 1000,
        "model_ms": statistics.median(model_time) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=Settings(_env_file=None).assistant_model)
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    run(args.model, 2, conversation_breakpoint=True)  # warm-up (imports, SDK client)
    shipped = run(args.model, args.turns, conversation_breakpoint=True)
    reference = run(args.model, args.turns, conversation_breakpoint=False)
    print(
        f"assistant cache benchmark: model={args.model}, {args.turns} turns, "
        f"{int(shipped['responses'])} model responses"
    )
    for name, r in (
        ("shipped (tools+system+conversation breakpoints)", shipped),
        ("reference (tools+system breakpoints only)", reference),
    ):
        print(f"  {name}:")
        print(
            f"    input tokens after turn 1: {int(r['total_in'])}, read from cache: "
            f"{int(r['read'])} -> {r['share']:.1%} served from cache"
        )
        print(
            f"    hub overhead per turn (excl. model time): median {r['overhead_ms']:.1f} ms, "
            f"p90 {r['overhead_p90_ms']:.1f} ms; model time median {r['model_ms']:.1f} ms"
        )
    minimum = MODELS[args.model]["min_cache"]
    static = int(shipped["static_tokens"])
    print(
        f"  tools + system prompt ≈ {static} tokens; {args.model} caches prefixes from "
        f"{minimum}: {'cached on its own' if static >= minimum else 'too short to cache alone'}"
    )
    if reference["share"]:
        print(f"  cache share vs reference: {shipped['share'] / reference['share']:.1f}x")
    else:
        print("  cache share vs reference: reference serves nothing from cache")
    print(f"  goal >= 80 % after the first turn: {'met' if shipped['share'] >= 0.8 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
