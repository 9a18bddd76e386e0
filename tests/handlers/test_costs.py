"""`/hub custos` through the handler with a recording command context and the simulators."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from bot.hub import Hub
from bot.security.roles import Role
from handlers.costs import custos
from handlers.registry import SUBCOMMANDS, UsageError
from integrations.ai_costs.report import build_report, parse_period
from integrations.runtime.harness import Fault
from tests.integrations.ai_costs.conftest import CostsHubFactory, Sims
from tests.integrations.ai_costs.conftest import make_costs_hub as make_costs_hub
from tests.integrations.ai_costs.conftest import sims as sims

pytestmark = pytest.mark.usefixtures("sims")


@dataclass
class Ctx:
    hub: Hub
    args: list[str]
    user_id: str = "U1"
    channel_id: str = "C1"
    role: Role = Role.VIEWER
    trigger_id: str | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.args)

    def reply(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self.replies.append({"text": text, "blocks": blocks})

    def post(
        self, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None
    ) -> str | None:
        self.posts.append({"text": text, "blocks": blocks, "thread_ts": thread_ts})
        return f"1700000000.{len(self.posts):06d}"

    def upload(
        self,
        filename: str,
        content: bytes,
        *,
        title: str | None = None,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        self.uploads.append(
            {"filename": filename, "content": content, "comment": comment, "thread_ts": thread_ts}
        )

    def propose(self, kind: str, args: dict[str, Any]) -> None:
        raise AssertionError("custos never proposes side effects")


@pytest.fixture
def hub(make_costs_hub: CostsHubFactory) -> Hub:
    return make_costs_hub()


def _run(hub: Hub, text: str, role: Role = Role.VIEWER) -> Ctx:
    ctx = Ctx(hub, text.split(), role=role)
    custos(ctx)
    return ctx


def _all_text(blocks: list[dict[str, Any]]) -> str:
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            out.append(e.get("text", ""))
    return "\n".join(out)


def test_registered_with_usage_and_aliases() -> None:
    spec = SUBCOMMANDS["custos"]
    assert spec.handler is custos and SUBCOMMANDS["gastos"] is spec
    assert "AAAA-MM-DD..AAAA-MM-DD" in spec.usage


def test_report_syncs_first_then_posts_totals_breakdown_forecast_and_chart(hub: Hub) -> None:
    ctx = _run(hub, "30d openai modelo")
    assert "primeira vez" in ctx.replies[0]["text"]  # said before the backfill starts
    assert len(ctx.posts) == 1
    assert _run(hub, "7d openai").replies == []  # fresh data: no refresh, nothing to say
    post = ctx.posts[0]
    body = _all_text(post["blocks"])
    assert "Gastos com IA — últimos 30 dias" in post["text"]
    assert "*Por modelo:*" in body and "gpt-4o-2024-08-06" in body
    assert "previsão de fechamento" in body and "vs período anterior" in body
    assert "hoje ainda parcial" in body
    assert "atualizado em 02/11 09:00 (America/Sao_Paulo)" in body  # 12:00 UTC
    assert "Anthropic" not in body.split("*Por modelo:*")[0]
    [chart] = ctx.uploads
    assert chart["content"].startswith(b"\x89PNG") and chart["thread_ts"] == "1700000000.000001"


def test_report_total_matches_the_service(hub: Hub) -> None:
    ctx = _run(hub, "2026-10-01..2026-10-07 projeto")
    report = build_report(hub, parse_period("2026-10-01..2026-10-07", hub.clock.now().date()))
    total = f"{report.total:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    assert f"US$ {total}" in ctx.posts[0]["text"]
    assert "Loja Brasil" in _all_text(ctx.posts[0]["blocks"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ontem", "período `ontem` não reconhecido"),
        ("7d 30d", "o período já foi informado"),
        ("openai anthropic", "só um fornecedor"),
        ("2026-10-31..2026-10-01", "a data final vem antes da inicial"),
        ("exportar pdf", "Informe o formato"),
        ("validar agora", "não recebe outros argumentos"),
    ],
)
def test_bad_arguments_are_usage_errors_in_portuguese(hub: Hub, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _run(hub, text)


def test_export_csv_uploads_a_file_whose_rows_sum_to_the_report(hub: Hub) -> None:
    ctx = _run(hub, "exportar csv 2026-10-01..2026-10-31 anthropic")
    [upload] = ctx.uploads
    assert upload["filename"] == "custos-ia_2026-10-01_2026-10-31.csv"
    rows = list(csv.DictReader(io.StringIO(upload["content"].decode())))
    total = sum((Decimal(r["cost_usd"]) for r in rows if r["source"] == "cost"), Decimal(0))
    report = build_report(
        hub, parse_period("2026-10-01..2026-10-31", hub.clock.now().date()), vendors=["anthropic"]
    )
    assert total == report.total and {r["vendor"] for r in rows} == {"anthropic"}
    assert "linhas" in upload["comment"]


def test_validate_replies_per_vendor(hub: Hub) -> None:
    ctx = _run(hub, "validar")
    [reply] = ctx.replies
    assert "OpenAI:* chave de administrador válida" in reply["text"]
    assert "Anthropic:* chave Admin válida" in reply["text"]


def test_outage_during_refresh_shows_saved_data_with_a_warning(hub: Hub, sims: Sims) -> None:
    _run(hub, "7d")  # first sync
    hub.clock.advance(2 * 3600)  # type: ignore[attr-defined]
    sims.openai_server.faults.add("/v1/organization", Fault(status=503))
    ctx = _run(hub, "7d")
    body = _all_text(ctx.posts[0]["blocks"])
    assert "Não consegui atualizar OpenAI agora" in body
    assert "503" not in body and "Traceback" not in body


def test_not_configured_explains_how(make_costs_hub: CostsHubFactory) -> None:
    hub = make_costs_hub(
        openai_admin_api_key=None,
        anthropic_admin_api_key=None,
    )
    ctx = _run(hub, "")
    assert "OPENAI_ADMIN_API_KEY" in ctx.replies[0]["text"] and not ctx.posts


def test_sync_now_needs_an_operator(hub: Hub) -> None:
    assert "Só operadores" in _run(hub, "sincronizar").replies[0]["text"]
    ctx = _run(hub, "sincronizar", role=Role.OPERATOR)
    assert "OpenAI (custos)" in ctx.replies[0]["text"] and "ok" in ctx.replies[0]["text"]


def test_bad_key_is_reported_by_validar(make_costs_hub: CostsHubFactory) -> None:
    hub = make_costs_hub(openai_admin_api_key=SecretStr("sk-proj-x"))
    text = _run(hub, "validar").replies[0]["text"]
    assert "não tem permissão para ler custos" in text and "sk-proj-x" not in text
