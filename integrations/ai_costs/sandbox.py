"""Simulators of the OpenAI and Anthropic admin usage/cost APIs, with a seeded history.

Both serve a deterministic history (`history_days` back from the simulator's start day) with a
weekly pattern (weekends cost about half), a slow growth trend, noise, and spikes on chosen
days (one project/workspace spends ~8× its normal amount). Today's bucket is partial (scaled by
the part of the day already elapsed on the simulator's clock).

They follow the vendors' published behaviour: required parameters and page limits are checked
(400 with the vendor's error shape), an unknown key is 401, a project/standard key or a key
without the usage scope is 403, pagination is cursor based (`page` / `next_page`), days without
spend come back as buckets with empty results, and `group_by` accepts both `group_by=a` and
`group_by[]=a`. Every OpenAI response validates against the official OpenAPI spec (a test).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from bot.sandbox.environment import DemoEnvironment

DAY = 86_400
OPENAI_ADMIN_KEY = "sk-admin-simulated-0000000000000000"
ANTHROPIC_ADMIN_KEY = "sk-ant-admin01-simulated-000000000000"

OPENAI_MODELS: tuple[tuple[str, float], ...] = (
    # (model, USD per 1M input tokens); cached input = 10 %, output = 4×
    ("gpt-4o-2024-08-06", 2.5),
    ("gpt-4o-mini-2024-07-18", 0.15),
    ("gpt-4.1-2025-04-14", 2.0),
    ("gpt-4.1-mini-2025-04-14", 0.4),
    ("gpt-4.1-nano-2025-04-14", 0.1),
    ("gpt-5-2025-08-07", 1.25),
    ("gpt-5-mini-2025-08-07", 0.25),
    ("o3-2025-04-16", 2.0),
    ("o4-mini-2025-04-16", 1.1),
    ("gpt-5.1-2025-11-13", 1.25),
)
OPENAI_KINDS: tuple[tuple[str, float], ...] = (
    ("input", 1.0),
    ("cached input", 0.1),
    ("output", 4.0),
)
OPENAI_EXTRA_ITEMS = ("web search tool calls", "file search tool calls", "fine-tuning training")
PROJECT_NAMES = (
    "Loja Brasil",
    "Loja México",
    "Loja Colômbia",
    "Atendimento WhatsApp",
    "Novidades Dropi",
    "Catálogo Europa",
    "Tradução de anúncios",
    "Criativos Meta",
    "SAC e-mail",
    "Roteirização",
)


# --------------------------------------------------------------------------------------------
# seeded history
# --------------------------------------------------------------------------------------------


def weekday_factor(day: date) -> float:
    """Weekdays busy, weekends about half (the weekly pattern the spike detector must ignore)."""
    return (1.0, 1.05, 1.0, 0.97, 0.92, 0.55, 0.45)[day.weekday()]


@dataclass
class History:
    seed: int
    start: date  # first day with data
    today: date  # the simulator's start day (last day with data, partial)
    spike_days: frozenset[date]
    spike_factor: float = 8.0

    def trend(self, day: date) -> float:
        span = max((self.today - self.start).days, 1)
        return 0.75 + 0.25 * (day - self.start).days / span

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def day_scale(self, day: date) -> float:
        if day < self.start or day > self.today:
            return 0.0
        return weekday_factor(day) * self.trend(day)


@dataclass(frozen=True)
class OpenAIEntry:
    project_id: str
    api_key_id: str
    line_item: str
    model: str | None
    kind: str | None
    amount: float
    quantity: float | None


class OpenAIData:
    def __init__(self, history: History, *, projects: int, line_items: int) -> None:
        self.h = history
        self.projects = [
            (f"proj_{_hex(history.seed, 'p', i)}", _project_name(i)) for i in range(projects)
        ]
        self.keys = {
            pid: [f"key_{_hex(history.seed, 'k', i, j)}" for j in range(2)]
            for i, (pid, _) in enumerate(self.projects)
        }
        items: list[tuple[str, str | None, str | None, float]] = []
        for model, price in OPENAI_MODELS:
            for kind, factor in OPENAI_KINDS:
                items.append((f"{model}, {kind}", model, kind, price * factor))
        items += [(name, None, None, 0.0) for name in OPENAI_EXTRA_ITEMS]
        while len(items) < line_items:
            n = len(items)
            items.append((f"custom-model-{n}, input", f"custom-model-{n}", "input", 1.0))
        self.items = items[:line_items]
        rng = history.rng("openai-base")
        self.base = {
            (pid, idx): rng.lognormvariate(-1.9, 0.9)
            for pid, _ in self.projects
            for idx in range(len(self.items))
        }
        self.spike_project = self.projects[min(3, len(self.projects) - 1)][0]
        self._cache: dict[date, list[OpenAIEntry]] = {}

    def entries(self, day: date) -> list[OpenAIEntry]:
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        scale = self.h.day_scale(day)
        out: list[OpenAIEntry] = []
        if scale > 0:
            rng = self.h.rng("openai", day.isoformat())
            for pid, _ in self.projects:
                spike = (
                    self.h.spike_factor
                    if day in self.h.spike_days and pid == self.spike_project
                    else 1.0
                )
                for idx, (name, model, kind, price) in enumerate(self.items):
                    noise = rng.uniform(0.85, 1.15)
                    if rng.random() < 0.04:  # some days an item is not used at all
                        continue
                    amount = round(self.base[(pid, idx)] * scale * noise * spike, 9)
                    quantity = round(amount / price * 1_000_000) if price else None
                    key = self.keys[pid][idx % 2]
                    out.append(OpenAIEntry(pid, key, name, model, kind, amount, quantity))
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[day] = out
        return out


@dataclass(frozen=True)
class AnthropicEntry:
    workspace_id: str | None
    api_key_id: str
    model: str
    model_label: str
    token_type: str
    tokens: int
    cents: Decimal


ANTHROPIC_MODELS: tuple[tuple[str, str, Decimal, Decimal], ...] = (
    # model, label, USD/MTok input, output
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", Decimal(3), Decimal(15)),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", Decimal(1), Decimal(5)),
    ("claude-opus-4-5-20251101", "Claude Opus 4.5", Decimal(5), Decimal(25)),
)
ANTHROPIC_TOKEN_TYPES: tuple[tuple[str, str, Decimal], ...] = (
    # token_type, description suffix, price multiplier of the input price
    ("uncached_input_tokens", "Input Tokens", Decimal(1)),
    ("cache_read_input_tokens", "Cache Read Input Tokens", Decimal("0.1")),
    ("cache_creation.ephemeral_5m_input_tokens", "Cache Write 5m Input Tokens", Decimal("1.25")),
    ("output_tokens", "Output Tokens", Decimal(0)),  # priced with the output price
)


class AnthropicData:
    def __init__(self, history: History, *, workspaces: int) -> None:
        self.h = history
        self.workspaces: list[tuple[str | None, str]] = [(None, "Default")] + [
            (f"wrkspc_{_hex(history.seed, 'w', i)}", _project_name(i)) for i in range(workspaces)
        ]
        self.keys = {
            ws: [f"apikey_{_hex(history.seed, 'ak', i, j)}" for j in range(2)]
            for i, (ws, _) in enumerate(self.workspaces)
        }
        rng = history.rng("anthropic-base")
        self.base = {
            (ws, m[0]): rng.lognormvariate(13.0, 0.8)  # uncached input tokens per day
            for ws, _ in self.workspaces
            for m in ANTHROPIC_MODELS
        }
        self.spike_workspace = self.workspaces[min(1, len(self.workspaces) - 1)][0]
        self._cache: dict[date, list[AnthropicEntry]] = {}

    def entries(self, day: date) -> list[AnthropicEntry]:
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        scale = self.h.day_scale(day)
        out: list[AnthropicEntry] = []
        if scale > 0:
            rng = self.h.rng("anthropic", day.isoformat())
            for ws, _ in self.workspaces:
                spike = (
                    self.h.spike_factor
                    if day in self.h.spike_days and ws == self.spike_workspace
                    else 1.0
                )
                for idx, (model, label, inp, outp) in enumerate(ANTHROPIC_MODELS):
                    base = self.base[(ws, model)] * scale * spike * rng.uniform(0.85, 1.15)
                    key = self.keys[ws][idx % 2]
                    shares = {
                        "uncached_input_tokens": base,
                        "cache_read_input_tokens": base * 2.5,
                        "cache_creation.ephemeral_5m_input_tokens": base * 0.2,
                        "output_tokens": base * 0.25,
                    }
                    for token_type, _suffix, mult in ANTHROPIC_TOKEN_TYPES:
                        tokens = int(shares[token_type])
                        price = outp if token_type == "output_tokens" else inp * mult
                        cents = (Decimal(tokens) * price * 100 / 1_000_000).quantize(
                            Decimal("0.000001")
                        )
                        out.append(AnthropicEntry(ws, key, model, label, token_type, tokens, cents))
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[day] = out
        return out


def _hex(seed: int, *parts: object) -> str:
    return (
        random.Random(":".join(str(p) for p in (seed, *parts)))
        .getrandbits(96)
        .to_bytes(12, "big")
        .hex()
    )


def _project_name(i: int) -> str:
    base = PROJECT_NAMES[i % len(PROJECT_NAMES)]
    return base if i < len(PROJECT_NAMES) else f"{base} {i // len(PROJECT_NAMES) + 1}"


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------


def _encode_cursor(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return "page_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(value: str) -> dict[str, Any] | None:
    if not value.startswith("page_"):
        return None
    body = value[5:]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, json.JSONDecodeError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _multi(request: Request, name: str) -> list[str]:
    """Array query parameters in both spellings: `name=a&name=b` and `name[]=a&name[]=b`."""
    values = request.query_params.getlist(name) + request.query_params.getlist(f"{name}[]")
    out: list[str] = []
    for value in values:
        out.extend(part for part in value.split(",") if part)
    return out


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _int_param(request: Request, name: str, *, required: bool = False) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise _BadRequest(f"Missing required parameter: '{name}'.", name)
        return None
    try:
        return int(raw)
    except ValueError:
        raise _BadRequest(f"Invalid type for '{name}': expected an integer.", name) from None


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# --------------------------------------------------------------------------------------------
# OpenAI
# --------------------------------------------------------------------------------------------

COSTS_GROUPS = ("project_id", "line_item", "api_key_id")
COSTS_GROUPS_LEGACY = ("project_id", "line_item")
USAGE_GROUPS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
USAGE_WIDTHS = {"1d": (DAY, 7, 31), "1h": (3600, 24, 168), "1m": (60, 60, 1440)}


@dataclass
class OpenAISimulator:
    clock: Clock = SYSTEM_CLOCK
    seed: int = 42
    projects: int = 20
    line_items: int = 30
    history_days: int = 400
    spike_days_ago: Sequence[int] = (1, 60)
    legacy_shape: bool = False  # older spec: results without api_key_id, no api_key_id grouping
    admin_keys: frozenset[str] = frozenset({OPENAI_ADMIN_KEY})
    # admin keys created without the api.usage.read scope
    unscoped_keys: frozenset[str] = frozenset()
    requests: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        today = self.clock.now().date()
        self.history = History(
            self.seed,
            today - timedelta(days=self.history_days),
            today,
            frozenset(today - timedelta(days=n) for n in self.spike_days_ago),
        )
        self.data = OpenAIData(self.history, projects=self.projects, line_items=self.line_items)

    # -- expected values, for tests and benchmarks -------------------------------------------
    def total(self, start: date, end: date) -> Decimal:
        """Exact sum of what the API reports for complete days in [start, end)."""
        total = Decimal(0)
        day = start
        while day < end:
            total += sum((Decimal(str(e.amount)) for e in self.data.entries(day)), Decimal(0))
            day += timedelta(days=1)
        return total

    # -- app -----------------------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/organization/costs", self._guard(self.costs)),
                Route("/v1/organization/usage/completions", self._guard(self.usage_completions)),
                Route("/v1/organization/projects", self._guard(self.list_projects)),
                Route(
                    "/v1/organization/projects/{project_id}/api_keys",
                    self._guard(self.list_project_keys),
                ),
            ]
        )

    def _guard(self, handler: Callable[[Request], JSONResponse]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> JSONResponse:
            self.requests[request.url.path] = self.requests.get(request.url.path, 0) + 1
            auth = request.headers.get("authorization", "")
            key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
            if not key:
                return _openai_error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    code=None,
                )
            if key.startswith(("sk-proj-", "sk-svcacct-")) or key in self.unscoped_keys:
                return _openai_error(
                    403,
                    "You have insufficient permissions for this operation. Missing scopes: "
                    "api.usage.read. Check that you have the correct role in your organization "
                    "(Reader, Writer, Owner) and project (Member, Owner), and if you're using a "
                    "restricted API key, that it has the necessary scopes.",
                    type_="invalid_request_error",
                    code=None,
                )
            if key not in self.admin_keys:
                return _openai_error(
                    401,
                    f"Incorrect API key provided: {key[:6]}{'*' * 10}{key[-4:]}. You can find "
                    "your API key at https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                )
            try:
                return handler(request)
            except _BadRequest as exc:
                return _openai_error(400, exc.message, param=exc.param, code=None)

        return endpoint

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    def _window(
        self, request: Request, width: int, default_limit: int, max_limit: int
    ) -> tuple[int, int, int]:
        start = _int_param(request, "start_time", required=True)
        assert start is not None
        end = _int_param(request, "end_time")
        now = self._now()
        if end is not None and end <= start:
            raise _BadRequest("end_time must be after start_time.", "end_time")
        # without end_time the range ends now (a start in the future gives an empty page)
        end = min(end if end is not None else now, now + width)
        limit = _int_param(request, "limit")
        if limit is None:
            limit = default_limit
        if not 1 <= limit <= max_limit:
            raise _BadRequest(
                f"Invalid value for 'limit': must be between 1 and {max_limit}.", "limit"
            )
        page = request.query_params.get("page")
        if page:
            cursor = _decode_cursor(page)
            if cursor is None or not isinstance(cursor.get("t"), int) or cursor.get("s") != start:
                raise _BadRequest("Invalid page cursor.", "page")
            start = int(cursor["t"])
        return start, end, limit

    def _buckets(
        self,
        request: Request,
        width: int,
        default_limit: int,
        max_limit: int,
        results_for: Callable[[int, int], list[dict[str, Any]]],
    ) -> JSONResponse:
        first = _int_param(request, "start_time", required=True)
        start, end, limit = self._window(request, width, default_limit, max_limit)
        now = self._now()
        buckets: list[dict[str, Any]] = []
        t = start
        while t < end and t <= now and len(buckets) < limit:
            buckets.append(
                {
                    "object": "bucket",
                    "start_time": t,
                    "end_time": t + width,
                    "results": results_for(t, t + width),
                }
            )
            t += width
        has_more = t < end and t <= now
        next_page = _encode_cursor({"s": first, "t": t}) if has_more else None
        return JSONResponse(
            {"object": "page", "data": buckets, "has_more": has_more, "next_page": next_page}
        )

    def _fraction(self, t0: int, t1: int) -> float:
        """Part of [t0, t1) already elapsed (today's bucket is partial)."""
        now = self._now()
        return max(0.0, min(1.0, (now - t0) / (t1 - t0)))

    def costs(self, request: Request) -> JSONResponse:
        width = request.query_params.get("bucket_width", "1d")
        if width != "1d":
            raise _BadRequest(
                "Invalid value for 'bucket_width': only '1d' is supported.", "bucket_width"
            )
        allowed = COSTS_GROUPS_LEGACY if self.legacy_shape else COSTS_GROUPS
        groups = _multi(request, "group_by")
        for g in groups:
            if g not in allowed:
                raise _BadRequest(
                    f"Invalid value for 'group_by': {g!r} is not supported.", "group_by"
                )
        projects = set(_multi(request, "project_ids"))
        keys = set(_multi(request, "api_key_ids"))

        def results(t0: int, t1: int) -> list[dict[str, Any]]:
            day = _utc(t0).date()
            frac = self._fraction(t0, t1)
            acc: dict[tuple[Any, ...], list[float]] = {}
            for e in self.data.entries(day):
                if (projects and e.project_id not in projects) or (
                    keys and e.api_key_id not in keys
                ):
                    continue
                k = tuple(getattr(e, g) if g in groups else None for g in allowed)
                slot = acc.setdefault(k, [0.0, 0.0])
                slot[0] += e.amount * frac
                slot[1] += (e.quantity or 0) * frac
            out = []
            for k, (amount, quantity) in acc.items():
                dims = dict(zip(allowed, k, strict=True))
                row: dict[str, Any] = {
                    "object": "organization.costs.result",
                    "amount": {"value": round(amount, 9), "currency": "usd"},
                    "line_item": dims.get("line_item"),
                    "project_id": dims.get("project_id"),
                }
                if not self.legacy_shape:
                    row["api_key_id"] = dims.get("api_key_id")
                    has_qty = "line_item" in groups and quantity > 0
                    row["quantity"] = round(quantity) if has_qty else None
                    row["quantity_unit"] = "tokens" if has_qty else None
                out.append(row)
            return out

        return self._buckets(request, DAY, 7, 180, results)

    def usage_completions(self, request: Request) -> JSONResponse:
        width_name = request.query_params.get("bucket_width", "1d")
        if width_name not in USAGE_WIDTHS:
            raise _BadRequest("Invalid value for 'bucket_width'.", "bucket_width")
        width, default_limit, max_limit = USAGE_WIDTHS[width_name]
        groups = _multi(request, "group_by")
        for g in groups:
            if g not in USAGE_GROUPS:
                raise _BadRequest(
                    f"Invalid value for 'group_by': {g!r} is not supported.", "group_by"
                )
        projects = set(_multi(request, "project_ids"))
        keys = set(_multi(request, "api_key_ids"))
        models = set(_multi(request, "models"))

        def results(t0: int, t1: int) -> list[dict[str, Any]]:
            day_start = _utc(t0 - t0 % DAY)
            share = (t1 - t0) / DAY * self._fraction(t0, t1)
            acc: dict[tuple[Any, ...], dict[str, float]] = {}
            for e in self.data.entries(day_start.date()):
                if e.model is None or e.quantity is None:
                    continue
                if (projects and e.project_id not in projects) or (
                    keys and e.api_key_id not in keys
                ):
                    continue
                if models and e.model not in models:
                    continue
                dims = {
                    "project_id": e.project_id,
                    "user_id": None,
                    "api_key_id": e.api_key_id,
                    "model": e.model,
                    "batch": False,
                    "service_tier": "default",
                }
                k = tuple(dims[g] if g in groups else None for g in USAGE_GROUPS)
                slot = acc.setdefault(k, {"in": 0.0, "cached": 0.0, "out": 0.0})
                q = e.quantity * share
                if e.kind == "input":
                    slot["in"] += q
                elif e.kind == "cached input":
                    slot["cached"] += q
                else:
                    slot["out"] += q
            out = []
            for k, v in acc.items():
                dims2 = dict(zip(USAGE_GROUPS, k, strict=True))
                cached = int(v["cached"])
                uncached = int(v["in"])
                output = int(v["out"])
                out.append(
                    {
                        "object": "organization.usage.completions.result",
                        "input_tokens": uncached + cached,
                        "input_cached_tokens": cached,
                        "input_cache_write_tokens": 0,
                        "input_uncached_tokens": uncached,
                        "output_tokens": output,
                        "num_model_requests": max(1, output // 700) if output else 0,
                        **dims2,
                    }
                )
            return out

        return self._buckets(request, width, default_limit, max_limit, results)

    def list_projects(self, request: Request) -> JSONResponse:
        limit = _int_param(request, "limit") or 20
        if not 1 <= limit <= 100:
            raise _BadRequest("Invalid value for 'limit': must be between 1 and 100.", "limit")
        after = request.query_params.get("after")
        ids = [pid for pid, _ in self.data.projects]
        start = ids.index(after) + 1 if after in ids else 0
        if after and after not in ids:
            raise _BadRequest(f"No project found with id '{after}'.", "after")
        page = self.data.projects[start : start + limit]
        created = int(datetime.combine(self.history.start, datetime.min.time(), UTC).timestamp())
        data = [
            {
                "id": pid,
                "object": "organization.project",
                "name": name,
                "created_at": created,
                "archived_at": None,
                "status": "active",
            }
            for pid, name in page
        ]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": start + limit < len(ids),
            }
        )

    def list_project_keys(self, request: Request) -> JSONResponse:
        project_id = request.path_params["project_id"]
        if project_id not in self.data.keys:
            return _openai_error(404, f"No project found with id '{project_id}'.", code=None)
        limit = _int_param(request, "limit") or 20
        if not 1 <= limit <= 100:
            raise _BadRequest("Invalid value for 'limit': must be between 1 and 100.", "limit")
        keys = self.data.keys[project_id]
        after = request.query_params.get("after")
        start = keys.index(after) + 1 if after in keys else 0
        created = int(datetime.combine(self.history.start, datetime.min.time(), UTC).timestamp())
        data = [
            {
                "object": "organization.project.api_key",
                "redacted_value": f"sk-proj-****{kid[-4:]}",
                "name": f"{'produção' if n == 0 else 'automação'} {kid[-4:]}",
                "created_at": created,
                "last_used_at": self._now() - 3600,
                "id": kid,
                "owner_project_access": "active",
                "owner": {
                    "type": "service_account",
                    "service_account": {
                        "id": f"svc_acct_{kid[-8:]}",
                        "name": "chegou-bot",
                        "created_at": created,
                        "role": "member",
                    },
                },
            }
            for n, kid in enumerate(keys[start : start + limit], start=start)
        ]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": start + limit < len(keys),
            }
        )


