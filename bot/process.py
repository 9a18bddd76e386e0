"""`chegou-hub run`: the production process.

Start-up, in order: migrate the database (`alembic upgrade heads`), build the `Hub`, build the
Slack app (when `bot.app` exists and SLACK_BOT_TOKEN is set) in Socket Mode (SLACK_APP_TOKEN)
or HTTP mode (mounted at /slack/events, needs SLACK_SIGNING_SECRET), start the scheduler (when
`jobs.scheduler` exists and JOBS_ENABLED), then serve HTTP with uvicorn.

SIGTERM / SIGINT shut down gracefully, in order: stop receiving Slack events (Socket Mode),
stop the web server (no new connections; in-flight requests finish), stop the scheduler, flush
the runtime's buffered call records and close its HTTP clients. A second signal forces the web
server down without waiting for open requests.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.hub import Hub
    from bot.settings import Settings

log = logging.getLogger(__name__)

WEB_START_TIMEOUT_SECONDS = 30.0
WEB_GRACEFUL_SHUTDOWN_SECONDS = 10


def module_available(name: str) -> bool:
    """True when `name` can be imported (areas arrive one by one)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class StartupError(RuntimeError):
    """A known start-up failure, logged without a traceback."""


def database_error(exc: BaseException) -> str | None:
    """A one-line reason when `exc` means the database cannot be reached; None otherwise."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    if not isinstance(exc, (OperationalError, InterfaceError)):
        return None
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    return f"database unreachable ({type(exc).__name__}: {detail}); check DATABASE_URL"


@dataclass
class HubProcess:
    settings: Settings
    host: str | None = None
    port: int | None = None
    enable_slack: bool = True
    enable_scheduler: bool = True

    # State, filled by start().
    engine: Engine | None = field(default=None, init=False)
    hub: Hub | None = field(default=None, init=False)
    bolt_app: Any = field(default=None, init=False)
    slack_mode: str = field(default="off", init=False)  # off | socket | http
    socket_handler: Any = field(default=None, init=False)
    scheduler: Any = field(default=None, init=False)
    _server: Any = field(default=None, init=False, repr=False)
    _web_thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _stop_requested: bool = field(default=False, init=False, repr=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    # --- start ----------------------------------------------------------------------------
    def start(self) -> None:
        from bot.db import make_engine, upgrade
        from bot.hub import Hub

        settings = self.settings
        self._log_configuration()
        self.engine = make_engine(settings.database_url)
        log.info("database upgrade starting")
        try:
            upgrade(self.engine)
        except Exception as exc:
            reason = database_error(exc)
            if reason is None:
                raise
            raise StartupError(reason) from exc
        log.info("database upgrade done")
        self.hub = Hub.create(settings, engine=self.engine)
        if self.enable_slack:
            self._start_slack_app()
        if self.enable_scheduler:
            self._start_scheduler()
        self._start_web()

    def _log_configuration(self) -> None:
        """One line per integration; invalid ones are logged and left off, not fatal.

        (Malformed values stop the start earlier, in the CLI, with exit code 2.)
        """
        from bot.config_check import check_settings

        try:
            report = check_settings(self.settings)
        except Exception:
            log.exception("configuration check failed")
            return
        for item in report.integrations:
            if item.status == "invalid":
                for reason in item.reasons:
                    log.warning("integration invalid name=%s problem=%r", item.name, reason)
            else:
                log.info("integration name=%s status=%s", item.name, item.status)

    def _start_slack_app(self) -> None:
        settings = self.settings
        if settings.slack_bot_token is None:
            log.info("slack disabled reason=SLACK_BOT_TOKEN_not_set")
            return
        if not module_available("bot.app"):
            log.warning("slack disabled reason=bot.app_not_installed")
            return
        socket_mode = settings.slack_app_token is not None
        if not socket_mode and settings.slack_signing_secret is None:
            log.error(
                "slack disabled reason=no_mode: set SLACK_APP_TOKEN (Socket Mode) "
                "or SLACK_SIGNING_SECRET (HTTP mode)"
            )
            return
        slack_app: Any = importlib.import_module("bot.app")
        self.bolt_app = slack_app.create_app(settings, hub=self.hub)
        self._attach_notifier()
        if socket_mode:
            try:
                self.socket_handler = slack_app.start_socket_mode(self.bolt_app, settings)
            except Exception as exc:
                # Exit 1 so the service manager retries; details at debug level.
                log.debug("socket mode connection failed", exc_info=True)
                raise StartupError(
                    f"could not connect to Slack over Socket Mode ({type(exc).__name__}); "
                    "check SLACK_APP_TOKEN and outbound access to slack.com"
                ) from exc
            self.slack_mode = "socket"
        else:
            self.slack_mode = "http"
        log.info("slack started mode=%s", self.slack_mode)

    def _attach_notifier(self) -> None:
        """Jobs post through Slack: give the Hub a Slack notifier if the app did not."""
        hub = self.hub
        if hub is None or hub.notifier is not None:
            return
        try:
            from bot import notify

            factory = getattr(notify, "SlackNotifier", None)
            if factory is not None:
                hub.notifier = factory(self.bolt_app.client)
        except Exception:
            log.exception("slack notifier could not be created; jobs will not post")

    def _start_scheduler(self) -> None:
        if not self.settings.jobs_enabled:
            log.info("scheduler disabled reason=JOBS_ENABLED_false")
            return
        if not module_available("jobs.scheduler"):
            log.info("scheduler disabled reason=jobs.scheduler_not_installed")
            return
        scheduler_module: Any = importlib.import_module("jobs.scheduler")
        self.scheduler = scheduler_module.HubScheduler(self.hub)
        self.scheduler.start()
        log.info("scheduler started")

    def _start_web(self) -> None:
        import uvicorn

        from bot.web import create_web_app

        assert self.hub is not None
        app = create_web_app(
            self.hub, bolt_app=self.bolt_app if self.slack_mode == "http" else None
        )
        config = uvicorn.Config(
            app,
            host=self.host or self.settings.web_host,
            port=self.port or self.settings.web_port,
            log_config=None,  # our logging configuration applies to uvicorn's loggers too
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=WEB_GRACEFUL_SHUTDOWN_SECONDS,
        )
        for name in ("uvicorn", "uvicorn.error"):
            logger = logging.getLogger(name)
            if not any(isinstance(f, _DropColorMessage) for f in logger.filters):
                logger.addFilter(_DropColorMessage())
        self._server = uvicorn.Server(config)
        # Off the main thread uvicorn installs no signal handlers: this process owns them.
        self._web_thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._web_thread.start()
        deadline = time.monotonic() + WEB_START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._web_thread.is_alive() or time.monotonic() > deadline:
                raise StartupError(f"web server did not start on {config.host}:{config.port}")
            time.sleep(0.02)
        log.info("web server listening host=%s port=%s", config.host, config.port)

    def _serve(self) -> None:
        try:
            self._server.run()
        except SystemExit:  # uvicorn exits when it cannot bind
            log.error("web server stopped: could not start (is the port in use?)")
        finally:
            self._wake.set()

    # --- stop -----------------------------------------------------------------------------
    def request_stop(self, signum: int | None = None) -> None:
        """Safe from a signal handler: sets flags only (no locks)."""
        if self._stop_requested and self._server is not None:
            self._server.force_exit = True
        self._stop_requested = True
        if self._server is not None:
            self._server.should_exit = True

    def wait(self) -> int:
        """Block until a stop is requested (0) or the web server dies (1)."""
        while not self._stop_requested:
            if self._web_thread is None or not self._web_thread.is_alive():
                return 1
            self._wake.wait(0.25)
        return 0

    def stop(self) -> None:
        log.info("shutdown starting")
        self._stop_requested = True
        self._close_socket_mode()
        if self._server is not None:
            self._server.should_exit = True
        if self._web_thread is not None:
            self._web_thread.join(WEB_GRACEFUL_SHUTDOWN_SECONDS + 5)
            if self._web_thread.is_alive():
                log.warning("web server did not stop in time")
        self._drain_slack_work()
        if self.scheduler is not None:
            _safely("scheduler shutdown", self.scheduler.shutdown)
        if self.hub is not None:
            _safely("runtime flush", self.hub.runtime.flush)
            _safely("hub close", self.hub.close)
        if self.engine is not None:
            self.engine.dispose()
        log.info("shutdown complete")

    def _drain_slack_work(self) -> None:
        """Let /hub work already acknowledged finish (bounded), then stop the Slack pools."""
        app = self.bolt_app
        if app is None:
            return
        wait_idle = getattr(app, "wait_idle", None)
        if callable(wait_idle) and not wait_idle(timeout=WEB_GRACEFUL_SHUTDOWN_SECONDS):
            log.warning("slack work still running at shutdown")
        close = getattr(app, "close", None)
        if callable(close):
            _safely("slack app close", close)

    def _close_socket_mode(self) -> None:
        handler = self.socket_handler
        if handler is None:
            return
        for name in ("close", "disconnect"):
            method = getattr(handler, name, None)
            if callable(method):
                _safely("socket mode close", method)
                return


class _DropColorMessage(logging.Filter):
    """uvicorn attaches an ANSI-coloured copy of some messages; key=value logs want one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


def _safely(what: str, func: Any) -> None:
    try:
        func()
    except Exception:
        log.exception("%s failed", what)


def run(settings: Settings, *, host: str | None = None, port: int | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    process = HubProcess(settings, host=host, port=port)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        process.request_stop(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            process.start()
        except StartupError as exc:
            log.error("start-up failed: %s", exc)
            process.stop()
            return 1
        except Exception:
            log.exception("start-up failed")
            process.stop()
            return 1
        log.info("chegou-hub running slack=%s", process.slack_mode)
        code = process.wait()
        process.stop()
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
