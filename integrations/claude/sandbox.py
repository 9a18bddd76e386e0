"""A local Anthropic Messages API simulator (plain JSON and SSE streaming) and the demo stand-in.

What it does like the real API:
- `POST /v1/messages` with `x-api-key` and `anthropic-version` headers (401 / 400 otherwise),
  request validation with the API's error envelope (`{"type": "error", "error": {...}}`): unknown
  top-level fields, empty text blocks, a first message that is not `user`, tool_use blocks not
  answered by tool_result blocks in the next user message (and tool_results first in it),
  tool_result ids that answer nothing, a final assistant turn ending in whitespace, more than
  4 `cache_control` breakpoints, duplicate tool names, unknown models (404).
- Prompt caching: the prompt is the sequence tools → system → messages content blocks, hashed
  byte-for-byte (the request's JSON as sent, without the `cache_control` markers). A breakpoint
  writes its prefix when that prefix reaches the model's minimum cacheable length (silently
  nothing otherwise); a request reads the longest cached prefix found at a breakpoint or up to
  20 blocks before one. Entries live 5 minutes (or 1 hour with `ttl: "1h"`), refreshed on a hit.
  Usage reports `input_tokens` (uncached only), `cache_creation_input_tokens`,
  `cache_read_input_tokens`, `output_tokens`.
- `max_tokens`: a reply longer than the request's `max_tokens` is cut with stop reason
  `max_tokens`.
- Streaming: `message_start`, `ping`, `content_block_start/delta/stop` (text_delta,
  input_json_delta), `message_delta` (stop_reason, cumulative usage), `message_stop`; an `error`
  event mid-stream when scripted.
- `GET /v1/models` (paginated list shape).

Replies come from a FIFO script (`sim.script(...)`) that tests fill with `Reply` objects (text,
tool calls, parallel calls, pause_turn, refusal, errors 429/529...). With an empty script the
simulator answers 500 unless `stand_in=True`: then a keyword-rule stand-in picks tools and
writes answers, always saying it is the offline stand-in for Claude (used by `chegou-hub demo`).
Token counts are estimates (≈4 characters per token): deterministic, not the real tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from bot.sandbox.environment import DemoEnvironment

API_KEY = "sk-ant-sim-0000000000000000"
STAND_IN_NOTICE = (
    "🤖 **Modo offline:** quem responde é o substituto local do Claude (regras simples por "
    "palavra-chave), não o Claude de verdade. Configure `ANTHROPIC_API_KEY` para usar o Claude."
)

# Per-model facts the simulator enforces: minimum cacheable prompt and maximum output tokens.
MODELS: dict[str, dict[str, Any]] = {
    "claude-sonnet-4-5": {"display": "Claude Sonnet 4.5", "min_cache": 1024, "max_out": 64000},
    # Documented as 1,024, observed as 2,048 (anthropic-sdk-python#1194): the stricter one.
    "claude-sonnet-4-6": {"display": "Claude Sonnet 4.6", "min_cache": 2048, "max_out": 64000},
    "claude-sonnet-5-5": {"display": "Claude Sonnet 5.5", "min_cache": 1024, "max_out": 64000},
    "claude-haiku-5-5": {"display": "Claude Haiku 5.5", "min_cache": 4096, "max_out": 64000},
    "claude-haiku-4-5": {"display": "Claude Haiku 4.5", "min_cache": 4096, "max_out": 64000},
    "claude-opus-4-5": {"display": "Claude Opus 4.5", "min_cache": 4096, "max_out": 64000},
}
TOP_LEVEL_FIELDS = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "stream",
        "metadata",
        "stop_sequences",
        "thinking",
        "service_tier",
        "cache_control",
        "container",
        "output_config",
        "inference_geo",
        "speed",
        "diagnostics",
    }
)
STOP_REASONS = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
LOOKBACK_BLOCKS = 20
CACHE_TTL = {"5m": 300.0, "1h": 3600.0}


def count_tokens(text: str) -> int:
    """Deterministic token estimate (≈4 characters per token)."""
    return max(1, (len(text) + 3) // 4)


# --------------------------------------------------------------------------------------------
# Scripted replies
# --------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer of the simulator.

    `content` holds text blocks (`{"type": "text", "text": ...}`) and tool calls
    (`{"type": "tool_use", "name": ..., "input": {...}}`; ids are generated). `error` makes the
    request fail with that HTTP status; `stream_error` fails mid-stream, after the scripted
    content (streaming requests only).
    """

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None  # default: tool_use when there are tool calls, else end_turn
    error_status: int | None = None
    error_type: str = "api_error"
    error_message: str = "simulated error"
    retry_after: float | None = None
    stream_error: bool = False
    stop_details: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.stop_reason is not None and self.stop_reason not in STOP_REASONS:
            raise ValueError(f"the Messages API never answers stop_reason={self.stop_reason!r}")

    @classmethod
    def text(cls, text: str, stop_reason: str | None = None) -> Reply:
        return cls([{"type": "text", "text": text}], stop_reason=stop_reason)

    @classmethod
    def tool(cls, name: str, tool_input: dict[str, Any], text: str | None = None) -> Reply:
        return cls.tools([(name, tool_input)], text=text)

    @classmethod
    def tools(cls, calls: Sequence[tuple[str, dict[str, Any]]], text: str | None = None) -> Reply:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        blocks += [{"type": "tool_use", "name": n, "input": i} for n, i in calls]
        return cls(blocks)

    @classmethod
    def pause(cls, text: str = "Consultando…") -> Reply:
        return cls([{"type": "text", "text": text}], stop_reason="pause_turn")

    @classmethod
    def refusal(cls, text: str = "") -> Reply:
        content = [{"type": "text", "text": text}] if text else []
        return cls(content, stop_reason="refusal", stop_details={"type": "refusal"})

    @classmethod
    def context_exceeded(cls, text: str = "") -> Reply:
        content = [{"type": "text", "text": text}] if text else []
        return cls(content, stop_reason="model_context_window_exceeded")

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> Reply:
        return cls(
            error_status=429,
            error_type="rate_limit_error",
            error_message="Number of request tokens has exceeded your per-minute rate limit",
            retry_after=retry_after,
        )

    @classmethod
    def overloaded(cls, *, mid_stream: bool = False, text: str | None = None) -> Reply:
        """529 before the response, or (mid_stream) an `error` event after `text` streamed."""
        return cls(
            content=[{"type": "text", "text": text}] if text else [],
            error_status=529,
            error_type="overloaded_error",
            error_message="Overloaded",
            stream_error=mid_stream,
        )


