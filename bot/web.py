"""The HTTP face of the process (Starlette, served by uvicorn from `bot.process`).

    GET  /livez         the process answers (no database, no upstream calls)
    GET  /readyz        the database answers `SELECT 1` -> 200, otherwise 503
    GET  /health        per-integration health JSON; 200 when nothing fails, 503 otherwise
                        (`?probe=1` also makes one cheap upstream call per integration)
    GET  /metrics       Prometheus text exposition of the runtime's registry
    POST /slack/events  Slack HTTP mode (events, commands, interactivity), when a Bolt app is given

Endpoints that touch the database or Slack are plain functions, so Starlette runs them in its
thread pool and the event loop stays free for /livez and the other requests.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.hub import Hub

log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def create_web_app(
    hub: Hub, *, bolt_app: App | None = None, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    def livez(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def readyz(request: Request) -> Response:
        from bot.db import ping

        try:
            ping(hub.engine)
        except Exception as exc:
            # The class name only: driver messages can carry host names or credentials.
            log.warning("readiness check failed error=%s", type(exc).__name__)
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        return JSONResponse({"status": "ready", "database": "ok"})

    def health(request: Request) -> Response:
        probe = request.query_params.get("probe", "").lower() in ("1", "true", "yes")
        try:
            from integrations.runtime.health import health_report

            report = health_report(hub, probe=probe)
        except Exception:
            log.exception("health report failed")
            return JSONResponse(
                {"status": "error", "detail": "health report failed; see the logs"},
                status_code=500,
            )
        return JSONResponse(report.to_dict(), status_code=report.http_status)

    def metrics(request: Request) -> Response:
        from prometheus_client import generate_latest

        return Response(generate_latest(metrics_registry()), media_type=PROMETHEUS_CONTENT_TYPE)

    routes: list[BaseRoute] = [
        Route("/livez", livez, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if bolt_app is not None:
        routes.append(slack_route(bolt_app))
    routes.extend(extra_routes)
    app = Starlette(routes=routes)
    app.state.hub = hub
    return app


def slack_route(bolt_app: App, path: str = "/slack/events") -> Route:
    """POST /slack/events, dispatched off the event loop (see `bot.app.starlette_endpoint`)."""
    from bot.app import starlette_endpoint

    return Route(path, starlette_endpoint(bolt_app), methods=["POST"])


def metrics_registry() -> Any:
    """The runtime's Prometheus registry (falls back to the client library's default)."""
    try:
        runtime_metrics: Any = importlib.import_module("integrations.runtime.metrics")
    except ImportError:
        runtime_metrics = None
    for name in ("REGISTRY", "registry"):
        registry = getattr(runtime_metrics, name, None)
        if registry is not None:
            return registry
    from prometheus_client import REGISTRY

    return REGISTRY