def _openai_error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        status_code=status,
    )


# --------------------------------------------------------------------------------------------
# Anthropic
# --------------------------------------------------------------------------------------------

ANTHROPIC_COST_GROUPS = ("workspace_id", "description")
ANTHROPIC_USAGE_GROUPS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
)
ANALYTICS_BETA = "analytics-usage-cost-2026-08-24"
ANALYTICS_COST_GROUPS = ("workspace_id", "api_key_id", "model", "cost_type", "token_type")
# every group_by the real endpoint accepts (the simulated data only varies by the ones above)
ANALYTICS_ALLOWED_GROUPS = (
    *ANALYTICS_COST_GROUPS,
    "actor",
    "actor_type",
    "agent_id",
    "claude_tag_category",
    "claude_tag_user_id",
    "context_window",
    "deployment_id",
    "environment_id",
    "inference_geo",
    "organization_id",
    "product",
    "rbac_group_id",
    "service_tier",
    "session_id",
    "slack_channel_id",
    "speed",
    "user_profile_id",
)
ANTHROPIC_USAGE_WIDTHS = {"1d": (DAY, 7, 31), "1h": (3600, 24, 168), "1m": (60, 60, 1440)}


def _rfc3339(ts: int) -> str:
    return _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_rfc3339(value: str, name: str) -> int:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRequest(f"{name}: invalid RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise _BadRequest(f"{name}: timestamp must include a time zone")
    return int(parsed.timestamp())


@dataclass
class AnthropicSimulator:
    clock: Clock = SYSTEM_CLOCK
    seed: int = 42
    workspaces: int = 5
    history_days: int = 400
    spike_days_ago: Sequence[int] = (1, 60)
    admin_keys: frozenset[str] = frozenset({ANTHROPIC_ADMIN_KEY})
    requests: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        today = self.clock.now().date()
        self.history = History(
            self.seed + 1,
            today - timedelta(days=self.history_days),
            today,
            frozenset(today - timedelta(days=n) for n in self.spike_days_ago),
        )
        self.data = AnthropicData(self.history, workspaces=self.workspaces)

    def total(self, start: date, end: date) -> Decimal:
        """Exact USD total the cost report gives for complete days in [start, end)."""
        total = Decimal(0)
        day = start
        while day < end:
            total += sum((e.cents for e in self.data.entries(day)), Decimal(0))
            day += timedelta(days=1)
        return total / 100

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/organizations/cost_report", self._guard(self.cost_report)),
                Route("/v1/organizations/usage_report/messages", self._guard(self.usage_messages)),
                Route("/v1/organizations/analytics/cost", self._guard(self.analytics_cost)),
                Route("/v1/organizations/me", self._guard(self.me)),
                Route("/v1/organizations/workspaces", self._guard(self.list_workspaces)),
                Route("/v1/organizations/api_keys", self._guard(self.list_api_keys)),
            ]
        )

    def _guard(self, handler: Callable[[Request], JSONResponse]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> JSONResponse:
            self.requests[request.url.path] = self.requests.get(request.url.path, 0) + 1
            key = request.headers.get("x-api-key", "")
            if not request.headers.get("anthropic-version"):
                return _anthropic_error(
                    400, "invalid_request_error", "anthropic-version: header is required"
                )
            if not key:
                return _anthropic_error(401, "authentication_error", "x-api-key header is required")
            if key.startswith("sk-ant-api"):
                return _anthropic_error(
                    403,
                    "permission_error",
                    "This endpoint requires an Admin API key (sk-ant-admin...).",
                )
            if key not in self.admin_keys:
                return _anthropic_error(401, "authentication_error", "invalid x-api-key")
            try:
                return handler(request)
            except _BadRequest as exc:
                return _anthropic_error(400, "invalid_request_error", exc.message)

        return endpoint

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    def _buckets(
        self,
        request: Request,
        widths: dict[str, tuple[int, int, int]],
        results_for: Callable[[int, int], list[dict[str, Any]]],
    ) -> JSONResponse:
        raw_start = request.query_params.get("starting_at")
        if not raw_start:
            raise _BadRequest("starting_at: Field required")
        first = _parse_rfc3339(raw_start, "starting_at")
        width_name = request.query_params.get("bucket_width", "1d")
        if width_name not in widths:
            raise _BadRequest(f"bucket_width: Input should be {' or '.join(widths)}")
        width, default_limit, max_limit = widths[width_name]
        raw_end = request.query_params.get("ending_at")
        now = self._now()
        end = _parse_rfc3339(raw_end, "ending_at") if raw_end else now
        if raw_end and end <= first:
            raise _BadRequest("ending_at: must be after starting_at")
        limit = _int_param(request, "limit")
        if limit is None:
            limit = default_limit
        if not 1 <= limit <= max_limit:
            raise _BadRequest(f"limit: Input should be between 1 and {max_limit}")
        start = first
        page = request.query_params.get("page")
        if page:
            cursor = _decode_cursor(page)
            if cursor is None or cursor.get("s") != first or not isinstance(cursor.get("t"), int):
                raise _BadRequest("page: invalid pagination cursor")
            start = int(cursor["t"])
        data: list[dict[str, Any]] = []
        t = start
        while t < end and t <= now and len(data) < limit:
            data.append(
                {
                    "starting_at": _rfc3339(t),
                    "ending_at": _rfc3339(t + width),
                    "results": results_for(t, t + width),
                }
            )
            t += width
        has_more = t < end and t <= now
        return JSONResponse(
            {
                "data": data,
                "has_more": has_more,
                "next_page": _encode_cursor({"s": first, "t": t}) if has_more else None,
            }
        )

    def _fraction(self, t0: int, t1: int) -> float:
        return max(0.0, min(1.0, (self._now() - t0) / (t1 - t0)))

    def cost_report(self, request: Request) -> JSONResponse:
        groups = _multi(request, "group_by")
        for g in groups:
            if g not in ANTHROPIC_COST_GROUPS:
                raise _BadRequest(
                    f"group_by: Input should be 'workspace_id' or 'description', got {g!r}"
                )
        if request.query_params.get("bucket_width", "1d") != "1d":
            raise _BadRequest("bucket_width: Input should be '1d'")

        def results(t0: int, t1: int) -> list[dict[str, Any]]:
            frac = Decimal(str(round(self._fraction(t0, t1), 6)))
            acc: dict[tuple[Any, ...], tuple[Decimal, AnthropicEntry]] = {}
            for e in self.data.entries(_utc(t0).date()):
                desc = f"{e.model_label} Usage - {_suffix(e.token_type)}"
                k = (
                    e.workspace_id if "workspace_id" in groups else None,
                    desc if "description" in groups else None,
                )
                prev = acc.get(k)
                cents = (e.cents * frac).quantize(Decimal("0.000001"))
                acc[k] = ((prev[0] if prev else Decimal(0)) + cents, e)
            out = []
            for (ws, desc), (cents, e) in acc.items():
                grouped = desc is not None
                out.append(
                    {
                        "currency": "USD",
                        "amount": format(cents, "f"),
                        "workspace_id": ws,
                        "description": desc,
                        "cost_type": "tokens" if grouped else None,
                        "context_window": "0-200k" if grouped else None,
                        "model": e.model if grouped else None,
                        "service_tier": "standard" if grouped else None,
                        "token_type": e.token_type if grouped else None,
                        "inference_geo": None,
                    }
                )
            return out

        return self._buckets(request, {"1d": (DAY, 7, 31)}, results)

    def usage_messages(self, request: Request) -> JSONResponse:
        groups = _multi(request, "group_by")
        for g in groups:
            if g not in ANTHROPIC_USAGE_GROUPS:
                raise _BadRequest(f"group_by: invalid value {g!r}")

        def results(t0: int, t1: int) -> list[dict[str, Any]]:
            share = (t1 - t0) / DAY * self._fraction(t0, t1)
            acc: dict[tuple[Any, ...], dict[str, float]] = {}
            for e in self.data.entries(_utc(t0 - t0 % DAY).date()):
                dims = {
                    "api_key_id": e.api_key_id,
                    "workspace_id": e.workspace_id,
                    "model": e.model,
                    "service_tier": "standard",
                    "context_window": "0-200k",
                    "inference_geo": None,
                }
                k = tuple(dims[g] if g in groups else None for g in ANTHROPIC_USAGE_GROUPS)
                slot = acc.setdefault(k, {})
                slot[e.token_type] = slot.get(e.token_type, 0.0) + e.tokens * share
            out = []
            for k, v in acc.items():
                out.append(
                    {
                        "uncached_input_tokens": int(v.get("uncached_input_tokens", 0)),
                        "cache_creation": {
                            "ephemeral_1h_input_tokens": 0,
                            "ephemeral_5m_input_tokens": int(
                                v.get("cache_creation.ephemeral_5m_input_tokens", 0)
                            ),
                        },
                        "cache_read_input_tokens": int(v.get("cache_read_input_tokens", 0)),
                        "output_tokens": int(v.get("output_tokens", 0)),
                        "server_tool_use": {"web_search_requests": 0},
                        **dict(zip(ANTHROPIC_USAGE_GROUPS, k, strict=True)),
                    }
                )
            return out

        return self._buckets(request, ANTHROPIC_USAGE_WIDTHS, results)

    def analytics_cost(self, request: Request) -> JSONResponse:
        """Beta Usage and Cost Analytics API, `GET /v1/organizations/analytics/cost`: rows per
        (time bucket, group), paged by rows (`limit` 1–1000, default 20). Only
        `time_bucket_width=1d` is simulated (1h/1m answer 400 here)."""
        if ANALYTICS_BETA not in request.headers.get("anthropic-beta", ""):
            raise _BadRequest(
                f"This endpoint is in beta: send the header anthropic-beta: {ANALYTICS_BETA}"
            )
        raw_start = request.query_params.get("starting_at")
        if not raw_start:
            raise _BadRequest("starting_at: Field required")
        first = _parse_rfc3339(raw_start, "starting_at")
        now = self._now()
        earliest = max(
            int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()), now - 365 * DAY - now % DAY
        )
        if first < earliest:
            raise _BadRequest(
                "starting_at: must be within the last 365 days and no earlier than "
                "2026-01-01T00:00:00Z"
            )
        width = request.query_params.get("time_bucket_width")
        if width is None:
            raise _BadRequest("time_bucket_width: only '1d' is supported by this simulator")
        if width not in ("1d", "1h", "1m"):
            raise _BadRequest("time_bucket_width: Input should be '1d', '1h' or '1m'")
        if width != "1d":
            raise _BadRequest("time_bucket_width: only '1d' is supported by this simulator")
        raw_end = request.query_params.get("ending_at")
        if not raw_end:
            raise _BadRequest("ending_at: required when time_bucket_width is set")
        end = _parse_rfc3339(raw_end, "ending_at")
        if end <= first:
            raise _BadRequest("ending_at: must be after starting_at")
        limit = _int_param(request, "limit")
        limit = 20 if limit is None else limit
        if not 1 <= limit <= 1000:
            raise _BadRequest("limit: Input should be between 1 and 1000")
        groups = _multi(request, "group_by")
        for g in groups:
            if g not in ANALYTICS_ALLOWED_GROUPS:
                raise _BadRequest(f"group_by: invalid value {g!r}")
        if request.query_params.get("order_by", "amount") not in ("amount", "list_amount", "time"):
            raise _BadRequest("order_by: Input should be 'amount', 'list_amount' or 'time'")
        order = request.query_params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _BadRequest("order: Input should be 'asc' or 'desc'")
        if request.query_params.get("order_by") != "time" or order != "asc":
            raise _BadRequest("this simulator only serves order_by=time&order=asc")
        day_ts, index = first - first % DAY, 0
        page = request.query_params.get("page")
        if page:
            cursor = _decode_cursor(page)
            if cursor is None or cursor.get("s") != first:
                raise _BadRequest("page: invalid pagination cursor")
            day_ts, index = int(cursor["d"]), int(cursor["i"])
        rows: list[dict[str, Any]] = []
        last = min(end, now)
        while day_ts < last and len(rows) < limit:
            day_rows = self._analytics_rows(day_ts, groups)
            take = day_rows[index : index + (limit - len(rows))]
            rows += take
            index += len(take)
            if index >= len(day_rows):
                day_ts, index = day_ts + DAY, 0
        has_more = day_ts < last
        return JSONResponse(
            {
                "data": rows,
                "has_more": has_more,
                "next_page": _encode_cursor({"s": first, "d": day_ts, "i": index})
                if has_more
                else None,
                "data_refreshed_at": _rfc3339(now),
            }
        )

    def _analytics_rows(self, t0: int, groups: list[str]) -> list[dict[str, Any]]:
        frac = Decimal(str(round(self._fraction(t0, t0 + DAY), 6)))
        acc: dict[tuple[Any, ...], Decimal] = {}
        for e in self.data.entries(_utc(t0).date()):
            dims = {
                "workspace_id": e.workspace_id,
                "api_key_id": e.api_key_id,
                "model": e.model,
                "cost_type": "tokens",
                "token_type": e.token_type,
            }
            k = tuple(dims.get(g) for g in ANALYTICS_COST_GROUPS)
            k = tuple(
                v if g in groups else None for g, v in zip(ANALYTICS_COST_GROUPS, k, strict=True)
            )
            acc[k] = acc.get(k, Decimal(0)) + (e.cents * frac).quantize(Decimal("0.000001"))
        ordered = sorted(acc.items(), key=lambda kv: (-kv[1], str(kv[0])))
        fanned = "cost_type" in groups or "token_type" in groups
        return [
            {
                "starting_at": _rfc3339(t0),
                "ending_at": _rfc3339(t0 + DAY),
                "group": dict(zip(ANALYTICS_COST_GROUPS, k, strict=True)),
                "cost": {
                    "amount": format(amount, "f"),
                    "currency": "USD",
                    "list_amount": format(amount, "f"),
                    "requests": None if fanned else max(1, int(amount)),
                },
            }
            for k, amount in ordered
        ]

    def me(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {"id": "org_simulated", "type": "organization", "name": "Chegou (simulado)"}
        )

    def list_api_keys(self, request: Request) -> JSONResponse:
        limit = _int_param(request, "limit") or 20
        if not 1 <= limit <= 1000:
            raise _BadRequest("limit: Input should be between 1 and 1000")
        rows = _anthropic_key_rows(self)
        ids = [r["id"] for r in rows]
        after = request.query_params.get("after_id")
        start = ids.index(after) + 1 if after in ids else 0
        page = rows[start : start + limit]
        return JSONResponse(
            {
                "data": page,
                "has_more": start + limit < len(rows),
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            }
        )

    def list_workspaces(self, request: Request) -> JSONResponse:
        limit = _int_param(request, "limit") or 20
        if not 1 <= limit <= 1000:
            raise _BadRequest("limit: Input should be between 1 and 1000")
        rows = [(ws, name) for ws, name in self.data.workspaces if ws is not None]
        after = request.query_params.get("after_id")
        ids = [ws for ws, _ in rows]
        start = ids.index(after) + 1 if after in ids else 0
        page = rows[start : start + limit]
        return JSONResponse(
            {
                "data": [
                    {
                        "id": ws,
                        "type": "workspace",
                        "name": name,
                        "created_at": "2025-01-01T00:00:00Z",
                        "archived_at": None,
                        "display_color": "#6C5BB9",
                    }
                    for ws, name in page
                ],
                "has_more": start + limit < len(rows),
                "first_id": page[0][0] if page else None,
                "last_id": page[-1][0] if page else None,
            }
        )