ReplySource = Reply | Callable[[dict[str, Any]], Reply]


class SimulatorError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def _invalid(message: str) -> SimulatorError:
    return SimulatorError(400, "invalid_request_error", message)


# --------------------------------------------------------------------------------------------
# Prompt cache
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PromptBlock:
    digest: str  # running hash of the prompt up to and including this block
    cumulative_tokens: int
    breakpoint_ttl: str | None


def _canonical(block: Any) -> str:
    if isinstance(block, dict):
        block = {k: v for k, v in block.items() if k != "cache_control"}
    return json.dumps(block, ensure_ascii=False, separators=(",", ":"))


def _content_blocks(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def prompt_blocks(body: dict[str, Any], scope: str) -> list[_PromptBlock]:
    """The prompt as hashed blocks in cache order: tools → system → messages."""
    items: list[tuple[str, Any]] = [("tool", t) for t in body.get("tools") or []]
    if body.get("system"):
        items += [("system", b) for b in _content_blocks(body["system"])]
    for message in body.get("messages", []):
        for i, block in enumerate(_content_blocks(message.get("content", []))):
            # The role is part of the prompt: the first block of a message carries it.
            items.append((str(message.get("role")) if i == 0 else "", block))
    out: list[_PromptBlock] = []
    running = hashlib.sha256(scope.encode())
    total = 0
    for prefix, block in items:
        text = _canonical(block)
        running.update(f"{prefix}|{text}".encode())
        total += count_tokens(text)
        ttl = None
        if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
            ttl = str(block["cache_control"].get("ttl") or "5m")
        out.append(_PromptBlock(running.copy().hexdigest(), total, ttl))
    return out


class PromptCache:
    """Cache entries keyed by prefix digest, expiring on the simulator's clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._entries: dict[str, float] = {}  # digest -> expires at (monotonic)
        self._lock = threading.Lock()

    def usage(self, blocks: list[_PromptBlock], min_tokens: int) -> dict[str, Any]:
        """The usage fields of a prompt (uncached input, cache creation split by TTL, cache
        read); writes and refreshes the cache entries like the API does."""
        total = blocks[-1].cumulative_tokens if blocks else 0
        now = self.clock.monotonic()
        breakpoints = [i for i, b in enumerate(blocks) if b.breakpoint_ttl]
        by_ttl = {"5m": 0, "1h": 0}
        with self._lock:
            hit = -1
            for bp in breakpoints:
                for pos in range(bp, max(-1, bp - LOOKBACK_BLOCKS - 1), -1):
                    if pos <= hit:
                        break
                    expires = self._entries.get(blocks[pos].digest)
                    if expires is not None and expires > now:
                        hit = pos
                        break
            read = blocks[hit].cumulative_tokens if hit >= 0 else 0
            if hit >= 0:
                ttl = next((blocks[b].breakpoint_ttl for b in breakpoints if b >= hit), "5m")
                self._entries[blocks[hit].digest] = now + CACHE_TTL.get(ttl or "5m", 300.0)
            written_to = read
            for bp in breakpoints:
                block = blocks[bp]
                if bp <= hit or block.cumulative_tokens < min_tokens:
                    continue
                ttl = block.breakpoint_ttl or "5m"
                self._entries[block.digest] = now + CACHE_TTL.get(ttl, 300.0)
                if block.cumulative_tokens > written_to:
                    by_ttl[ttl if ttl in by_ttl else "5m"] += block.cumulative_tokens - written_to
                    written_to = block.cumulative_tokens
        creation = written_to - read
        return {
            "input_tokens": total - read - creation,
            "cache_creation_input_tokens": creation,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": by_ttl["5m"],
                "ephemeral_1h_input_tokens": by_ttl["1h"],
            },
        }

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# --------------------------------------------------------------------------------------------
# Request validation
# --------------------------------------------------------------------------------------------


def validate_request(body: Any) -> None:
    if not isinstance(body, dict):
        raise _invalid("request body must be a JSON object")
    for key in body:
        if key not in TOP_LEVEL_FIELDS:
            raise _invalid(f"{key}: Extra inputs are not permitted")
    for key in ("model", "max_tokens", "messages"):
        if key not in body:
            raise _invalid(f"{key}: Field required")
    model = body["model"]
    if not isinstance(model, str):
        raise _invalid("model: Input should be a valid string")
    if model not in MODELS:
        raise SimulatorError(404, "not_found_error", f"model: {model}")
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _invalid("max_tokens: Input should be a valid integer greater than 0")
    if max_tokens > MODELS[model]["max_out"]:
        raise _invalid(
            f"max_tokens: {max_tokens} > {MODELS[model]['max_out']}, which is the maximum "
            f"allowed number of output tokens for {model}"
        )
    tool_names = _validate_tools(body.get("tools"))
    _validate_system(body.get("system"))
    _validate_messages(body["messages"], tool_names)
    breakpoints = sum(
        1
        for block in _all_blocks(body)
        if isinstance(block, dict) and block.get("cache_control") is not None
    )
    if breakpoints > 4:
        raise _invalid(
            f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}."
        )
    ttls = [
        str(block["cache_control"].get("ttl") or "5m")
        for block in _all_blocks(body)
        if isinstance(block, dict) and isinstance(block.get("cache_control"), dict)
    ]
    if "5m" in ttls and "1h" in ttls[ttls.index("5m") :]:
        raise _invalid(
            "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block"
        )
    choice = body.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind not in ("auto", "any", "tool", "none"):
            raise _invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if kind == "tool" and choice.get("name") not in tool_names:
            raise _invalid(f"tool_choice.name: tool {choice.get('name')!r} is not defined")


def _all_blocks(body: dict[str, Any]) -> list[Any]:
    blocks: list[Any] = list(body.get("tools") or [])
    if isinstance(body.get("system"), list):
        blocks += body["system"]
    for message in body.get("messages", []):
        if isinstance(message.get("content"), list):
            blocks += message["content"]
    return blocks


def _validate_tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise _invalid("tools: Input should be a valid list")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _invalid(f"tools.{i}: Input should be a valid dictionary")
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise _invalid(f"tools.{i}.custom.name: String should match pattern")
        if name in names:
            raise _invalid("tools: Tool names must be unique.")
        names.add(name)
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise _invalid(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
        extra = set(tool) - {"name", "description", "input_schema", "cache_control", "type"}
        if extra:
            raise _invalid(f"tools.{i}.custom.{sorted(extra)[0]}: Extra inputs are not permitted")
    return names


def _validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise _invalid("system: Input should be a valid string or list")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _invalid(f"system.{i}.type: Input should be 'text'")
        if not block.get("text"):
            raise _invalid("system: text content blocks must be non-empty")


def _validate_messages(messages: Any, tool_names: set[str]) -> None:
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages: at least one message is required")
    previous_tool_ids: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i == 0 and message["role"] != "user":
            raise _invalid('messages: first message must use the "user" role')
        content = message.get("content")
        if isinstance(content, str):
            if not content and not (i == len(messages) - 1 and message["role"] == "assistant"):
                raise _invalid(f"messages.{i}: text content blocks must be non-empty")
            blocks: list[Any] = [{"type": "text", "text": content}] if content else []
        elif isinstance(content, list):
            blocks = content
        else:
            raise _invalid(f"messages.{i}.content: Input should be a valid list")
        if not blocks and not (i == len(messages) - 1 and message["role"] == "assistant"):
            raise _invalid(f"messages.{i}: all messages must have non-empty content")
        tool_use_ids: list[str] = []
        result_ids: list[str] = []
        seen_other = False
        for j, block in enumerate(blocks):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                if not block.get("text"):
                    raise _invalid(
                        f"messages.{i}.content.{j}: text content blocks must be non-empty"
                    )
                seen_other = True
            elif kind == "tool_use":
                if message["role"] != "assistant":
                    raise _invalid(f"messages.{i}.content.{j}: tool_use only in assistant turns")
                if block.get("name") not in tool_names:
                    raise _invalid(
                        f"messages.{i}.content.{j}: tool_use names a tool that is not defined"
                    )
                tool_use_ids.append(str(block.get("id")))
            elif kind == "tool_result":
                if message["role"] != "user":
                    raise _invalid(f"messages.{i}.content.{j}: tool_result only in user turns")
                if seen_other:
                    raise _invalid(
                        f"messages.{i}.content.{j}: tool_result blocks must come FIRST in the "
                        "content array"
                    )
                result_ids.append(str(block.get("tool_use_id")))
            elif kind in ("thinking", "redacted_thinking", "image", "document"):
                seen_other = True
            else:
                raise _invalid(f"messages.{i}.content.{j}.type: unknown content block type")
        missing = [t for t in previous_tool_ids if t not in result_ids]
        if missing:
            raise _invalid(
                "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately "
                "after: {}. Each `tool_use` block must have a corresponding `tool_result` block "
                "in the next message.".format(i, ", ".join(missing))
            )
        unexpected = [r for r in result_ids if r not in previous_tool_ids]
        if unexpected:
            raise _invalid(
                f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{unexpected[0]}. Each `tool_result` block must have a corresponding "
                "`tool_use` block in the previous message."
            )
        previous_tool_ids = tool_use_ids
    if previous_tool_ids:
        raise _invalid(
            "messages: `tool_use` ids were found without `tool_result` blocks immediately after"
        )
    last = messages[-1]
    if last["role"] == "assistant":
        blocks = _content_blocks(last["content"])
        if blocks and blocks[-1].get("type") == "text":
            text = str(blocks[-1].get("text", ""))
            if text != text.rstrip():
                raise _invalid("final assistant content cannot end with trailing whitespace")


# --------------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------------


class ClaudeSimulator:
    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        clock: Clock = SYSTEM_CLOCK,
        stand_in: bool = False,
        stream_chunk_chars: int = 40,
    ) -> None:
        self.api_key = api_key
        self.clock = clock
        self.stand_in = stand_in
        self.stream_chunk_chars = stream_chunk_chars
        self.cache = PromptCache(clock)
        self.requests: list[dict[str, Any]] = []  # every accepted request body, in order
        self.headers: list[dict[str, str]] = []
        self.responses: list[dict[str, Any]] = []  # every message returned (final shape)
        self._script: deque[ReplySource] = deque()
        self._lock = threading.Lock()
        self._seq = 0

    # --- scripting ----------------------------------------------------------------------------
    def script(self, *replies: ReplySource) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def pending(self) -> int:
        return len(self._script)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.headers.clear()
            self.responses.clear()
        self.cache.clear()

    # --- the app ------------------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _models(self, request: Request) -> Response:
        auth = self._check_headers(request)
        if auth is not None:
            return auth
        data = [
            {
                "type": "model",
                "id": model_id,
                "display_name": info["display"],
                "created_at": "2025-09-29T00:00:00Z",
            }
            for model_id, info in MODELS.items()
        ]
        return JSONResponse(
            {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        )

    def _check_headers(self, request: Request) -> Response | None:
        # The API takes `x-api-key`; SDK 2.x sends `Authorization: Bearer <key>`.
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if self.api_key not in (request.headers.get("x-api-key"), bearer):
            return _error_response(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error_response(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        return None

    async def _messages(self, request: Request) -> Response:
        bad = self._check_headers(request)
        if bad is not None:
            return bad
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error_response(400, "invalid_request_error", "request body is not valid JSON")
        try:
            validate_request(body)
        except SimulatorError as exc:
            return _error_response(exc.status, exc.error_type, exc.message)
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            source = self._script.popleft() if self._script else None
            self._seq += 1
            seq = self._seq
        if source is None:
            if not self.stand_in:
                return _error_response(500, "api_error", "simulator: no scripted reply left")
            reply = stand_in_reply(body)
        else:
            reply = source(body) if callable(source) else source
        if reply.error_status is not None and not reply.stream_error:
            headers = {}
            if reply.retry_after is not None:
                headers["retry-after"] = str(reply.retry_after)
            return _error_response(
                reply.error_status, reply.error_type, reply.error_message, headers
            )
        message = self._build_message(body, reply, seq)
        self.responses.append(message)
        if body.get("stream"):
            return StreamingResponse(
                self._sse(message, reply),
                media_type="text/event-stream",
                headers={"request-id": f"req_sim_{seq:06d}", "cache-control": "no-cache"},
            )
        return JSONResponse(message, headers={"request-id": f"req_sim_{seq:06d}"})

    def _build_message(self, body: dict[str, Any], reply: Reply, seq: int) -> dict[str, Any]:
        model = body["model"]
        content: list[dict[str, Any]] = []
        for i, block in enumerate(reply.content):
            block = dict(block)
            if block["type"] == "tool_use":
                block.setdefault("id", f"toolu_sim{seq:05d}{i:02d}")
            content.append(block)
        stop_reason = reply.stop_reason or (
            "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
        )
        # Enforce max_tokens: cut the content where the budget runs out.
        budget = int(body["max_tokens"])
        kept: list[dict[str, Any]] = []
        used = 0
        for block in content:
            cost = count_tokens(_canonical(block))
            if used + cost <= budget:
                kept.append(block)
                used += cost
                continue
            if block["type"] == "text":
                room = max(budget - used, 0) * 4
                if room:
                    kept.append({"type": "text", "text": block["text"][:room]})
                    used = budget
            stop_reason = "max_tokens"
            break
        scope = f"{self.api_key}|{model}"
        usage = self.cache.usage(prompt_blocks(body, scope), MODELS[model]["min_cache"])
        usage["output_tokens"] = max(used, 1)
        return {
            "id": f"msg_sim{seq:06d}{uuid.uuid4().hex[:8]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": kept,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "stop_details": reply.stop_details if stop_reason == "refusal" else None,
            "usage": usage,
        }

    async def _sse(self, message: dict[str, Any], reply: Reply) -> AsyncIterator[bytes]:
        start = dict(message, content=[], stop_reason=None, stop_details=None)
        start["usage"] = dict(message["usage"], output_tokens=1)
        yield _event("message_start", {"type": "message_start", "message": start})
        yield _event("ping", {"type": "ping"})
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                yield _event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                text = block["text"]
                for pos in range(0, len(text), self.stream_chunk_chars):
                    piece = text[pos : pos + self.stream_chunk_chars]
                    delta = {"type": "text_delta", "text": piece}
                    yield _event(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
            else:
                yield _event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": block["id"],
                            "name": block["name"],
                            "input": {},
                        },
                    },
                )
                raw = json.dumps(block["input"], ensure_ascii=False)
                for pos in range(0, len(raw), self.stream_chunk_chars):
                    delta = {
                        "type": "input_json_delta",
                        "partial_json": raw[pos : pos + self.stream_chunk_chars],
                    }
                    yield _event(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
            yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        if reply.stream_error:  # after whatever content was scripted, like a dropped generation
            yield _event(
                "error",
                {
                    "type": "error",
                    "error": {"type": reply.error_type, "message": reply.error_message},
                },
            )
            return
        yield _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": None,
                    "stop_details": message["stop_details"],
                },
                "usage": message["usage"],
            },
        )
        yield _event("message_stop", {"type": "message_stop"})


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _error_response(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": f"req_sim_err_{uuid.uuid4().hex[:10]}",
        },
        status_code=status,
        headers=headers,
    )


# --------------------------------------------------------------------------------------------
# Offline stand-in (demo without ANTHROPIC_API_KEY)
# --------------------------------------------------------------------------------------------

# (question pattern, words that a matching tool's name must contain)
STAND_IN_RULES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (
        re.compile(r"sa[uú]de|status|integra[cç]|fora do ar|funcionand", re.I),
        ("health",),
    ),
    (re.compile(r"duplicad", re.I), ("duplicate",)),
    (re.compile(r"\bips?\b|suspeit", re.I), ("ip",)),
    (
        re.compile(r"custo|gast|openai|anthropic|d[oó]lar|us\$|or[cç]amento", re.I),
        ("cost", "spend"),
    ),
)


def _last_user_text(body: dict[str, Any]) -> str:
    last = body["messages"][-1]
    texts = [
        str(b.get("text", ""))
        for b in _content_blocks(last["content"])
        if isinstance(b, dict) and b.get("type") == "text"
    ]
    return texts[-1] if texts else ""


def _fill_input(tool: dict[str, Any], question: str) -> dict[str, Any] | None:
    """Arguments for a tool from its schema alone; None when a required value can't be guessed."""
    schema = tool.get("input_schema", {})
    props: dict[str, Any] = schema.get("properties", {})
    args: dict[str, Any] = {}
    for name in schema.get("required", []):
        prop = props.get(name, {})
        if "default" in prop:
            args[name] = prop["default"]
        elif prop.get("enum"):
            args[name] = prop["enum"][0]
        elif name in ("query", "question", "pergunta") and prop.get("type") == "string":
            args[name] = question
        else:
            return None
    return args


def stand_in_reply(body: dict[str, Any]) -> Reply:
    """Keyword rules standing in for Claude in the offline demo."""
    messages = body["messages"]
    last = messages[-1]
    blocks = _content_blocks(last["content"])
    if last["role"] == "user" and any(b.get("type") == "tool_result" for b in blocks):
        return Reply.text(_stand_in_summary(messages))
    question = _last_user_text(body)
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    by_name = {t["name"]: t for t in tools}
    calls: list[tuple[str, dict[str, Any]]] = []
    for pattern, words in STAND_IN_RULES:
        if not pattern.search(question):
            continue
        for tool in tools:
            parts = re.split(r"[_\-.]", tool["name"].lower())
            matches = any(
                p == w or p == w + "s" or (len(w) > 3 and p.startswith(w))
                for p in parts
                for w in words
            )
            if matches and not any(p.startswith("cancel") for p in parts):
                args = _fill_input(tool, question)
                if args is not None and tool["name"] not in dict(calls):
                    calls.append((tool["name"], args))
                    break
    if not calls and "search_docs" in by_name:
        calls.append(("search_docs", {"query": question}))
    if calls:
        return Reply.tools(calls)
    return Reply.text(
        f"{STAND_IN_NOTICE}\n\nNão encontrei uma ferramenta para essa pergunta. "
        "Tente perguntar sobre custos de IA, pedidos duplicados, IPs suspeitos ou a saúde "
        "das integrações."
    )


def _stand_in_summary(messages: list[dict[str, Any]]) -> str:
    names: dict[str, str] = {}
    for message in messages:
        if message["role"] == "assistant":
            for block in _content_blocks(message["content"]):
                if block.get("type") == "tool_use":
                    names[str(block["id"])] = str(block["name"])
    parts = [STAND_IN_NOTICE, ""]
    for block in _content_blocks(messages[-1]["content"]):
        if block.get("type") != "tool_result":
            continue
        name = names.get(str(block.get("tool_use_id")), "ferramenta")
        raw = block.get("content")
        text = (
            raw
            if isinstance(raw, str)
            else " ".join(str(b.get("text", "")) for b in raw or [] if isinstance(b, dict))
        )
        data = _extract_data(text)
        if block.get("is_error"):
            parts.append(f"• `{name}` falhou: {str(data)[:300]}")
        elif name == "search_docs" and isinstance(data, dict):
            results = data.get("results") or []
            if not results:
                parts.append("• Não achei nada nos guias sobre isso.")
            for hit in results[:3]:
                parts.append(
                    f"• Segundo o guia *{hit.get('guide')}* ({hit.get('section')}): "
                    f"{hit.get('snippet')}"
                )
            if results:
                parts.append(f"\nFonte: guia *{results[0].get('guide')}*.")
        else:
            parts.append(f"• Resultado de `{name}`:")
            parts.extend(_render(data))
    return "\n".join(parts).strip()


def _render(data: Any, depth: int = 1, budget: list[int] | None = None) -> list[str]:
    """A tool result as a short indented list (at most ~30 lines), not raw JSON."""
    budget = budget if budget is not None else [30]
    pad = "  " * depth
    lines: list[str] = []

    def add(line: str) -> bool:
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        lines.append(line)
        if budget[0] == 0:
            lines.append(f"{pad}…")
        return True

    if isinstance(data, dict):
        for key, value in data.items():
            if value in (None, [], {}, ""):
                continue
            if isinstance(value, dict | list) and depth < 3:
                if not add(f"{pad}- {key}:"):
                    break
                lines.extend(_render(value, depth + 1, budget))
            elif not add(f"{pad}- {key}: {_short(value)}"):
                break
    elif isinstance(data, list):
        for item in data[:8]:
            if isinstance(item, dict) and depth < 3:
                label = next((str(item[k]) for k in ("name", "id", "title") if k in item), "")
                if not add(f"{pad}- {label}".rstrip()):
                    break
                rest = {k: v for k, v in item.items() if k not in ("name", "id", "title")}
                lines.extend(_render(rest, depth + 1, budget))
            elif not add(f"{pad}- {_short(item)}"):
                break
        if len(data) > 8:
            add(f"{pad}- … e mais {len(data) - 8}")
    else:
        add(f"{pad}{_short(data)}")
    return lines


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


def _extract_data(text: str) -> Any:
    match = re.search(r"<tool_result_data[^>]*>\n?(.*)\n?</tool_result_data>", text, re.S)
    inner = match.group(1) if match else text
    try:
        return json.loads(inner)
    except ValueError:
        return inner


# --------------------------------------------------------------------------------------------
# Demo
# --------------------------------------------------------------------------------------------


def demo_setup(env: DemoEnvironment) -> dict[str, Any]:
    """Use real Claude when ANTHROPIC_API_KEY is set; otherwise start the offline stand-in."""
    import os

    from integrations.runtime.harness import SimulatorServer

    if _real_key_configured(os.environ):
        return {}
    sim = ClaudeSimulator(stand_in=True)
    server = env.add_simulator("claude", SimulatorServer(sim.app(), name="claude"))
    env.extras["claude_simulator"] = sim
    return {"anthropic_api_key": API_KEY, "anthropic_base_url": server.base_url}


def _real_key_configured(environ: Any) -> bool:
    """ANTHROPIC_API_KEY in the environment or in `.env` (what Settings would read)."""
    if str(environ.get("ANTHROPIC_API_KEY", "")).strip():
        return True
    try:
        from bot.settings import load_settings

        key = load_settings().anthropic_api_key
    except Exception:
        return False
    return key is not None and bool(key.get_secret_value().strip())
