"""Run a vendor simulator in-process on 127.0.0.1 (a free port), with fault injection per route.

    app = Starlette(routes=[...])            # the vendor simulator
    with SimulatorServer(app, name="openai") as sim:
        sim.faults.add("/v1/organization/costs", Fault(status=503), times=2)
        client = runtime.client("openai", sim.base_url)

Faults match a path prefix (and optionally a method) and apply `times` times (None = until
cleared): added latency, a status code, 429 with Retry-After, a dropped connection (a real TCP
reset: the client sees a network error), a malformed body, an invalid or an expired credential.
`sim.requests` logs every request received (method, path, query, headers, body) and
`sim.faults.applied` which faults were served.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

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
    retry_after: float | None = None  # with status 429 (sent as the Retry-After header)
    reset: bool = False  # drop the connection (TCP reset) without an answer
    malformed: bool = False  # 200 (or `status`) with a body that is not valid JSON
    auth: bool = False  # 401 as the vendor answers an invalid credential
    expired: bool = False  # 401 as the vendor answers an expired credential
    body: Any = None  # JSON body to send with `status`/`auth`/`expired` (vendor-shaped error)
    headers: dict[str, str] | None = None  # extra response headers

    @property
    def kind(self) -> str:
        for name in ("reset", "malformed", "expired", "auth"):
            if getattr(self, name):
                return name
        if self.status is not None:
            return str(self.status)
        return "latency"


@dataclass
class RecordedRequest:
    """One request the simulator received (before faults), for assertions in tests."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    fault: str | None = None  # the kind of fault applied, if any

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class _Rule:
    prefix: str
    method: str | None
    fault: Fault
    remaining: int | None


class FaultInjector:
    """Faults per path prefix and method, each for `times` matching requests (None = until
    cleared). The first matching rule wins, in the order they were added."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.hits: dict[str, int] = {}  # requests per path
        self.applied: list[tuple[str, str, str]] = []  # (method, path, fault kind)

    def add(
        self, prefix: str, fault: Fault, *, times: int | None = None, method: str | None = None
    ) -> None:
        if times is not None and times <= 0:
            raise ValueError("times must be positive (or None for 'until cleared')")
        with self._lock:
            self._rules.append(_Rule(prefix, method.upper() if method else None, fault, times))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pending(self) -> int:
        """Rules still active (a `times=N` rule goes away after N matches)."""
        with self._lock:
            return len(self._rules)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            for rule in self._rules:
                if path.startswith(rule.prefix) and rule.method in (None, method):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    self.applied.append((method, path, rule.fault.kind))
                    return rule.fault
        return None


EXPIRED_BODY = {
    "error": {
        "code": "token_expired",
        "message": "The access token expired",
        "type": "invalid_request_error",
    }
}


class _FaultMiddleware:
    def __init__(
        self, app: ASGIApp, injector: FaultInjector, requests: list[RecordedRequest]
    ) -> None:
        self.app = app
        self.injector = injector
        self.requests = requests
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path = scope["path"]
        body, receive = await _buffer_body(receive)
        fault = self.injector.take(method, path)
        recorded = RecordedRequest(
            method=method,
            path=path,
            query=parse_qs(
                scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
            ),
            headers=_headers(scope),
            body=body,
            fault=fault.kind if fault else None,
        )
        with self._lock:
            self.requests.append(recorded)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.latency:
            await asyncio.sleep(fault.latency)
        extra = [(k.lower().encode(), v.encode()) for k, v in (fault.headers or {}).items()]
        if fault.reset:
            await _drop_connection(send)
            return
        if fault.malformed:
            status = fault.status or 200
            await _send(send, status, b'{"data": [unterminated', "application/json", extra)
            return
        if fault.expired:
            extra.append(
                (
                    b"www-authenticate",
                    b'Bearer error="invalid_token", error_description="The access token expired"',
                )
            )
            await _send(send, 401, _json(fault.body or EXPIRED_BODY), "application/json", extra)
            return
        if fault.auth:
            await _send(
                send, 401, _json(fault.body or {"error": "invalid_auth"}), "application/json", extra
            )
            return
        if fault.status is not None:
            if fault.retry_after is not None:
                extra.append((b"retry-after", _seconds(fault.retry_after).encode()))
            body_out = _json(fault.body or {"error": f"simulated {fault.status}"})
            await _send(send, fault.status, body_out, "application/json", extra)
            return
        await self.app(scope, receive, send)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body, and give the app a `receive` that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _drop_connection(send: Send) -> None:
    """Reset the TCP connection without sending a byte: the client sees a network error."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:  # pragma: no cover - only with a server other than uvicorn/h11
        raise RuntimeError("cannot drop the connection with this server")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0: close() sends RST instead of FIN (a "connection reset by peer").
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Tell uvicorn the client is gone so it does not try to answer 500 on a dead socket.
    cycle.disconnected = True  # type: ignore[union-attr]
    await asyncio.sleep(0)


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
        # Every request received, in order (also the ones answered by a fault).
        self.requests: list[RecordedRequest] = []
        self.port = port or free_port()
        self._config = uvicorn.Config(
            _FaultMiddleware(app, self.faults, self.requests),
            host="127.0.0.1",
            port=self.port,
            http="h11",
            proxy_headers=False,
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
