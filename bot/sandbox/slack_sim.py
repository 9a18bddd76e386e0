"""A local Slack Web API simulator: the methods Chegou Hub uses, with Slack's real envelopes.

    sim = SlackSimulator(bot_token="xoxb-demo")
    with sim.server() as server:                      # SimulatorServer on 127.0.0.1
        client = WebClient(token="xoxb-demo", base_url=server.base_url + "/api/")
        client.chat_postMessage(channel="C0GENERAL1", text="oi")
        sim.messages("C0GENERAL1")[-1].text           # "oi"

What it follows (docs.slack.dev method reference and observed behaviour):

- Every method answers HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": "..."}`;
  a missing or wrong token is `invalid_auth` / `not_authed`; unknown methods `unknown_method`.
  Rate limits are HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`
  (`sim.rate_limit(method, times, retry_after)`, or the harness faults).
- Bodies are read the way slack_sdk sends them: JSON (`chat.postMessage`, `views.publish`,
  `chat.startStream`…), form-encoded (`files.*`) or query strings (GET `users.info`,
  `conversations.replies`). Form fields holding JSON (`blocks`, `files`) are decoded.
- Channels know their members: posting where the bot is not a member is `not_in_channel`, an
  unknown id is `channel_not_found`. Posting to a user id (`U…`) goes to the bot's DM with them.
- `response_url`s (`/response/<id>`) honour `response_type`, `replace_original` and
  `delete_original`, and accept at most 5 uses, as Slack documents.
- `files.getUploadURLExternal` returns an upload URL pointing at this server; the bytes POSTed
  there are kept; `files.completeUploadExternal` shares them (no message ts comes back).
- Streams (`chat.startStream`/`appendStream`/`stopStream`) need a thread and expire after
  `stream_ttl` seconds (or `expire_streams()`): then `message_not_in_streaming_state`.
- `chat.getPermalink` answers Slack's link format (`…/archives/<channel>/p<ts without dot>`,
  plus `?thread_ts=…&cid=…` for a thread reply); an unknown ts is `message_not_found`.
- Every call is recorded (`calls()`), including failed ones.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from integrations.runtime.harness import SimulatorServer

TEAM_ID = "T0CHEGOU01"
TEAM_DOMAIN = "chegou"
BOT_USER_ID = "U0HUBBOT01"
BOT_ID = "B0HUBBOT01"
APP_ID = "A0CHEGOUHB"
RESPONSE_URL_MAX_USES = 5
JSON_FIELDS = frozenset(
    {"blocks", "attachments", "files", "prompts", "view", "metadata", "chunks", "users"}
)


@dataclass
class SimUser:
    id: str
    name: str
    real_name: str
    tz: str = "America/Sao_Paulo"
    is_admin: bool = False
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": "Brasilia Standard Time",
            "tz_offset": -10800,
            "is_admin": self.is_admin,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {
                "real_name": self.real_name,
                "display_name": self.name,
                "image_48": "https://example.invalid/avatar.png",
            },
        }


@dataclass
class SimChannel:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    is_im: bool = False
    user: str | None = None  # the other side of an IM


@dataclass
class SimMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    bot_id: str | None = BOT_ID
    # "message" (visible), "ephemeral" (to `to_user`), "stream" (while streaming)
    kind: str = "message"
    to_user: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    edited: int = 0
    deleted: bool = False
    streaming: bool = False
    streamed: bool = False  # created by chat.startStream: its text shows next to its blocks
    stream_started: float = 0.0
    source: str = "api"  # "api" or "response_url"

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        out["user"] = self.user
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = APP_ID
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.files:
            out["files"] = [dict(f) for f in self.files]
        return out


@dataclass(frozen=True)
class Call:
    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    status: int
    token: str | None


@dataclass
class SimFile:
    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    shared: bool = False


@dataclass
class _ResponseUrl:
    channel: str
    user: str
    message_ts: str | None  # the message an interaction came from (replace_original)
    uses: int = 0


class SlackApiFault(Exception):
    def __init__(self, error: str, status: int = 200, headers: dict[str, str] | None = None):
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}


class SlackSimulator:
    """State and behaviour of the fake workspace. Thread-safe; `build_app()` serves it."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sim-token",
        stream_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot_token = bot_token
        self.stream_ttl = stream_ttl
        self._clock = clock
        self._lock = threading.RLock()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._calls: list[Call] = []
        self._messages: list[SimMessage] = []
        self.users: dict[str, SimUser] = {}
        self.channels: dict[str, SimChannel] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.views: dict[str, dict[str, Any]] = {}  # user id -> published Home view
        self.opened_views: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.suggested_prompts: list[dict[str, Any]] = []
        self.files: dict[str, SimFile] = {}
        self.triggers: set[str] = set()
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._rate_limits: dict[str, list[float]] = {}
        self._base_url: str | None = None
        self.http: SimulatorServer | None = None
        self.add_user(SimUser(BOT_USER_ID, "chegou-hub", "Chegou Hub", is_bot=True))

    # --- seeding ---------------------------------------------------------------------------
    def add_user(self, user: SimUser) -> SimUser:
        with self._lock:
            self.users[user.id] = user
        return user

    def ensure_user(self, user_id: str) -> SimUser:
        with self._lock:
            if user_id not in self.users:
                self.users[user_id] = SimUser(user_id, user_id.lower(), f"Pessoa {user_id}")
            return self.users[user_id]

    def add_channel(self, channel_id: str, name: str, *, bot_member: bool = True) -> SimChannel:
        with self._lock:
            channel = SimChannel(channel_id, name)
            if bot_member:
                channel.members.add(BOT_USER_ID)
            self.channels[channel_id] = channel
            return channel

    def im_channel(self, user_id: str) -> str:
        """The id of the bot's DM with `user_id` (created on first use)."""
        self.ensure_user(user_id)
        with self._lock:
            for channel in self.channels.values():
                if channel.is_im and channel.user == user_id:
                    return channel.id
            channel_id = "D" + user_id[1:]
            self.channels[channel_id] = SimChannel(
                channel_id, user_id, {BOT_USER_ID, user_id}, is_im=True, user=user_id
            )
            return channel_id

    def add_usergroup(self, group_id: str, members: list[str]) -> None:
        with self._lock:
            self.usergroups[group_id] = list(members)

    def issue_trigger(self) -> str:
        with self._lock:
            trigger = f"{next(self._ids)}.{TEAM_ID}.trigger"
            self.triggers.add(trigger)
            return trigger

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A response_url as Slack includes in a slash command or interaction payload."""
        with self._lock:
            key = f"R{next(self._ids):08d}"
            self._response_urls[key] = _ResponseUrl(channel, user, message_ts)
        return f"{self.base_url}/response/{key}"

    def post_user_message(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> SimMessage:
        """A message typed by a person (so threads and conversations.replies see it)."""
        with self._lock:
            msg = SimMessage(channel, self._next_ts(), text, None, thread_ts, user, None)
            self._messages.append(msg)
            return msg

    def rate_limit(self, method: str, times: int = 1, retry_after: float = 1.0) -> None:
        """The next `times` calls of `method` get 429 + Retry-After."""
        with self._lock:
            self._rate_limits.setdefault(method, []).extend([retry_after] * times)

    def expire_streams(self) -> None:
        with self._lock:
            for msg in self._messages:
                msg.stream_started = -1e12

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulator is not being served yet")
        return self._base_url

    def server(self, name: str = "slack") -> SimulatorServer:
        """The HTTP server (start it with `with`); its `.faults` inject HTTP-level faults."""
        server = SimulatorServer(self.build_app(), name=name)
        self._base_url = server.base_url
        self.http = server
        return server

    def record_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        source: str = "ack",
    ) -> SimMessage:
        """What Slack shows for an ack() that carries a message (only the user sees it)."""
        with self._lock:
            msg = SimMessage(
                channel,
                self._next_ts(),
                text,
                blocks,
                kind="ephemeral",
                to_user=user,
                source=source,
            )
            self._messages.append(msg)
            return msg

    # --- accessors ---------------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(
        self, channel: str | None = None, *, include_deleted: bool = False
    ) -> list[SimMessage]:
        with self._lock:
            return [
                m
                for m in self._messages
                if m.kind == "message"
                and (channel is None or m.channel == channel)
                and (include_deleted or not m.deleted)
            ]

    def ephemerals(self, user: str | None = None) -> list[SimMessage]:
        with self._lock:
            return [
                m
                for m in self._messages
                if m.kind == "ephemeral" and not m.deleted and (user is None or m.to_user == user)
            ]

    def all_messages(self) -> list[SimMessage]:
        with self._lock:
            return [m for m in self._messages if not m.deleted]

    def all_messages_raw(self) -> list[SimMessage]:
        """Every message ever recorded, deleted ones too (indexes are stable)."""
        with self._lock:
            return list(self._messages)

    def find_message(self, channel: str, ts: str) -> SimMessage | None:
        with self._lock:
            for m in self._messages:
                if m.channel == channel and m.ts == ts and m.kind == "message":
                    return m
        return None

    def uploads(self) -> list[SimFile]:
        with self._lock:
            return [f for f in self.files.values() if f.shared]

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._messages.clear()
            self.views.clear()
            self.statuses.clear()
            self.suggested_prompts.clear()
            self.files.clear()

    # --- the ASGI app ------------------------------------------------------------------------
    def build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method:str}", self._api, methods=["GET", "POST"]),
                Route("/upload/{file_id:str}", self._upload, methods=["POST"]),
                Route("/response/{key:str}", self._respond, methods=["POST"]),
            ]
        )

    async def _api(self, request: Request) -> Response:
        if self._base_url is None:
            self._base_url = str(request.base_url).rstrip("/")
        method = request.path_params["method"]
        args = await _read_args(request)
        token = _token(request, args)
        try:
            result = self._dispatch(method, args, token)
            status, body, headers = 200, {"ok": True, **result}, {}
        except SlackApiFault as fault:
            status, body, headers = fault.status, {"ok": False, "error": fault.error}, fault.headers
        with self._lock:
            self._calls.append(
                Call(method, args, body["ok"], body.get("error"), status, _mask(token))
            )
        return JSONResponse(body, status_code=status, headers=headers)

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        content = await request.body()
        with self._lock:
            sim_file = self.files.get(file_id)
            if sim_file is None:
                return PlainTextResponse("file not found", status_code=404)
            sim_file.content = content
        return PlainTextResponse(f"OK - {len(content)}")

    async def _respond(self, request: Request) -> Response:
        key = request.path_params["key"]
        raw = await request.body()
        try:
            payload = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return PlainTextResponse("invalid_payload", status_code=400)
        with self._lock:
            target = self._response_urls.get(key)
            if target is None:
                return PlainTextResponse("expired_url", status_code=404)
            if target.uses >= RESPONSE_URL_MAX_USES:
                return PlainTextResponse("used_url", status_code=404)
            target.uses += 1
            self._calls.append(Call("response_url", payload, True, None, 200, None))
            original = (
                self.find_message(target.channel, target.message_ts) if target.message_ts else None
            )
            if payload.get("delete_original") and original is not None:
                original.deleted = True
                return PlainTextResponse("ok")
            if payload.get("replace_original") and original is not None:
                original.text = payload.get("text", "")
                original.blocks = payload.get("blocks")
                original.edited += 1
                return PlainTextResponse("ok")
            in_channel = payload.get("response_type") == "in_channel"
            msg = SimMessage(
                target.channel,
                self._next_ts(),
                payload.get("text", ""),
                payload.get("blocks"),
                payload.get("thread_ts"),
                kind="message" if in_channel else "ephemeral",
                to_user=None if in_channel else target.user,
                source="response_url",
            )
            self._messages.append(msg)
        return PlainTextResponse("ok")

    # --- methods -----------------------------------------------------------------------------
    def _dispatch(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        handler = _METHODS.get(method)
        if handler is None:
            raise SlackApiFault("unknown_method")
        with self._lock:
            waits = self._rate_limits.get(method)
            if waits:
                retry_after = waits.pop(0)
                raise SlackApiFault(
                    "ratelimited", 429, {"Retry-After": str(int(max(retry_after, 0)))}
                )
        if not token:
            raise SlackApiFault("not_authed")
        if token != self.bot_token:
            raise SlackApiFault("invalid_auth")
        with self._lock:
            return handler(self, args)

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1_800_000_000 + n}.{n % 1_000_000:06d}"

    def _writable_channel(self, channel_id: Any) -> SimChannel:
        if not channel_id:
            raise SlackApiFault("channel_not_found")
        channel_id = str(channel_id)
        if channel_id.startswith(("U", "W")):
            if channel_id not in self.users:
                raise SlackApiFault("channel_not_found")
            channel_id = self.im_channel(channel_id)
        channel = self.channels.get(channel_id)
        if channel is None:
            raise SlackApiFault("channel_not_found")
        if BOT_USER_ID not in channel.members:
            raise SlackApiFault("not_in_channel")
        return channel

    def _check_message_content(self, args: dict[str, Any]) -> None:
        text = args.get("text")
        blocks = args.get("blocks")
        if not text and not blocks and not args.get("attachments"):
            raise SlackApiFault("no_text")
        if blocks is not None:
            if not isinstance(blocks, list):
                raise SlackApiFault("invalid_blocks_format")
            if len(blocks) > 50:
                raise SlackApiFault("invalid_blocks")
            for block in blocks:
                if not isinstance(block, dict) or "type" not in block:
                    raise SlackApiFault("invalid_blocks")
        if text and len(str(text)) > 40_000:
            raise SlackApiFault("msg_too_long")

    def m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Chegou",
            "user": "chegou-hub",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def m_chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(args.get("channel"))
        self._check_message_content(args)
        thread_ts = args.get("thread_ts") or None
        msg = SimMessage(
            channel.id,
            self._next_ts(),
            str(args.get("text") or ""),
            args.get("blocks"),
            str(thread_ts) if thread_ts else None,
        )
        self._messages.append(msg)
        return {"channel": channel.id, "ts": msg.ts, "message": msg.to_api()}

    def m_chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(args.get("channel"))
        user = args.get("user")
        if not user or user not in self.users:
            raise SlackApiFault("user_not_found")
        # Human membership is only tracked for channels seeded with members (and DMs).
        tracks_people = len(channel.members - {BOT_USER_ID}) > 0
        if tracks_people and user not in channel.members:
            raise SlackApiFault("user_not_in_channel")
        self._check_message_content(args)
        msg = SimMessage(
            channel.id,
            self._next_ts(),
            str(args.get("text") or ""),
            args.get("blocks"),
            args.get("thread_ts") or None,
            kind="ephemeral",
            to_user=str(user),
        )
        self._messages.append(msg)
        return {"message_ts": msg.ts}

    def m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(args.get("channel"))
        msg = self.find_message(channel.id, str(args.get("ts") or ""))
        if msg is None or msg.deleted:
            raise SlackApiFault("message_not_found")
        if msg.user != BOT_USER_ID:
            raise SlackApiFault("cant_update_message")
        self._check_message_content(args)
        msg.text = str(args.get("text") or "")
        msg.blocks = args.get("blocks")
        msg.edited += 1
        msg.streaming = False
        return {"channel": channel.id, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}

    def m_chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel") or "")
        if channel_id not in self.channels:
            raise SlackApiFault("channel_not_found")
        msg = self.find_message(channel_id, str(args.get("message_ts") or ""))
        if msg is None or msg.deleted:
            raise SlackApiFault("message_not_found")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel_id}/p{msg.ts.replace('.', '')}"
        if msg.thread_ts and msg.thread_ts != msg.ts:
            link += f"?thread_ts={msg.thread_ts}&cid={channel_id}"
        return {"channel": channel_id, "permalink": link}

    def m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user_id")
        view = args.get("view")
        if not user_id or user_id not in self.users:
            raise SlackApiFault("user_not_found")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackApiFault("invalid_arguments")
        if len(view.get("blocks", [])) > 100:
            raise SlackApiFault("invalid_arguments")
        if len(json.dumps(view)) > 250_000:
            raise SlackApiFault("view_too_large")
        stored = {"id": f"V{next(self._ids):09d}", **view}
        self.views[str(user_id)] = stored
        return {"view": stored}

    def m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = args.get("trigger_id")
        view = args.get("view")
        if not trigger or trigger not in self.triggers:
            raise SlackApiFault("invalid_trigger_id")
        self.triggers.discard(trigger)
        if not isinstance(view, dict) or view.get("type") != "modal":
            raise SlackApiFault("invalid_arguments")
        stored = {"id": f"V{next(self._ids):09d}", **view}
        self.opened_views.append(stored)
        return {"view": stored}

    def m_files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        length = args.get("length")
        if not filename or length in (None, ""):
            raise SlackApiFault("invalid_arguments")
        file_id = f"F{next(self._ids):09d}"
        self.files[file_id] = SimFile(file_id, str(filename), int(length))
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def m_files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            raise SlackApiFault("invalid_arguments")
        channel_id = args.get("channel_id")
        channel = self._writable_channel(channel_id) if channel_id else None
        out = []
        for entry in files:
            sim_file = self.files.get(str(entry.get("id")))
            if sim_file is None or sim_file.content is None:
                raise SlackApiFault("file_not_found")
            if len(sim_file.content) != sim_file.length:
                raise SlackApiFault("file_upload_size_mismatch")
            sim_file.title = entry.get("title") or sim_file.filename
            sim_file.shared = channel is not None
            sim_file.channel = channel.id if channel else None
            sim_file.initial_comment = args.get("initial_comment")
            sim_file.thread_ts = args.get("thread_ts")
            out.append({"id": sim_file.id, "title": sim_file.title, "name": sim_file.filename})
        if channel is not None:
            # Sharing is asynchronous in Slack: a message carrying the files appears in the
            # channel, but its ts is not returned to the caller.
            msg = SimMessage(
                channel.id,
                self._next_ts(),
                str(args.get("initial_comment") or ""),
                None,
                args.get("thread_ts") or None,
                files=out,
            )
            self._messages.append(msg)
        return {"files": out}

    def m_assistant_set_status(self, args: dict[str, Any]) -> dict[str, Any]:
        self._writable_channel(args.get("channel_id"))
        if not args.get("thread_ts"):
            raise SlackApiFault("invalid_arguments")
        if "status" not in args:
            raise SlackApiFault("invalid_arguments")
        self.statuses.append(dict(args))
        return {}

    def m_assistant_set_prompts(self, args: dict[str, Any]) -> dict[str, Any]:
        self._writable_channel(args.get("channel_id"))
        prompts = args.get("prompts")
        if not isinstance(prompts, list) or not prompts or len(prompts) > 4:
            raise SlackApiFault("invalid_arguments")
        for prompt in prompts:
            if not isinstance(prompt, dict) or not prompt.get("title") or not prompt.get("message"):
                raise SlackApiFault("invalid_arguments")
        self.suggested_prompts.append(dict(args))
        return {}

    def m_chat_start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(args.get("channel"))
        if not args.get("thread_ts"):
            raise SlackApiFault("invalid_arguments")
        msg = SimMessage(
            channel.id,
            self._next_ts(),
            str(args.get("markdown_text") or ""),
            None,
            str(args["thread_ts"]),
            streaming=True,
            streamed=True,
            stream_started=self._clock(),
        )
        self._messages.append(msg)
        return {"channel": channel.id, "ts": msg.ts}

    def _stream(self, args: dict[str, Any]) -> SimMessage:
        channel = self._writable_channel(args.get("channel"))
        msg = self.find_message(channel.id, str(args.get("ts") or ""))
        if msg is None:
            raise SlackApiFault("message_not_found")
        if not msg.streaming or self._clock() - msg.stream_started > self.stream_ttl:
            msg.streaming = False
            raise SlackApiFault("message_not_in_streaming_state")
        return msg

    def m_chat_append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._stream(args)
        if not args.get("markdown_text"):
            raise SlackApiFault("invalid_arguments")
        msg.text += str(args["markdown_text"])
        return {"channel": msg.channel, "ts": msg.ts}

    def m_chat_stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._stream(args)
        msg.text += str(args.get("markdown_text") or "")
        if args.get("blocks"):
            # Slack shows blocks given at stop below the streamed text (`msg.text`), which stays.
            msg.blocks = args["blocks"]
        msg.streaming = False
        return {"channel": msg.channel, "ts": msg.ts, "message": msg.to_api()}

    def m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise SlackApiFault("user_not_found")
        return {"user": user.to_api()}

    def m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel") or "")
        channel = self.channels.get(channel_id)
        if channel is None:
            raise SlackApiFault("channel_not_found")
        if BOT_USER_ID not in channel.members:
            raise SlackApiFault("not_in_channel")
        ts = str(args.get("ts") or "")
        thread = [
            m
            for m in self._messages
            if m.kind == "message"
            and not m.deleted
            and m.channel == channel_id
            and (m.ts == ts or m.thread_ts == ts)
        ]
        if not any(m.ts == ts for m in thread):
            raise SlackApiFault("thread_not_found")
        thread.sort(key=lambda m: float(m.ts))
        limit = int(args.get("limit") or 1000)
        cursor = int(args.get("cursor") or 0)
        page = thread[cursor : cursor + limit]
        has_more = cursor + limit < len(thread)
        return {
            "messages": [m.to_api() for m in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": str(cursor + limit) if has_more else ""},
        }

    def m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(args.get("usergroup") or ""))
        if group is None:
            raise SlackApiFault("no_such_subteam")
        return {"users": list(group)}


_METHODS: dict[str, Callable[[SlackSimulator, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": SlackSimulator.m_auth_test,
    "chat.postMessage": SlackSimulator.m_chat_post_message,
    "chat.postEphemeral": SlackSimulator.m_chat_post_ephemeral,
    "chat.update": SlackSimulator.m_chat_update,
    "chat.getPermalink": SlackSimulator.m_chat_get_permalink,
    "views.publish": SlackSimulator.m_views_publish,
    "views.open": SlackSimulator.m_views_open,
    "files.getUploadURLExternal": SlackSimulator.m_files_get_upload_url,
    "files.completeUploadExternal": SlackSimulator.m_files_complete_upload,
    "assistant.threads.setStatus": SlackSimulator.m_assistant_set_status,
    "assistant.threads.setSuggestedPrompts": SlackSimulator.m_assistant_set_prompts,
    "chat.startStream": SlackSimulator.m_chat_start_stream,
    "chat.appendStream": SlackSimulator.m_chat_append_stream,
    "chat.stopStream": SlackSimulator.m_chat_stop_stream,
    "users.info": SlackSimulator.m_users_info,
    "conversations.replies": SlackSimulator.m_conversations_replies,
    "usergroups.users.list": SlackSimulator.m_usergroups_users_list,
}
SUPPORTED_METHODS = tuple(sorted(_METHODS))


async def _read_args(request: Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if raw:
        if "application/json" in content_type:
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = {}
            if isinstance(body, dict):
                args.update(body)
        else:
            args.update(dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
    for key in JSON_FIELDS & args.keys():
        value = args[key]
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(json.JSONDecodeError):
                args[key] = json.loads(value)
    return args


def _token(request: Request, args: dict[str, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    token = args.pop("token", None)
    return str(token) if token else None


def _mask(token: str | None) -> str | None:
    if not token:
        return None
    return token[:5] + "…"


def seed_default_workspace(sim: SlackSimulator) -> None:
    """Channels and people used by tests and the demo."""
    sim.add_channel("C0GENERAL1", "geral")
    sim.add_channel("C0ALERTS01", "alertas")
    sim.add_channel("C0COSTS001", "custos-ia")
    sim.add_channel("C0SHOPIFY1", "shopify")
    sim.add_channel("C0NOVELTY1", "novidades")
    sim.add_channel("C0OUTSIDE1", "sem-bot", bot_member=False)
    for user in (
        SimUser("U0ADMIN001", "ana", "Ana Admin", is_admin=True),
        SimUser("U0OPER0001", "otavio", "Otávio Operador"),
        SimUser("U0VIEW0001", "vera", "Vera Leitura"),
    ):
        sim.add_user(user)


def iter_buttons(blocks: list[dict[str, Any]] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(block_id, element) for every button in blocks (actions and section accessories)."""
    for block in blocks or []:
        block_id = str(block.get("block_id", ""))
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    yield block_id, element
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            yield block_id, accessory
