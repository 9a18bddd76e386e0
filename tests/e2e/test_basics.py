"""Slash commands, signatures, events and the Home tab through the real app and simulator."""

from __future__ import annotations

import json
import logging
import re
import time
from urllib.parse import urlencode

import pytest

from bot.assistant import NOT_CONFIGURED_TEXT
from bot.hub import Hub
from bot.sandbox.slack_sim import BOT_USER_ID, SlackSimulator
from bot.security.roles import Role
from handlers import registry
from handlers.registry import CommandContext, Subcommand, UsageError
from tests.e2e.fixtures import ADMIN, SlackFactory

USER = "U0TESTER01"


@pytest.fixture
def test_subcommands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`/hub eco <palavra>` (UsageError without args) and `/hub quebra` (raises)."""
    seen: list[str] = []

    def echo(ctx: CommandContext) -> None:
        if not ctx.args:
            raise UsageError("Diga uma palavra para eu repetir.")
        seen.append(ctx.text)
        ctx.reply(f"eco: {ctx.text}")

    def broken(ctx: CommandContext) -> None:
        raise RuntimeError("secret-internal-detail xoxb-should-not-leak")

    def admin_only(ctx: CommandContext) -> None:
        ctx.reply("segredo de admin")

    for spec in (
        Subcommand("eco", echo, "/hub eco <palavra>", "Repete", ("/hub eco oi",)),
        Subcommand("quebra", broken, "/hub quebra", "Falha sempre"),
        Subcommand("admin", admin_only, "/hub admin", "Só admins", min_role=Role.ADMIN),
    ):
        monkeypatch.setitem(registry.SUBCOMMANDS, spec.name, spec)
    return seen


def test_help_lists_every_subcommand_with_examples(
    slack: SlackFactory, hub: Hub, test_subcommands: list[str]
) -> None:
    driver = slack(hub)
    sent = driver.command("help")
    assert sent.status == 200
    reply = driver.ephemerals(USER)[-1]
    for name in {spec.name for spec in registry.SUBCOMMANDS.values()}:
        assert f"/hub {name}" in reply.text
    assert "Exemplos: `/hub eco oi`" in reply.text
    assert "Requer papel administrador (você não tem acesso)" in reply.text
    assert reply.source == "response_url"  # answered through the command's response_url


def test_empty_text_shows_help(slack: SlackFactory, hub: Hub) -> None:
    driver = slack(hub)
    driver.command("")
    assert "Comandos do Chegou Hub" in driver.ephemerals(USER)[-1].text


def test_unknown_subcommand_is_answered_in_the_ack(
    slack: SlackFactory, hub: Hub, test_subcommands: list[str]
) -> None:
    driver = slack(hub)
    sent = driver.command("ecoo oi")
    assert sent.status == 200
    body = sent.json()
    assert body["response_type"] == "ephemeral"
    text = driver.ephemerals(USER)[-1].text
    assert "Não conheço o comando `/hub ecoo`" in text
    assert "Você quis dizer `/hub eco`?" in text
    assert "/hub help" in text
    assert not driver.messages()  # nothing visible in the channel


def test_bad_arguments_get_message_and_usage(
    slack: SlackFactory, hub: Hub, test_subcommands: list[str]
) -> None:
    driver = slack(hub)
    driver.command("eco")
    text = driver.ephemerals(USER)[-1].text
    assert text == "Diga uma palavra para eu repetir.\nUso: `/hub eco <palavra>`"
    driver.command("eco  olá   mundo")
    assert driver.ephemerals(USER)[-1].text == "eco: olá   mundo"
    assert test_subcommands == ["olá   mundo"]


def test_failure_reaches_user_with_reference_also_logged(
    slack: SlackFactory, hub: Hub, test_subcommands: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    driver = slack(hub)
    with caplog.at_level(logging.ERROR):
        driver.command("quebra")
    text = driver.ephemerals(USER)[-1].text
    match = re.search(r"`(REF-[0-9A-F]{8})`", text)
    assert match, text
    assert "Algo deu errado ao executar `/hub quebra`" in text
    assert "secret-internal-detail" not in text and "Traceback" not in text
    assert any(match.group(1) in record.getMessage() for record in caplog.records)


def test_role_check_refuses_with_pt_br_message(
    slack: SlackFactory, hub_with_roles: Hub, test_subcommands: list[str]
) -> None:
    driver = slack(hub_with_roles)
    driver.command("admin", user="U0VIEW0001")
    assert "é preciso ser *administrador*" in driver.ephemerals("U0VIEW0001")[-1].text
    driver.command("admin", user=ADMIN)
    assert driver.ephemerals(ADMIN)[-1].text == "segredo de admin"


def test_status_shows_registry_health_as_blocks(
    slack: SlackFactory, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.runtime import registry as integrations

    integrations.load_integrations()
    monkeypatch.setitem(
        integrations._REGISTRY,
        "fake",
        integrations.Integration(
            "fake", "Loja Falsa", lambda s: False, how_to_configure="Defina FAKE_TOKEN."
        ),
    )
    driver = slack(hub)
    driver.command("status")
    reply = driver.ephemerals(USER)[-1]
    assert reply.text.startswith("Status das integrações")
    assert "*Loja Falsa* — não configurada\nDefina FAKE_TOKEN." in reply.text
    assert reply.blocks and reply.blocks[0]["type"] == "header"


def test_bad_signature_is_401_and_runs_nothing(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator
) -> None:
    driver = slack(hub)
    body = urlencode({"command": "/hub", "text": "help", "user_id": USER, "channel_id": "C1"})
    sent = driver.send(body, "application/x-www-form-urlencoded", signing_secret="wrong")
    assert sent.status == 401
    stale = driver.send(body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 600)
    assert stale.status == 401
    driver.wait_idle()
    assert slack_sim.calls() == []
    assert driver.ephemerals() == []


def test_mention_answered_in_thread_by_assistant_entry(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator
) -> None:
    driver = slack(hub)
    sent = driver.mention("quanto gastamos?", channel="C0GENERAL1")
    assert sent.status == 200
    replies = driver.messages("C0GENERAL1")
    assert [m.text for m in replies if m.user == BOT_USER_ID] == [NOT_CONFIGURED_TEXT]
    mention_ts = sent.payload["event"]["ts"]  # type: ignore[index]
    assert replies[-1].thread_ts == mention_ts


def test_dm_is_answered_in_the_dm(slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator) -> None:
    driver = slack(hub)
    driver.dm("oi")
    dm = slack_sim.im_channel(USER)
    assert driver.messages(dm)[-1].text == NOT_CONFIGURED_TEXT


def test_retried_event_is_ignored_and_dedup_survives_a_new_instance(
    slack: SlackFactory, hub: Hub
) -> None:
    driver = slack(hub)
    sent = driver.mention("oi")
    assert sent.payload is not None
    retry = driver.event(sent.payload, retry_num=1)
    assert retry.status == 200
    # A second app instance (a restart) on the same database also ignores it.
    other = slack(hub)
    other.event(sent.payload, retry_num=2)
    bot_replies = [m for m in driver.messages() if m.user == BOT_USER_ID]
    assert len(bot_replies) == 1


def test_dm_mention_delivered_as_mention_and_message_answered_once(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator
) -> None:
    driver = slack(hub)
    dm = slack_sim.im_channel(USER)
    msg = slack_sim.post_user_message(dm, USER, f"<@{BOT_USER_ID}> oi")
    common = {"user": USER, "text": msg.text, "ts": msg.ts, "channel": dm, "event_ts": msg.ts}
    driver.event({"type": "app_mention", "channel_type": "im", **common})
    driver.event({"type": "message", "channel_type": "im", **common})
    assert len([m for m in driver.messages(dm) if m.user == BOT_USER_ID]) == 1


def test_channel_message_events_are_not_answered(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator
) -> None:
    driver = slack(hub)
    msg = slack_sim.post_user_message("C0GENERAL1", USER, "conversa qualquer")
    driver.event(
        {
            "type": "message",
            "channel_type": "channel",
            "user": USER,
            "text": msg.text,
            "ts": msg.ts,
            "channel": "C0GENERAL1",
        }
    )
    assert [m for m in driver.messages() if m.user == BOT_USER_ID] == []
    # A mention also delivered as a channel `message` (workspace subscribed to
    # message.channels) is answered once, through app_mention.
    mention = slack_sim.post_user_message("C0GENERAL1", USER, f"<@{BOT_USER_ID}> oi")
    common = {"user": USER, "text": mention.text, "ts": mention.ts, "channel": "C0GENERAL1"}
    driver.event({"type": "message", "channel_type": "channel", **common})
    driver.event({"type": "app_mention", **common})
    driver.event({"type": "message", "channel_type": "channel", **common})
    assert len([m for m in driver.messages() if m.user == BOT_USER_ID]) == 1


def test_home_tab_and_suggested_prompts(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator
) -> None:
    driver = slack(hub)
    driver.open_home(user=USER)
    view = slack_sim.views[USER]
    text = json.dumps(view, ensure_ascii=False)
    assert "Integrações" in text and "Alertas abertos" in text
    driver.click("Status", user=USER)
    assert driver.messages(slack_sim.im_channel(USER))[-1].text.startswith("Status das")
    driver.open_home(user=USER, tab="messages")
    prompts = slack_sim.suggested_prompts[-1]
    assert prompts["channel_id"] == slack_sim.im_channel(USER)
    assert 1 <= len(prompts["prompts"]) <= 4


def test_oauth_env_does_not_flip_to_multi_workspace(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", "123.456")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "not-used")
    driver = slack(hub)
    assert driver.app.oauth_flow is None
    assert driver.app.installation_store is None
    driver.command("help")
    assert driver.ephemerals(USER)
    posted = [c for c in slack_sim.calls() if c.method != "response_url"]
    assert posted and all(c.ok and c.token == slack_sim.bot_token[:5] + "…" for c in posted)


def test_upload_and_not_in_channel_reach_the_user(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.charts import bar_chart

    def chart(ctx: CommandContext) -> None:
        ctx.upload("pedidos.png", bar_chart("Pedidos", ["a"], [1]), title="Pedidos")
        ctx.post("Gráfico enviado.")

    monkeypatch.setitem(
        registry.SUBCOMMANDS, "grafico", Subcommand("grafico", chart, "/hub grafico", "Gráfico")
    )
    driver = slack(hub)
    driver.command("grafico", channel="C0SHOPIFY1")
    (upload,) = driver.uploads()
    assert upload.channel == "C0SHOPIFY1" and upload.content and upload.content[:4] == b"\x89PNG"
    assert driver.messages("C0SHOPIFY1")[-1].text == "Gráfico enviado."
    # In a channel the bot was not invited to, the person learns how to fix it.
    driver.command("grafico", channel="C0OUTSIDE1")
    assert "Me convide com `/invite @Chegou Hub`" in driver.ephemerals(USER)[-1].text


def test_status_reflects_runtime_health(
    slack: SlackFactory, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.runtime import registry as integrations
    from integrations.runtime.recorder import CallRecord

    integrations.load_integrations()
    monkeypatch.setitem(
        integrations._REGISTRY,
        "fakeshop",
        integrations.Integration("fakeshop", "Loja Quebrada", lambda s: True),
    )
    for _ in range(hub.settings.alert_consecutive_failures):
        hub.runtime.record(
            CallRecord("fakeshop", "orders", hub.clock.now(), 12.0, False, 503, "upstream", "x")
        )
    hub.runtime.flush()
    driver = slack(hub)
    driver.command("status")
    reply = driver.ephemerals(USER)[-1]
    assert ":red_circle: *Loja Quebrada* — com falha" in reply.text
    assert "falhas seguidas" in reply.text
    assert "1 integração(ões) com falha." in json.dumps(reply.blocks, ensure_ascii=False)


def test_home_tab_lists_open_alerts(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator
) -> None:
    from jobs.alerts import AlertEngine
    from jobs.registry import Signal

    AlertEngine(hub).apply(
        "t", Signal("t.down", True, "Shopify fora do ar", "6 falhas", "critical")
    )
    since = hub.clock.now().astimezone(hub.settings.tz).strftime("%d/%m %H:%M")
    driver = slack(hub)
    driver.open_home(user=USER)
    text = json.dumps(slack_sim.views[USER], ensure_ascii=False)
    assert f":rotating_light: *Shopify fora do ar* (crítico, desde {since})" in text


def test_replies_beyond_response_url_limit_use_post_ephemeral(
    slack: SlackFactory, hub: Hub, slack_sim: SlackSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def chatty(ctx: CommandContext) -> None:
        for n in range(7):
            ctx.reply(f"parte {n}")

    monkeypatch.setitem(
        registry.SUBCOMMANDS, "longo", Subcommand("longo", chatty, "/hub longo", "7 respostas")
    )
    driver = slack(hub)
    driver.command("longo")
    replies = driver.ephemerals(USER)
    assert [m.text for m in replies] == [f"parte {n}" for n in range(7)]
    assert [m.source for m in replies] == ["response_url"] * 5 + ["api"] * 2
    assert len(slack_sim.calls("chat.postEphemeral")) == 2
