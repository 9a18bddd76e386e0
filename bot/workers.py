"""Executors that know when they are idle: the Bolt listener pool and the slow-work pool.

`WorkPool` wraps a `ThreadPoolExecutor` with a bound on queued work (a full pool refuses new
work instead of growing without limit) and `wait_idle()`, which tests and the demo use to wait
deterministically until every piece of background work has finished. With `inline=True` work
runs in the submitting thread (deterministic tests, no threads at all).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class PoolFull(RuntimeError):
    """The pool already holds `max_pending` pieces of work."""


class WorkPool(Executor):
    def __init__(
        self,
        max_workers: int,
        *,
        name: str,
        inline: bool = False,
        max_pending: int | None = None,
    ) -> None:
        self.name = name
        self.inline = inline
        self.max_workers = max_workers
        self.max_pending = max_pending
        self._pool = (
            None if inline else ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        )
        self._pending = 0
        self._cond = threading.Condition()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self._cond:
            if self.max_pending is not None and self._pending >= self.max_pending:
                raise PoolFull(f"{self.name} has {self._pending} pending tasks")
            self._pending += 1
        if self._pool is None:
            future: Future[T] = Future()
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
            finally:
                self._done()
            return future
        try:
            submitted = self._pool.submit(fn, *args, **kwargs)
        except BaseException:
            self._done()
            raise
        submitted.add_done_callback(self._on_done)
        return submitted

    def _on_done(self, future: Future[Any]) -> None:
        exc = future.exception()
        if exc is not None:
            log.error("background work failed pool=%s error=%r", self.name, exc)
        self._done()

    def _done(self) -> None:
        with self._cond:
            self._pending -= 1
            if self._pending == 0:
                self._cond.notify_all()

    def wait_idle(self, timeout: float | None = 30.0) -> bool:
        """True once nothing is queued or running (False if `timeout` passed first)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=timeout)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
