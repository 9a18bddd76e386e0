"""Every external call recorded: buffered in memory, written to `api_calls` in batches.

The hot path (`CallRecorder.add`) only appends to a list under a lock and updates the
per-integration in-memory state and Prometheus; a background thread writes the buffer when it
reaches `call_record_flush_size` rows or every `call_record_flush_seconds`, and `flush()` /
`close()` write what is left. Records being written stay visible to `snapshot()` until the
insert commits, so health statistics never miss a call. A failed write keeps the rows (up to a
cap) for the next attempt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.logging_setup import REDACTOR

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# Buffered rows kept when the database is unreachable (oldest dropped beyond this).
MAX_PENDING = 50_000


@dataclass(frozen=True)
class CallRecord:
    integration: str
    operation: str
    started_at: datetime  # aware UTC
    latency_ms: float
    ok: bool
    status_code: int | None
    category: str | None
    error: str | None
    attempt: int = 1


def base_name(integration: str) -> str:
    """`shopify:loja1` → `shopify`: sub-keys (one per store) share the integration's defaults."""
    return integration.split(":", 1)[0]


def counts_as_failure(ok: bool, category: str | None) -> bool:
    """An upstream failure. A `client` error (400/404/422) is an answer from a healthy
    service to a request it rejected: it does not count against the integration's health."""
    return not ok and category != "client"


@dataclass
class LiveState:
    """Per-integration state kept in memory (what the process itself has seen)."""

    consecutive_failures: int = 0
    last_error_category: str | None = None
    last_error_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_latency_ms: float | None = None
    rate_limited_at: datetime | None = None
    unavailable: bool = False


class CallRecorder:
    def __init__(
        self,
        engine: Engine | None,
        *,
        flush_size: int = 200,
        flush_seconds: float = 5.0,
        unavailable_after: int = 5,
        on_record: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self.engine = engine
        self.flush_size = max(1, flush_size)
        self.flush_seconds = max(0.05, flush_seconds)
        self.unavailable_after = max(1, unavailable_after)
        self._on_record = on_record
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: list[CallRecord] = []
        self._inflight: list[CallRecord] = []
        self._state: dict[str, LiveState] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushes = 0  # batches written (observability, tests)
        self.rows_written = 0

    # --- hot path -------------------------------------------------------------------------
    def add(self, record: CallRecord) -> None:
        if record.error:
            record = _replace_error(record, REDACTOR.scrub(record.error)[:500])
        transition: str | None = None
        with self._lock:
            self._pending.append(record)
            if len(self._pending) > MAX_PENDING:
                del self._pending[: len(self._pending) - MAX_PENDING]
            size = len(self._pending)
            transition = self._update_state(record)
        if self._on_record is not None:
            self._on_record(record)
        if transition == "down":
            log.warning(
                "integration unavailable integration=%s consecutive_failures=%d category=%s",
                record.integration,
                self.unavailable_after,
                record.category,
            )
        elif transition == "up":
            log.info("integration recovered integration=%s", record.integration)
        if self.engine is None:
            return
        self._ensure_flusher()
        if size >= self.flush_size:
            self._wake.set()

    def _update_state(self, record: CallRecord) -> str | None:
        state = self._state.setdefault(record.integration, LiveState())
        state.last_latency_ms = record.latency_ms
        if record.category == "rate_limit":
            state.rate_limited_at = record.started_at
        if counts_as_failure(record.ok, record.category):
            state.consecutive_failures += 1
            state.last_error_category = record.category
            state.last_error_at = record.started_at
            if not state.unavailable and state.consecutive_failures >= self.unavailable_after:
                state.unavailable = True
                return "down"
            return None
        state.consecutive_failures = 0
        if record.ok:
            state.last_ok_at = record.started_at
        else:
            state.last_error_category = record.category
            state.last_error_at = record.started_at
        if state.unavailable:
            state.unavailable = False
            return "up"
        return None

    # --- reading --------------------------------------------------------------------------
    def snapshot(self) -> list[CallRecord]:
        """Records not yet committed to the database (pending and being written)."""
        with self._lock:
            return [*self._inflight, *self._pending]

    def live_state(self, integration: str) -> LiveState:
        with self._lock:
            state = self._state.get(integration, LiveState())
            return LiveState(**state.__dict__)

    def integrations_seen(self) -> list[str]:
        with self._lock:
            return sorted(self._state)

    # --- writing --------------------------------------------------------------------------
    def flush(self) -> int:
        """Write the buffered records in one batch; returns the number of rows written."""
        if self.engine is None:
            return 0
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                self._inflight = batch
            if not batch:
                return 0
            try:
                self._write(batch)
            except Exception:
                log.exception("api_calls flush failed rows=%d (kept for retry)", len(batch))
                with self._lock:
                    self._pending = (batch + self._pending)[-MAX_PENDING:]
                    self._inflight = []
                return 0
            with self._lock:
                self._inflight = []
            self.flushes += 1
            self.rows_written += len(batch)
            return len(batch)

    def _write(self, batch: list[CallRecord]) -> None:
        from sqlalchemy import insert

        from integrations.runtime.models import ApiCall

        assert self.engine is not None
        rows = [
            {
                "integration": r.integration[:64],
                "operation": r.operation[:128],
                "started_at": r.started_at,
                "latency_ms": r.latency_ms,
                "ok": r.ok,
                "status_code": r.status_code,
                "category": r.category,
                "error": r.error,
                "attempt": r.attempt,
            }
            for r in batch
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(ApiCall), rows)

    def _ensure_flusher(self) -> None:
        if self._thread is not None or self._stop.is_set():
            return
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="api-calls-flusher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Real time on purpose: the interval is about database load, not business time.
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        self.flush()


def _replace_error(record: CallRecord, error: str) -> CallRecord:
    from dataclasses import replace

    return replace(record, error=error)
