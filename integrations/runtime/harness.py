"""Run a vendor simulator in-process on 127.0.0.1 (a free port), with fault injection per route.

    app = Starlette(routes=[...])            # the vendor simulator
    with SimulatorServer(app, name="openai") as sim:
        sim.faults.add("/v1/organization/costs", Fault(status=503), times=2)
        client = runtime.client("openai", sim.base_url)

Faults match a path prefix (and optionally a method) and apply `times` times (None = until
cleared): added latency, a status code, 429 with Retry-After, a dropped connection, a malformed
body, or an auth failure.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Fault:
    latency: float = 0.0  # seconds added before answering (real time: keep it small)
    status: int | None = None  # answer this status with a JSON error body
    retry_after: float | None = None  # with status 429
    reset: bool = False  # drop the connection without an answer
    malformed: bool = False  # 200 with a body that is not valid JSON
    auth: bool = False  # 401 as the vendor answers an invalid/expired credential
    body: Any = None  # JSON body to send with `status` (vendor-shaped error)


@dataclass
class _Rule:
    prefix: str
    method: str | None
    fault: Fault
    remaining: int | None


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.hits: dict[str, int] = {}

    def add(
        self, prefix: str, fault: Fault, *, times: int | None = None, method: str | None = None
    ) -> None:
        with self._lock:
            self._rules.append(_Rule(prefix, method.upper() if method else None, fault, times))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if path.startswith(rule.prefix) and rule.method in (None, method):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule.fault
        return None


class _FaultMiddleware:
    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        self.injector.hits[path] = self.injector.hits.get(path, 0) + 1
        fault = self.injector.take(scope["method"], path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.reset:
            # Closing without a response start makes the client see a dropped connection.
            raise ConnectionResetError("simulated connection reset")
        if fault.malformed:
            await _send(send, 200, b'{"data": [unterminated', "application/json")
            return
        if fault.auth:
            await _send(
                send, 401, _json(fault.body or {"error": "invalid_auth"}), "application/json"
            )
            return
        if fault.status is not None:
            headers = []
            if fault.retry_after is not None:
                headers.append((b"retry-after", str(fault.retry_after).encode()))
            body = _json(fault.body or {"error": f"simulated {fault.status}"})
            await _send(send, fault.status, body, "application/json", headers)
            return
        await self.app(scope, receive, send)


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode()), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimulatorServer:
    def __init__(self, app: ASGIApp, *, name: str = "simulator", port: int | None = None) -> None:
        self.name = name
        self.faults = FaultInjector()
        self.port = port or free_port()
        self._config = uvicorn.Config(
            _FaultMiddleware(app, self.faults),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(
            target=self._server.run, name=f"sim-{self.name}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"simulator {self.name} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
