"""The Slack Bolt app factory.

    app = create_app(settings)                 # builds the Hub itself
    app = create_app(settings, client, hub=hub, inline=True)   # tests

- Single workspace: a custom `authorize` hands Bolt the bot token (auth.test is called once,
  lazily, for the bot's user id). SLACK_CLIENT_ID / SLACK_CLIENT_SECRET in the environment would
  make Bolt switch silently to multi-workspace OAuth; they are hidden while the App is built and
  the app refuses to start if an OAuth flow slipped in anyway.
- HTTP mode (Bolt verifies `x-slack-signature`, 401 otherwise) unless SLACK_APP_TOKEN is set:
  then `start_socket_mode(app, settings)` connects over Socket Mode.
- Two pools: Bolt's listener executor (the ack path: larger than Bolt's default of 5) and the
  work pool (`settings.hub_worker_threads`) where everything slow runs after the ack. Both
  report idleness (`app.wait_idle()`); `inline=True` runs everything in the calling thread.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult

from bot.workers import WorkPool

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.hub import Hub
    from bot.security.roles import Role
    from bot.settings import Settings

log = logging.getLogger(__name__)

LISTENER_THREADS = 32
MAX_PENDING_WORK = 1000
ROLE_CACHE_SECONDS = 300.0
_OAUTH_ENV = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
_env_lock = threading.Lock()


class SlackConfigError(RuntimeError):
    pass


class HubApp(App):
    """A Bolt App that also carries the Hub, the work pools and the bot identity."""

    hub: Hub
    settings: Settings
    work_pool: WorkPool
    listener_pool: WorkPool
    api: WebClient

    def bind(
        self, hub: Hub, settings: Settings, work: WorkPool, listeners: WorkPool, client: WebClient
    ) -> None:
        self.hub = hub
        self.api = client  # with the bot token, for calls outside a request (identity, roles)
        self.settings = settings
        self.work_pool = work
        self.listener_pool = listeners
        self._identity: dict[str, Any] | None = None
        self._identity_lock = threading.Lock()
        self._group_cache: dict[str, tuple[float, frozenset[str]]] = {}

    def identity(self) -> dict[str, Any]:
        """The bot's auth.test answer (user_id, bot_id, team_id), fetched once."""
        with self._identity_lock:
            if self._identity is None:
                self._identity = dict(self.api.auth_test().data)  # type: ignore[arg-type]
            return self._identity

    def role_of(self, user_id: str) -> Role:
        from bot.security.roles import resolve_role

        return resolve_role(self.hub.settings, user_id, self._group_members)

    def _group_members(self, group_id: str) -> frozenset[str]:
        now = self.hub.clock.monotonic()
        cached = self._group_cache.get(group_id)
        if cached is not None and now - cached[0] < ROLE_CACHE_SECONDS:
            return cached[1]
        try:
            users: list[str] = self.api.usergroups_users_list(usergroup=group_id).get("users", [])
        except Exception as exc:  # a missing group grants nothing; the log says why
            log.warning("user group lookup failed group=%s error=%s", group_id, exc)
            users = []
        members = frozenset(users)
        self._group_cache[group_id] = (now, members)
        return members

    def submit_work(self, fn: Any, *args: Any) -> bool:
        """Run slow work after the ack; False when the pool is full (caller tells the user)."""
        from bot.workers import PoolFull

        try:
            self.work_pool.submit(fn, *args)
        except PoolFull:
            log.warning("work pool full pending=%s", self.work_pool.pending)
            return False
        return True

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until the listener and work pools are both empty (work may spawn work)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            remaining = max(deadline - time.monotonic(), 0.0)
            if not self.listener_pool.wait_idle(remaining):
                return False
            if not self.work_pool.wait_idle(max(deadline - time.monotonic(), 0.0)):
                return False
            if self.listener_pool.pending == 0 and self.work_pool.pending == 0:
                return True
            if time.monotonic() >= deadline:
                return False

    def close(self) -> None:
        self.listener_pool.shutdown(wait=False)
        self.work_pool.shutdown(wait=False)


@contextmanager
def _without_oauth_env() -> Iterator[None]:
    with _env_lock:
        saved = {key: os.environ.pop(key) for key in _OAUTH_ENV if key in os.environ}
        try:
            yield
        finally:
            os.environ.update(saved)


def create_app(
    settings: Settings,
    client: WebClient | None = None,
    *,
    hub: Hub | None = None,
    inline: bool = False,
) -> HubApp:
    """Build the Bolt app with every listener registered.

    `settings` carries the Slack credentials; `hub` (built from `settings` when omitted) is what
    handlers receive. `inline=True` runs listeners and background work in the calling thread.
    """
    from bot.slack_client import make_web_client

    if settings.slack_bot_token is None:
        raise SlackConfigError("SLACK_BOT_TOKEN is not set")
    socket_mode = settings.slack_app_token is not None
    if not socket_mode and settings.slack_signing_secret is None:
        raise SlackConfigError("SLACK_SIGNING_SECRET is required in HTTP mode")
    if client is None:
        client = make_web_client(settings)
    if hub is None:
        from bot.hub import Hub

        hub = Hub.create(settings)
    if hub.notifier is None:
        from bot.notify import SlackNotifier

        hub.notifier = SlackNotifier(client)

    listeners = WorkPool(LISTENER_THREADS, name="slack-listener", inline=inline)
    work = WorkPool(
        settings.hub_worker_threads,
        name="hub-work",
        inline=inline,
        max_pending=MAX_PENDING_WORK,
    )
    token = settings.slack_bot_token.get_secret_value()
    app_ref: list[HubApp] = []

    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        identity = app_ref[0].identity()
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or identity.get("team_id"),
            bot_token=token,
            bot_user_id=identity.get("user_id"),
            bot_id=identity.get("bot_id"),
        )

    signing_secret = (
        settings.slack_signing_secret.get_secret_value()
        if settings.slack_signing_secret is not None
        else None
    )
    # Bolt builds each request's client from this one (base_url, timeout, retry handlers) with
    # the token from `authorize`; giving it a token too would only log "token ignored".
    bolt_client = copy.copy(client)
    bolt_client.token = None
    with _without_oauth_env():
        app = HubApp(
            client=bolt_client,
            signing_secret=signing_secret,
            authorize=authorize,
            listener_executor=listeners,
            request_verification_enabled=not socket_mode,
            # Our listeners ack first and hand slow work to the work pool themselves.
            process_before_response=False,
            raise_error_for_unhandled_request=False,
        )
    if app.oauth_flow is not None or app.installation_store is not None:
        raise SlackConfigError("the Slack app must run in single-workspace mode")
    app.bind(hub, settings, work, listeners, client)
    app_ref.append(app)
    _register_listeners(app)
    return app


def _register_listeners(app: HubApp) -> None:
    from handlers import actions, commands, events, home
    from handlers.registry import load_handlers

    load_handlers()
    commands.register(app)
    actions.register(app)
    events.register(app)
    home.register(app)

    @app.error
    def _on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error(
            "unhandled Slack listener error type=%s error=%r",
            body.get("type") or body.get("command"),
            error,
        )


def start_socket_mode(app: HubApp, settings: Settings) -> Any:
    """Connect over Socket Mode (SLACK_APP_TOKEN) without blocking; returns the handler."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if settings.slack_app_token is None:
        raise SlackConfigError("SLACK_APP_TOKEN is not set")
    handler = SocketModeHandler(app, settings.slack_app_token.get_secret_value())
    handler.connect()
    return handler
