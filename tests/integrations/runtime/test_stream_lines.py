"""`ServiceClient.stream_lines`: a body read line by line, recorded, retried only before data."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bot.clock import FakeClock
from bot.hub import Hub
from integrations.runtime.errors import AuthError, NetworkError, UpstreamUnavailable
from integrations.runtime.harness import Fault, SimulatorServer


class Feed:
    """Serves `/lines` as a chunked stream; `/stalled` waits for the test before its tail;
    `/broken` drops the connection half way."""

    def __init__(self) -> None:
        self.first_line_read = threading.Event()
        self.app = Starlette(
            routes=[
                Route("/lines", self.lines, methods=["GET"]),
                Route("/stalled", self.stalled, methods=["GET"]),
                Route("/broken", self.broken, methods=["GET"]),
            ]
        )

    async def lines(self, request: Request) -> Response:
        n = int(request.query_params.get("n", "5"))

        async def body() -> AsyncIterator[bytes]:
            for i in range(n):
                # Lines split across chunks on purpose: the client must rejoin them.
                yield f'{{"i": {i}, "pad": "{"x" * 10}"'.encode()
                yield b"}\n" if i < n - 1 else b"}"  # the last line has no newline

        return StreamingResponse(body(), media_type="application/jsonl")

    async def stalled(self, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            # Only sent once the client has handed the first line to its caller: a client
            # that buffered the whole body would never get here (and the test would fail).
            for _ in range(1000):
                if self.first_line_read.is_set():
                    break
                await asyncio.sleep(0.005)
            yield b"second\n" if self.first_line_read.is_set() else b"buffered\n"

        return StreamingResponse(body(), media_type="application/jsonl")

    async def broken(self, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"one\ntwo\n"
            await asyncio.sleep(0.01)
            raise RuntimeError("storage node went away")

        return StreamingResponse(body(), media_type="application/jsonl")


@pytest.fixture
def feed() -> Feed:
    return Feed()


@pytest.fixture
def server(feed: Feed) -> Iterator[SimulatorServer]:
    with SimulatorServer(feed.app, name="feed") as srv:
        yield srv
    feed.first_line_read.set()


def test_lines_are_rejoined_across_chunks_and_the_call_is_recorded(
    rhub: Hub, server: SimulatorServer
) -> None:
    client = rhub.runtime.client("test", server.base_url)
    with client.stream_lines("GET", "/lines", operation="feed.read", params={"n": 4}) as lines:
        got = list(lines)
    assert got == [b'{"i": %d, "pad": "xxxxxxxxxx"}' % i for i in range(4)]
    records = rhub.runtime.records
    assert [(r.operation, r.ok, r.status_code, r.attempt) for r in records] == [
        ("feed.read", True, 200, 1)
    ]


def test_lines_reach_the_caller_before_the_body_ends(
    rhub: Hub, server: SimulatorServer, feed: Feed
) -> None:
    client = rhub.runtime.client("test", server.base_url)
    with client.stream_lines("GET", "/stalled", operation="feed.read") as lines:
        first = next(lines)
        feed.first_line_read.set()
        rest = list(lines)
    assert (first, rest) == (b"first", [b"second"])


def test_retried_before_the_first_byte_on_503(
    rhub: Hub, server: SimulatorServer, fake_clock: FakeClock
) -> None:
    server.faults.add("/lines", Fault(status=503), times=2)
    client = rhub.runtime.client("test", server.base_url)
    with client.stream_lines("GET", "/lines", operation="feed.read", params={"n": 2}) as lines:
        assert len(list(lines)) == 2
    assert len(server.requests) == 3
    assert fake_clock.slept == [4.0, 8.0]
    assert [(r.category, r.attempt) for r in rhub.runtime.records] == [
        ("server", 1),
        ("server", 2),
        (None, 3),
    ]


def test_not_retried_when_retry_is_false_and_errors_are_typed(
    rhub: Hub, server: SimulatorServer
) -> None:
    client = rhub.runtime.client("test", server.base_url)
    server.faults.add("/lines", Fault(status=503), times=1)
    with (
        pytest.raises(UpstreamUnavailable),
        client.stream_lines("GET", "/lines", operation="feed.read", retry=False),
    ):
        pass  # pragma: no cover (the error comes before the block)
    server.faults.add("/lines", Fault(status=403), times=1)
    with pytest.raises(AuthError), client.stream_lines("GET", "/lines", operation="feed.read"):
        pass  # pragma: no cover
    assert len(server.requests) == 2  # neither a 503 with retry=False nor a 403 is retried


def test_failure_after_data_is_raised_not_retried(rhub: Hub, server: SimulatorServer) -> None:
    client = rhub.runtime.client("test", server.base_url)
    got: list[bytes] = []
    with (
        pytest.raises(NetworkError) as info,
        client.stream_lines("GET", "/broken", operation="feed.read") as lines,
    ):
        for line in lines:
            got.append(line)
    assert got == [b"one", b"two"]
    assert "while reading the body" in info.value.message
    assert len(server.requests) == 1
    assert [(r.ok, r.category) for r in rhub.runtime.records] == [(False, "network")]


def test_leaving_early_closes_the_stream_and_records_once(
    rhub: Hub, server: SimulatorServer
) -> None:
    client = rhub.runtime.client("test", server.base_url)
    with client.stream_lines("GET", "/lines", operation="feed.read", params={"n": 50}) as lines:
        assert next(lines).startswith(b'{"i": 0')
    assert [r.ok for r in rhub.runtime.records] == [True]
