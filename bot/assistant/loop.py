"""The Claude tool loop: one user turn → as many model rounds as it takes (bounded).

Every stop reason is handled:
- `tool_use`: run every tool call of the round in parallel (thread pool), answer with one user
  message holding one `tool_result` per call (`is_error` on failure), and go again;
- `end_turn` / `stop_sequence`: done;
- `pause_turn`: send the conversation again (the paused assistant content included) to continue;
- `max_tokens`: continue once from the partial text (assistant prefill); if the answer is still
  cut, say so; an incomplete tool call is dropped and the answer is reported as cut;
- `refusal`: stop and say so politely (the turn is not kept in the conversation);
- `model_context_window_exceeded`: stop and suggest a new thread.
The number of rounds is bounded by `settings.assistant_max_rounds`.

Prompt caching: breakpoints on the last tool definition, on the system prompt and on the last
message block (plus the current question once a turn has several rounds), so each round and
each follow-up reads the previous prefix from the cache. Nothing per-request is in the prefix.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.assistant.knowledge import KnowledgeBase
from bot.assistant.prompts import secret_values, system_prompt, tool_result_text
from integrations.runtime.errors import ClientError, IntegrationError, NotConfigured, user_message
from integrations.runtime.registry import display_name

if TYPE_CHECKING:
    from anthropic.types import Message

    from bot.hub import Hub
    from integrations.claude.client import ClaudeClient
    from integrations.runtime.tools import Tool, ToolContext

log = logging.getLogger(__name__)

EPHEMERAL = {"type": "ephemeral"}
MAX_CONTINUATIONS = 1
MAX_PARALLEL_TOOLS = 8


@dataclass
class LoopCallbacks:
    on_status: Callable[[str], None] = lambda _s: None
    on_text: Callable[[str], None] = lambda _t: None
    on_usage: Callable[[Message], None] = lambda _m: None


@dataclass
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]
    ok: bool = True
    result: str = ""


@dataclass
class LoopResult:
    text: str  # everything the model wrote for the user, rounds joined
    stop_reason: str | None
    outcome: str  # answered | cut | refused | context_exceeded | rounds_exhausted
    new_messages: list[dict[str, Any]]  # to store in the conversation
    rounds: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)


def block_to_param(block: Any) -> dict[str, Any] | None:
    """A response content block as an input block (None for empty text)."""
    kind = block.type
    if kind == "text":
        return {"type": "text", "text": block.text} if block.text else None
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    dumped: dict[str, Any] = block.model_dump(exclude_none=True)
    return dumped


def tool_param(tool: Tool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}


class AssistantLoop:
    def __init__(
        self,
        hub: Hub,
        client: ClaudeClient,
        tools: list[Tool],
        context: ToolContext,
        callbacks: LoopCallbacks | None = None,
    ) -> None:
        self.hub = hub
        self.client = client
        self.tools = {t.name: t for t in tools}
        self.tool_params = [tool_param(t) for t in tools]
        self.context = context
        self.cb = callbacks or LoopCallbacks()
        self.secrets = secret_values(hub.settings)
        self.system = system_prompt(KnowledgeBase.for_hub(hub).outline())

    # --- request ------------------------------------------------------------------------------
    def build_params(
        self, messages: list[dict[str, Any]], question_index: int | None
    ) -> dict[str, Any]:
        settings = self.hub.settings
        tools = copy.deepcopy(self.tool_params)
        if tools:
            tools[-1]["cache_control"] = EPHEMERAL
        sent = copy.deepcopy(messages)
        marks = {len(sent) - 1}
        if question_index is not None:
            marks.add(question_index)
        for index in marks:
            content = sent[index]["content"]
            if isinstance(content, list) and content:
                content[-1]["cache_control"] = EPHEMERAL
        params: dict[str, Any] = {
            "model": settings.assistant_model,
            "max_tokens": settings.assistant_max_tokens,
            "system": [{"type": "text", "text": self.system, "cache_control": EPHEMERAL}],
            "messages": sent,
        }
        if tools:
            params["tools"] = tools
        return params

    # --- the loop -----------------------------------------------------------------------------
    def run(self, history: list[dict[str, Any]], question: dict[str, Any]) -> LoopResult:
        messages = [*history, question]
        question_index = len(messages) - 1
        new: list[dict[str, Any]] = [question]
        texts: list[str] = []
        calls: list[ToolCall] = []
        continuations = 0
        stop: str | None = None
        outcome = "rounds_exhausted"
        rounds = 0
        max_rounds = max(1, self.hub.settings.assistant_max_rounds)
        continuing = False  # the next round continues the previous text (pause, prefill)
        while rounds < max_rounds:
            rounds += 1
            self.cb.on_status("pensando…")
            streamed: list[str] = []

            def on_text(
                piece: str, streamed: list[str] = streamed, joins: bool = continuing
            ) -> None:
                if not streamed and texts and not joins and not texts[-1].endswith("\n"):
                    self.cb.on_text("\n\n")
                    texts.append("\n\n")
                streamed.append(piece)
                texts.append(piece)
                self.cb.on_text(piece)

            marker = question_index if rounds > 1 else None
            try:
                response = self.client.stream_message(self.build_params(messages, marker), on_text)
            except ClientError:
                if stop != "max_tokens":
                    raise
                # Some models reject an assistant prefill: keep the partial answer, say it's cut.
                log.info("continuation after max_tokens rejected; answer reported as cut")
                outcome = "cut"
                break
            self.cb.on_usage(response)
            stop = response.stop_reason
            continuing = False
            content = [p for b in response.content if (p := block_to_param(b)) is not None]

            if stop == "tool_use":
                self._append(messages, new, "assistant", content)
                results = self._run_tools([b for b in content if b["type"] == "tool_use"], calls)
                self._append(messages, new, "user", results)
                continue
            if stop == "pause_turn":
                _rstrip_last_text(content)
                if content:
                    self._append(messages, new, "assistant", content)
                continuing = True
                continue
            if stop == "max_tokens":
                complete = [b for b in content if b["type"] != "tool_use"]
                _rstrip_last_text(complete)
                cut_tool = len(complete) != len(content)
                if not cut_tool and continuations < MAX_CONTINUATIONS and complete:
                    continuations += 1
                    self._append(messages, new, "assistant", complete)
                    continuing = True
                    continue
                if complete:
                    self._append(messages, new, "assistant", complete)
                outcome = "cut"
                break
            if stop == "refusal":
                outcome = "refused"
                break
            if stop == "model_context_window_exceeded":
                if content:
                    _rstrip_last_text(content)
                    self._append(messages, new, "assistant", content)
                outcome = "context_exceeded"
                break
            # end_turn, stop_sequence (and any future reason: treat as a finished answer)
            if content:
                self._append(messages, new, "assistant", content)
            outcome = "answered"
            break
        if outcome == "rounds_exhausted" and new[-1]["role"] == "user":
            # Keep the stored conversation well-formed for the next question.
            note = "(Parei aqui: limite de etapas desta pergunta atingido.)"
            self._append(messages, new, "assistant", [{"type": "text", "text": note}])
        if outcome == "refused":
            new = []  # a refused turn is not carried into the next questions
        return LoopResult(
            text="".join(texts).strip(),
            stop_reason=stop,
            outcome=outcome,
            new_messages=new,
            rounds=rounds,
            tool_calls=calls,
        )

    @staticmethod
    def _append(
        messages: list[dict[str, Any]],
        new: list[dict[str, Any]],
        role: str,
        content: list[dict[str, Any]],
    ) -> None:
        """Add a message; consecutive assistant parts (pause, continuation) merge into one."""
        if messages and messages[-1]["role"] == role == "assistant":
            merged = _merge_text(list(messages[-1]["content"]), content)
            messages[-1] = {"role": role, "content": merged}
            if new and new[-1]["role"] == role:
                new[-1] = messages[-1]
            else:  # pragma: no cover - history never ends with an assistant message
                new.append(messages[-1])
            return
        message = {"role": role, "content": content}
        messages.append(message)
        new.append(message)

    # --- tools --------------------------------------------------------------------------------
    def _run_tools(self, uses: list[dict[str, Any]], calls: list[ToolCall]) -> list[dict[str, Any]]:
        batch = [ToolCall(u["id"], u["name"], dict(u.get("input") or {})) for u in uses]
        calls.extend(batch)
        first = self.tools.get(batch[0].name) if batch else None
        self.cb.on_status(first.status_text if first else "consultando dados…")
        if len(batch) == 1:
            self._run_one(batch[0])
        else:
            with ThreadPoolExecutor(
                max_workers=min(MAX_PARALLEL_TOOLS, len(batch)), thread_name_prefix="assistant-tool"
            ) as pool:
                list(pool.map(self._run_one, batch))
        return [
            {"type": "tool_result", "tool_use_id": c.id, "content": c.result}
            | ({"is_error": True} if not c.ok else {})
            for c in batch
        ]

    def _run_one(self, call: ToolCall) -> None:
        from bot.security.confirmations import Refused
        from handlers.registry import UsageError

        tool = self.tools.get(call.name)
        if tool is None:
            call.ok, call.result = False, f"Ferramenta desconhecida: {call.name}"
            return
        try:
            data = tool.run(self.context, call.input)
        except NotConfigured as exc:
            call.ok, call.result = False, f"Integração não configurada: {exc}"
        except UsageError as exc:
            call.ok, call.result = False, f"Argumentos inválidos: {exc}"
        except Refused as exc:
            call.ok, call.result = False, f"Não permitido para quem pergunta: {exc}"
        except IntegrationError as exc:
            log.warning(
                "assistant tool failed tool=%s category=%s status=%s",
                call.name,
                exc.category,
                exc.status_code,
            )
            display = None if exc.integration or not tool.integration else tool.integration
            if display is not None:
                display = display_name(display)
            call.ok = False
            call.result = (
                f"A consulta falhou: {user_message(exc, display)} Diga isso à pessoa, em "
                "poucas palavras."
            )
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("assistant tool crashed tool=%s ref=%s", call.name, ref)
            call.ok, call.result = False, f"Erro interno na ferramenta (referência {ref})."
        else:
            call.result = tool_result_text(call.name, data, self.secrets)
        if not call.ok:
            call.result = tool_result_text(call.name, {"error": call.result}, self.secrets)


def _rstrip_last_text(content: list[dict[str, Any]]) -> None:
    """The API rejects a final assistant text ending in whitespace; drop empty leftovers."""
    while content and content[-1]["type"] == "text":
        stripped = content[-1]["text"].rstrip()
        if stripped:
            content[-1] = {"type": "text", "text": stripped}
            return
        content.pop()


def _merge_text(existing: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Continuation text joins the previous text block (prefill semantics)."""
    if existing and more and existing[-1]["type"] == "text" and more[0]["type"] == "text":
        joined = existing[-1]["text"] + more[0]["text"]
        return [*existing[:-1], {"type": "text", "text": joined}, *more[1:]]
    return existing + more
