"""A small vendor-like simulator for the runtime tests, served by the real harness."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.clock import FakeClock
from bot.hub import Hub
from bot.settings import Settings
from integrations.runtime.harness import SimulatorServer
from tests.conftest import make_settings


class Upstream:
    """Starlette app + knobs: a gate that holds /slow requests until released."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/items", self.items, methods=["GET"]),
                Route("/orders", self.orders, methods=["POST"]),
                Route("/graphql", self.graphql, methods=["POST"]),
                Route("/echo", self.echo, methods=["GET", "POST"]),
                Route("/slow", self.slow, methods=["GET"]),
                Route("/text", self.text, methods=["GET"]),
                Route("/echo-error", self.echo_error, methods=["GET", "POST"]),
            ]
        )

    def _count(self, name: str) -> int:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            return self.calls[name]

    async def items(self, request: Request) -> Response:
        n = self._count("items")
        return JSONResponse({"items": [1, 2, 3], "n": n, "q": dict(request.query_params)})

    async def orders(self, request: Request) -> Response:
        n = self._count("orders")
        body = await request.json()
        return JSONResponse({"id": n, "quantity": body.get("quantity")}, status_code=201)

    async def graphql(self, request: Request) -> Response:
        self._count("graphql")
        return JSONResponse({"data": {"shop": {"name": "Loja"}}})

    async def echo(self, request: Request) -> Response:
        self._count("echo")
        return JSONResponse(
            {
                "method": request.method,
                "query": dict(request.query_params),
                "body": (await request.body()).decode(),
            }
        )

    async def slow(self, request: Request) -> Response:
        n = self._count("slow")
        for _ in range(1000):  # at most ~5 s of real time
            if self.gate.is_set():
                break
            await asyncio.sleep(0.005)
        status = int(request.query_params.get("status", "200"))
        return JSONResponse({"n": n}, status_code=status)

    async def text(self, request: Request) -> Response:
        self._count("text")
        return PlainTextResponse("not json at all")

    async def echo_error(self, request: Request) -> Response:
        """A badly behaved vendor: echoes the credential and the query back in an error."""
        self._count("echo_error")
        return JSONResponse(
            {
                "error": "internal error",
                "authorization": request.headers.get("authorization"),
                "query": str(request.url.query),
            },
            status_code=int(request.query_params.get("status", "500")),
        )


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def sim(upstream: Upstream) -> Iterator[SimulatorServer]:
    with SimulatorServer(upstream.app, name="test") as server:
        yield server
    upstream.gate.set()


@pytest.fixture
def runtime_settings(tmp_path: Path) -> Settings:
    """The company's retry policy (4–10 s waits), generous limits so they stay out of the way."""
    return make_settings(
        tmp_path,
        retry_wait_min_seconds=4.0,
        retry_wait_max_seconds=10.0,
        hub_rate_limits={"test": {"rate": 1000, "burst": 1000}},
    )


@pytest.fixture
def rhub(runtime_settings: Settings, sqlite_engine: Engine, fake_clock: FakeClock) -> Iterator[Hub]:
    h = Hub.create(runtime_settings, engine=sqlite_engine, clock=fake_clock)
    yield h
    h.close()