def _anthropic_key_rows(sim: AnthropicSimulator) -> list[dict[str, Any]]:
    rows = []
    for ws, ws_name in sim.data.workspaces:
        for n, kid in enumerate(sim.data.keys[ws]):
            rows.append(
                {
                    "id": kid,
                    "type": "api_key",
                    "name": f"{ws_name} · {'produção' if n == 0 else 'automação'}",
                    "workspace_id": ws,
                    "created_at": "2025-01-01T00:00:00Z",
                    "created_by": {"id": "user_simulated", "type": "user"},
                    "partial_key_hint": f"sk-ant-api03-R2D...{kid[-4:]}",
                    "status": "active",
                }
            )
    return rows


def _suffix(token_type: str) -> str:
    for name, suffix, _ in ANTHROPIC_TOKEN_TYPES:
        if name == token_type:
            return suffix
    return token_type


def _anthropic_error(status: int, type_: str, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": "error",
            "error": {"type": type_, "message": message},
            "request_id": "req_simulated",
        },
        status_code=status,
    )


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------


def demo_setup(env: DemoEnvironment) -> dict[str, Any]:
    """Start both simulators for `chegou-hub demo` and point the hub at them."""
    from bot.settings import Budget
    from integrations.runtime.harness import SimulatorServer

    openai_sim = OpenAISimulator(seed=env.seed)
    anthropic_sim = AnthropicSimulator(seed=env.seed)
    oa = env.add_simulator("openai", SimulatorServer(openai_sim.app(), name="openai"))
    an = env.add_simulator(
        "anthropic_admin", SimulatorServer(anthropic_sim.app(), name="anthropic_admin")
    )
    env.extras["ai_costs"] = {"openai": openai_sim, "anthropic": anthropic_sim}
    return {
        "openai_admin_api_key": OPENAI_ADMIN_KEY,
        "openai_base_url": f"{oa.base_url}/v1",
        "anthropic_admin_api_key": ANTHROPIC_ADMIN_KEY,
        "anthropic_admin_base_url": an.base_url,
        "ai_costs_backfill_days": 90,
        "ai_budgets": {
            "openai": Budget(monthly_usd=Decimal(4000)),
            "anthropic": Budget(monthly_usd=Decimal(5000)),
        },
    }
