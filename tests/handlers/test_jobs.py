from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.clock import FakeClock
from bot.hub import Hub
from bot.notify import RecordingNotifier
from bot.security.roles import Role
from handlers.jobs import alerts_command, jobs_command
from handlers.registry import SUBCOMMANDS, UsageError
from jobs.alerts import AlertEngine
from jobs.registry import JOBS, JobContext, JobOutcome, JobSpec, Signal
from jobs.scheduler import HubScheduler
from tests.conftest import make_settings


@dataclass
class FakeCommandContext:
    hub: Hub
    args: list[str]
    user_id: str = "U_OPERATOR"
    channel_id: str = "C_OPS"
    role: Role = Role.OPERATOR
    trigger_id: str | None = None
    replies: list[tuple[str, list[dict[str, Any]] | None]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.args)

    def reply(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self.replies.append((text, blocks))

    def post(
        self, text: str, blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None
    ) -> str | None:
        raise AssertionError("jobs commands answer ephemerally")

    def upload(self, filename: str, content: bytes, **kw: Any) -> None:
        raise AssertionError("no uploads here")

    def propose(self, kind: str, args: dict[str, Any]) -> None:
        raise AssertionError("no proposals here")


class Flaky:
    def __init__(self) -> None:
        self.broken = True

    def __call__(self, ctx: JobContext) -> JobOutcome:
        if self.broken:
            raise TimeoutError("Shopify não respondeu")
        ctx.post("shopify", f"Relatório de duplicados {ctx.slot}")
        return JobOutcome(items=3)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 3, 10, 0, tzinfo=UTC))


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Flaky:
    job = Flaky()
    spec = JobSpec(
        "shopify.duplicates", job, "normal", {"hour": 8, "minute": 0}, None, "Duplicados"
    )
    monkeypatch.setitem(JOBS, spec.id, spec)
    return job


@pytest.fixture
def scheduler(
    tmp_path: Path,
    sqlite_engine: Engine,
    clock: FakeClock,
    notifier: RecordingNotifier,
    flaky: Flaky,
) -> Iterator[HubScheduler]:
    settings = make_settings(
        tmp_path,
        hub_channel_alerts="C_ALERTS",
        hub_channel_shopify="C_SHOP",
        jobs_retry_attempts=2,
        jobs_retry_base_seconds=30,
    )
    hub = Hub.create(settings, engine=sqlite_engine, clock=clock, notifier=notifier)
    sched = HubScheduler(hub, specs={"shopify.duplicates": JOBS["shopify.duplicates"]})
    sched.start(background=False)
    yield sched
    sched.shutdown()
    hub.close()


def _run(hub: Hub, *args: str, command: Any = jobs_command) -> FakeCommandContext:
    ctx = FakeCommandContext(hub, list(args))
    command(ctx)
    return ctx


def _wait(scheduler: HubScheduler) -> None:
    for future in scheduler.tick().values():
        future.result(timeout=30)


def test_commands_are_registered_with_roles() -> None:
    assert SUBCOMMANDS["jobs"].min_role == Role.OPERATOR
    assert SUBCOMMANDS["alerts"] is SUBCOMMANDS["alertas"]
    assert SUBCOMMANDS["alerts"].min_role == Role.VIEWER


def test_failures_dead_letter_alert_and_retry_from_slack(
    scheduler: HubScheduler, clock: FakeClock, notifier: RecordingNotifier, flaky: Flaky
) -> None:
    hub = scheduler.hub
    clock.set(datetime(2026, 11, 3, 11, 0, tzinfo=UTC))  # 08:00 in São Paulo
    _wait(scheduler)
    clock.advance(30)
    _wait(scheduler)  # second and last attempt

    [alert] = notifier.posts
    assert alert["channel"] == "C_ALERTS"
    assert "shopify.duplicates falhou 2 vezes (2026-11-03)" in alert["text"]

    listing = _run(hub).replies[0][0]
    assert "*shopify.duplicates* (normal) — próxima: 04/11 08:00" in listing
    assert "última: ❌ falhou em 03/11 08:00" in listing
    assert "1 falha(s) aguardando" in str(_run(hub).replies[0][1])

    letters = _run(hub, "falhas").replies[0][0]
    assert "`shopify.duplicates` (2026-11-03) — 2 tentativas" in letters
    assert "TimeoutError: Shopify não respondeu" in letters
    assert "Traceback" not in letters

    open_alerts = _run(hub, command=alerts_command).replies[0][0]
    assert "🔴 *Job shopify.duplicates falhou 2 vezes (2026-11-03)*" in open_alerts

    letter_id = letters.split("*#", 1)[1].split("*", 1)[0]
    still_broken = _run(hub, "retry", letter_id).replies[0][0]
    assert still_broken.startswith(f"❌ A falha #{letter_id} continua")

    flaky.broken = False
    fixed = _run(hub, "retry", f"#{letter_id}").replies[0][0]
    assert fixed.startswith(f"✅ Falha #{letter_id} reprocessada")
    assert "(3 itens)" in fixed
    assert [p["channel"] for p in notifier.posts[1:]] == ["C_SHOP", "C_ALERTS"]
    assert notifier.posts[-1]["text"].startswith("✅ Normalizado")
    assert _run(hub, "retry", letter_id).replies[0][0].startswith("ℹ️ A falha")
    assert _run(hub, command=alerts_command).replies == [("✅ Nenhum alerta aberto.", None)]
    assert _run(hub, "falhas").replies[0][0].startswith("✅ Nenhuma falha")


def test_run_now_reports_the_result(
    scheduler: HubScheduler, flaky: Flaky, notifier: RecordingNotifier
) -> None:
    hub = scheduler.hub
    failed = _run(hub, "run", "shopify.duplicates").replies[0][0]
    assert failed == (
        "❌ `shopify.duplicates` falhou: `TimeoutError: Shopify não respondeu`. "
        "Nova tentativa às 03/11 07:00."
    )
    flaky.broken = False
    ok = _run(hub, "rodar", "shopify.duplicates").replies[0][0]
    assert ok == "✅ `shopify.duplicates` rodou agora: 3 itens."
    assert notifier.posts[-1]["channel"] == "C_SHOP"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "Diga qual job rodar"),
        (["run", "nada"], "O job `nada` não existe. Jobs: `shopify.duplicates`."),
        (["retry"], "Informe o número da falha"),
        (["retry", "abc"], "Informe o número da falha"),
        (["retry", "999"], "Não encontrei a falha #999"),
        (["apagar"], "Não conheço `apagar`"),
    ],
)
def test_bad_arguments_raise_usage_errors(
    scheduler: HubScheduler, args: list[str], message: str
) -> None:
    with pytest.raises(UsageError) as info:
        _run(scheduler.hub, *args)
    assert str(info.value).startswith(message)


def test_alerts_lists_open_incidents_most_severe_first(
    scheduler: HubScheduler, clock: FakeClock
) -> None:
    hub = scheduler.hub
    engine = AlertEngine(hub, {})
    engine.apply("t", Signal("a", True, "Custo da OpenAI subiu 80%", "US$ 42 hoje", "warning"))
    clock.advance(60)
    engine.apply("t", Signal("b", True, "Shopify fora do ar", "6 falhas seguidas", "critical"))
    text = _run(hub, command=alerts_command).replies[0][0]
    assert text.splitlines() == [
        "*2 alerta(s) aberto(s)*",
        "🔴 *Shopify fora do ar* — desde 03/11 07:01 (#2)",
        "      6 falhas seguidas",
        "🟠 *Custo da OpenAI subiu 80%* — desde 03/11 07:00 (#1)",
        "      US$ 42 hoje",
    ]
