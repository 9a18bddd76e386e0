"""The Slack simulator answers like Slack, driven by the real slack_sdk WebClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.sandbox.slack_sim import BOT_USER_ID, SlackSimulator, seed_default_workspace
from bot.slack_client import make_web_client
from integrations.runtime.harness import Fault
from tests.conftest import make_settings

TOKEN = "xoxb-sim-test"


@pytest.fixture
def sim() -> Iterator[SlackSimulator]:
    simulator = SlackSimulator(bot_token=TOKEN)
    seed_default_workspace(simulator)
    with simulator.server():
        yield simulator


@pytest.fixture
def client(sim: SlackSimulator, tmp_path: Path) -> WebClient:
    from pydantic import SecretStr

    settings = make_settings(tmp_path, slack_base_url=sim.base_url)
    return make_web_client(settings, token=SecretStr(TOKEN).get_secret_value())


def _error(exc: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(exc.value.response["error"])


def test_auth_test_and_bad_tokens(sim: SlackSimulator, client: WebClient) -> None:
    assert client.auth_test()["user_id"] == BOT_USER_ID
    bad = WebClient(token="xoxb-wrong", base_url=sim.base_url + "/api/")
    with pytest.raises(SlackApiError) as exc:
        bad.auth_test()
    assert _error(exc) == "invalid_auth"
    anonymous = WebClient(base_url=sim.base_url + "/api/")
    with pytest.raises(SlackApiError) as exc:
        anonymous.chat_postMessage(channel="C0GENERAL1", text="oi")
    assert _error(exc) == "not_authed"
    assert [c.error for c in sim.calls()] == [None, "invalid_auth", "not_authed"]


def test_post_message_json_body_membership_and_unknown_channel(
    sim: SlackSimulator, client: WebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*oi*"}}]
    resp = client.chat_postMessage(channel="C0GENERAL1", text="oi", blocks=blocks)
    assert resp["ok"] and resp["channel"] == "C0GENERAL1"
    assert sim.messages("C0GENERAL1")[-1].blocks == blocks
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C0OUTSIDE1", text="oi")
    assert _error(exc) == "not_in_channel"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C0NOPE0000", text="oi")
    assert _error(exc) == "channel_not_found"
    with pytest.raises(SlackApiError) as exc, pytest.warns(UserWarning):
        client.chat_postMessage(channel="C0GENERAL1")
    assert _error(exc) == "no_text"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C0GENERAL1", text="x", blocks=[{"x": 1}] * 2)
    assert _error(exc) == "invalid_blocks"


def test_form_encoded_body_is_read_too(sim: SlackSimulator) -> None:
    resp = httpx.post(
        sim.base_url + "/api/chat.postMessage",
        data={
            "token": TOKEN,
            "channel": "C0GENERAL1",
            "text": "via form",
            "blocks": '[{"type": "divider"}]',
        },
    )
    assert resp.json()["ok"] is True
    assert sim.messages("C0GENERAL1")[-1].blocks == [{"type": "divider"}]
    assert sim.calls("chat.postMessage")[-1].token == "xoxb-…"  # recorded masked


def test_posting_to_a_user_id_lands_in_the_dm(sim: SlackSimulator, client: WebClient) -> None:
    resp = client.chat_postMessage(channel="U0ADMIN001", text="oi")
    assert resp["channel"] == sim.im_channel("U0ADMIN001")


def test_ephemeral_update_and_replies(sim: SlackSimulator, client: WebClient) -> None:
    client.chat_postEphemeral(channel="C0GENERAL1", user="U0ADMIN001", text="só você")
    assert sim.ephemerals("U0ADMIN001")[-1].text == "só você"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postEphemeral(channel="C0GENERAL1", user="U0NOBODY00", text="x")
    assert _error(exc) == "user_not_found"
    parent = client.chat_postMessage(channel="C0GENERAL1", text="pai")["ts"]
    sim.post_user_message("C0GENERAL1", "U0ADMIN001", "resposta", thread_ts=parent)
    client.chat_update(channel="C0GENERAL1", ts=parent, text="pai editado")
    thread = client.conversations_replies(channel="C0GENERAL1", ts=parent, limit=1)
    assert [m["text"] for m in thread["messages"]] == ["pai editado"]
    assert thread["has_more"] is True
    rest = client.conversations_replies(
        channel="C0GENERAL1", ts=parent, cursor=thread["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["resposta"]
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C0GENERAL1", ts="1.000", text="x")
    assert _error(exc) == "message_not_found"
    with pytest.raises(SlackApiError) as exc:
        client.conversations_replies(channel="C0GENERAL1", ts="1.000")
    assert _error(exc) == "thread_not_found"


def test_files_upload_v2_round_trip(sim: SlackSimulator, client: WebClient) -> None:
    png = b"\x89PNG\r\n\x1a\nfake-bytes"
    client.files_upload_v2(
        channel="C0COSTS001",
        filename="custos.png",
        content=png,
        title="Custos",
        initial_comment="Gráfico da semana",
    )
    (shared,) = sim.uploads()
    assert shared.content == png and shared.channel == "C0COSTS001"
    assert shared.title == "Custos" and shared.initial_comment == "Gráfico da semana"
    assert [c.method for c in sim.calls()] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert sim.messages("C0COSTS001")[-1].files[0]["name"] == "custos.png"
    with pytest.raises(SlackApiError) as exc:
        client.files_upload_v2(channel="C0OUTSIDE1", filename="x.png", content=png)
    assert _error(exc) == "not_in_channel"


def test_streams_expire(sim: SlackSimulator, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C0GENERAL1", text="pergunta")["ts"]
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.startStream", json={"channel": "C0GENERAL1", "markdown_text": "x"})
    assert _error(exc) == "invalid_arguments"  # a stream needs a thread
    ts = client.chat_startStream(channel="C0GENERAL1", thread_ts=parent, markdown_text="Olá")["ts"]
    client.chat_appendStream(channel="C0GENERAL1", ts=ts, markdown_text=", mundo")
    sim.expire_streams()
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(channel="C0GENERAL1", ts=ts, markdown_text="!")
    assert _error(exc) == "message_not_in_streaming_state"
    client.chat_update(channel="C0GENERAL1", ts=ts, text="Olá, mundo!")
    assert sim.find_message("C0GENERAL1", ts).text == "Olá, mundo!"  # type: ignore[union-attr]


def test_stream_stop(sim: SlackSimulator, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C0GENERAL1", text="pergunta")["ts"]
    ts = client.chat_startStream(channel="C0GENERAL1", thread_ts=parent)["ts"]
    client.chat_appendStream(channel="C0GENERAL1", ts=ts, markdown_text="parte 1")
    client.chat_stopStream(channel="C0GENERAL1", ts=ts, markdown_text=" fim")
    assert sim.find_message("C0GENERAL1", ts).text == "parte 1 fim"  # type: ignore[union-attr]
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(channel="C0GENERAL1", ts=ts, markdown_text="tarde")
    assert _error(exc) == "message_not_in_streaming_state"


def test_assistant_views_users_groups(sim: SlackSimulator, client: WebClient) -> None:
    dm = sim.im_channel("U0ADMIN001")
    client.assistant_threads_setStatus(channel_id=dm, thread_ts="1.1", status="pensando…")
    prompts = [{"title": "a", "message": "b"}]
    client.assistant_threads_setSuggestedPrompts(channel_id=dm, prompts=prompts)
    with pytest.raises(SlackApiError) as exc:
        client.assistant_threads_setSuggestedPrompts(channel_id=dm, prompts=prompts * 5)
    assert _error(exc) == "invalid_arguments"
    client.views_publish(user_id="U0ADMIN001", view={"type": "home", "blocks": []})
    assert sim.views["U0ADMIN001"]["type"] == "home"
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id="made-up", view={"type": "modal", "blocks": []})
    assert _error(exc) == "invalid_trigger_id"
    trigger = sim.issue_trigger()
    client.views_open(
        trigger_id=trigger,
        view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []},
    )
    assert client.users_info(user="U0ADMIN001")["user"]["tz"] == "America/Sao_Paulo"
    with pytest.raises(SlackApiError) as exc:
        client.users_info(user="U0NOBODY00")
    assert _error(exc) == "user_not_found"
    sim.add_usergroup("S0OPS00001", ["U0OPER0001"])
    assert client.usergroups_users_list(usergroup="S0OPS00001")["users"] == ["U0OPER0001"]
    with pytest.raises(SlackApiError) as exc:
        client.usergroups_users_list(usergroup="S0NOPE0001")
    assert _error(exc) == "no_such_subteam"
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.fly")
    assert _error(exc) == "unknown_method"


def test_rate_limit_is_429_with_retry_after_and_client_retries(
    sim: SlackSimulator, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slack_sdk.http_retry import builtin_handlers

    slept: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=slept.append))
    sim.rate_limit("chat.postMessage", times=2, retry_after=3)
    resp = client.chat_postMessage(channel="C0GENERAL1", text="depois do limite")
    assert resp["ok"]
    assert [int(s) for s in slept] == [3, 3]
    statuses = [(c.status, c.error) for c in sim.calls("chat.postMessage")]
    assert statuses == [(429, "ratelimited"), (429, "ratelimited"), (200, None)]
    # The harness-level fault works the same way.
    assert sim.http is not None
    sim.http.faults.add(
        "/api/chat.postMessage",
        Fault(status=429, retry_after=1, body={"ok": False, "error": "ratelimited"}),
        times=1,
    )
    client.chat_postMessage(channel="C0GENERAL1", text="de novo")
    assert len(slept) == 3


def test_response_url_semantics(sim: SlackSimulator, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0GENERAL1", text="cartão")["ts"]
    url = sim.response_url("C0GENERAL1", "U0ADMIN001", ts)
    hook = WebhookClient(url)
    assert hook.send(text="só pra você").status_code == 200
    assert sim.ephemerals("U0ADMIN001")[-1].text == "só pra você"
    assert hook.send(text="novo", replace_original=True).status_code == 200
    assert sim.find_message("C0GENERAL1", ts).text == "novo"  # type: ignore[union-attr]
    hook.send(text="todos", response_type="in_channel")
    assert sim.messages("C0GENERAL1")[-1].text == "todos"
    for _ in range(2):
        assert hook.send(text="x").status_code == 200
    assert hook.send(text="sexta vez").status_code == 404  # 5 uses at most


def test_get_permalink_for_messages_and_thread_replies(
    sim: SlackSimulator, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel="C0GENERAL1", text="oi")["ts"]
    reply = client.chat_postMessage(channel="C0GENERAL1", text="no fio", thread_ts=parent)["ts"]
    link = client.chat_getPermalink(channel="C0GENERAL1", message_ts=parent)
    assert link["channel"] == "C0GENERAL1"
    assert link["permalink"] == (
        f"https://chegou.slack.com/archives/C0GENERAL1/p{parent.replace('.', '')}"
    )
    threaded = client.chat_getPermalink(channel="C0GENERAL1", message_ts=reply)["permalink"]
    assert threaded.endswith(f"?thread_ts={parent}&cid=C0GENERAL1")
    with pytest.raises(SlackApiError) as exc:
        client.chat_getPermalink(channel="C0GENERAL1", message_ts="1.000001")
    assert _error(exc) == "message_not_found"
    with pytest.raises(SlackApiError) as exc:
        client.chat_getPermalink(channel="C0NOPE0001", message_ts=parent)
    assert _error(exc) == "channel_not_found"
