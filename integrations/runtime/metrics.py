"""Prometheus metrics of external calls, in one module-level registry served at /metrics.

    from integrations.runtime.metrics import CONTENT_TYPE, render
    return Response(render(), media_type=CONTENT_TYPE)

Labels stay bounded: integration (base name, `shopify` for `shopify:loja1`), operation (names
chosen in code), category (`ok` or one of the error categories).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Slow vendor endpoints (reports, bulk exports) legitimately take tens of seconds: the buckets
# reach well beyond 10 s so p95/p99 stay visible when an upstream degrades.
LATENCY_BUCKETS = (
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    45.0,
    60.0,
    120.0,
)

CALLS = Counter(
    "chegou_hub_api_calls",
    "Upstream calls (each attempt), by outcome category.",
    ["integration", "operation", "category"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "chegou_hub_api_call_duration_seconds",
    "Latency of upstream calls (each attempt).",
    ["integration", "operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
ERRORS = Counter(
    "chegou_hub_api_errors",
    "Failed upstream calls by error category.",
    ["integration", "category"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "chegou_hub_api_retries",
    "Automatic retries, by the category of the error that caused them.",
    ["integration", "category"],
    registry=REGISTRY,
)
CACHE = Counter(
    "chegou_hub_cache_requests",
    "Cacheable requests by result: hit, miss (went upstream), shared (joined a flight).",
    ["integration", "result"],
    registry=REGISTRY,
)
RATE_LIMIT_WAIT = Counter(
    "chegou_hub_rate_limit_wait_seconds",
    "Time callers waited for the per-integration rate limiter.",
    ["integration"],
    registry=REGISTRY,
)
BUFFERED_RECORDS = Gauge(
    "chegou_hub_api_call_records_buffered",
    "Call records waiting to be written to the database.",
    registry=REGISTRY,
)
CONSECUTIVE_FAILURES = Gauge(
    "chegou_hub_api_consecutive_failures",
    "Consecutive upstream failures seen by this process.",
    ["integration"],
    registry=REGISTRY,
)


def render() -> bytes:
    """The Prometheus text exposition of the runtime's registry."""
    return bytes(generate_latest(REGISTRY))
