"""`/hub` failures through the real app: upstream errors are answered per category and logged
at WARNING without a traceback; anything else stays ERROR with one. Never a trace in Slack."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.hub import Hub
from handlers import registry
from handlers.registry import CommandContext, Subcommand
from integrations.runtime.harness import Fault, SimulatorServer
from tests.e2e.fixtures import SlackFactory

USER = "U0TESTER01"
SECRET = "sk-test-upstream-should-not-leak"


async def _usage(request: Request) -> Response:
    return JSONResponse({"data": []})


@pytest.fixture
def upstream() -> Iterator[SimulatorServer]:
    with SimulatorServer(Starlette(routes=[Route("/v1/usage", _usage)]), name="upstream") as sim:
        yield sim


@pytest.fixture
def usage_command(
    monkeypatch: pytest.MonkeyPatch, upstream: SimulatorServer
) -> dict[str, Callable[..., httpx.Response]]:
    """`/hub uso`: one GET to the OpenAI-like upstream through the real runtime client. Put a
    function under "transport" to replace the client's HTTP transport (what it raises)."""
    hooks: dict[str, Callable[..., httpx.Response]] = {}

    def usage(ctx: CommandContext) -> None:
        client = ctx.hub.runtime.client(
            "openai",
            upstream.base_url,
            headers={"Authorization": f"Bearer {SECRET}"},
            secrets=[SECRET],
        )
        if "transport" in hooks:
            monkeypatch.setattr(client._http, "request", hooks["transport"])
        client.json("GET", "/v1/usage", operation="usage.list")
        ctx.reply("uso ok")

    def broken(ctx: CommandContext) -> None:
        raise RuntimeError("internal detail")

    monkeypatch.setitem(
        registry.SUBCOMMANDS, "uso", Subcommand("uso", usage, "/hub uso", "Uso da API")
    )
    monkeypatch.setitem(
        registry.SUBCOMMANDS, "quebra", Subcommand("quebra", broken, "/hub quebra", "Falha")
    )
    return hooks


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(auth=True), "recusou as credenciais configuradas. Avise um administrador"),
        (Fault(status=429, retry_after=42), "limite de requisições. Tente de novo em 42 s"),
        (Fault(status=503), "está fora do ar ou sobrecarregado agora"),
        (Fault(reset=True), "está fora do ar ou sobrecarregado agora"),
        (Fault(malformed=True), "respondeu de forma inesperada"),
        (Fault(status=422), "recusou o pedido"),
    ],
    ids=["auth", "rate_limit", "server", "network", "bad_response", "client"],
)
def test_upstream_failure_gets_a_category_answer_and_a_warning_without_traceback(
    slack: SlackFactory,
    hub: Hub,
    upstream: SimulatorServer,
    usage_command: object,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
    expected: str,
) -> None:
    upstream.faults.add("/v1/usage", fault)
    driver = slack(hub)

    with caplog.at_level(logging.INFO, logger="handlers.commands"):
        driver.command("uso", user=USER)

    text = driver.ephemerals(USER)[-1].text
    assert text.startswith("Não consegui executar `/hub uso`: OpenAI (custos e uso) "), text
    assert expected in text
    ref = re.search(r"`(REF-[0-9A-F]{8})`", text)
    assert ref, text
    assert SECRET not in text and "Traceback" not in text and "HTTP" not in text
    [record] = [r for r in caplog.records if r.name == "handlers.commands"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    message = record.getMessage()
    assert ref.group(1) in message and "integration=openai" in message
    assert "operation=usage.list" in message and SECRET not in message


def test_timeout_is_answered_as_too_slow(
    slack: SlackFactory, hub: Hub, usage_command: dict[str, Callable[..., httpx.Response]]
) -> None:
    def time_out(*args: object, **kwargs: object) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out")

    usage_command["transport"] = time_out
    driver = slack(hub)
    driver.command("uso", user=USER)
    text = driver.ephemerals(USER)[-1].text
    assert "OpenAI (custos e uso) demorou demais para responder" in text, text


def test_unexpected_failure_keeps_error_with_traceback(
    slack: SlackFactory, hub: Hub, usage_command: object, caplog: pytest.LogCaptureFixture
) -> None:
    driver = slack(hub)
    with caplog.at_level(logging.INFO, logger="handlers.commands"):
        driver.command("quebra", user=USER)
    text = driver.ephemerals(USER)[-1].text
    assert "Algo deu errado ao executar `/hub quebra`" in text
    assert "internal detail" not in text
    [record] = [r for r in caplog.records if r.name == "handlers.commands"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
