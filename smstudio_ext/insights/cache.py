"""A thread-safe TTL cache with single-flight loading.

Every AWS answer the insights engine uses goes through one ``TtlCache``: a fresh entry is
returned at once; a missing or stale one is loaded once, however many threads ask at the same
time (they all wait on the same ``Future``), so the panel's polling never multiplies AWS calls.
Failures are cached too, for a shorter time, so a denied permission is not asked again on every
poll. Ages use ``time.monotonic`` (not the clock seam), so time-travel in tests does not expire
entries; use ``clear()`` or ``max_age`` for that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class _Entry:
    future: Future[Any]
    loaded_at: float | None  # monotonic time the load finished; None while in flight
    ttl: float
    error_ttl: float

    def fresh(self, now: float, max_age: float | None, fresh_after: float | None = None) -> bool:
        if self.loaded_at is None or not self.future.done():
            return True  # in flight: join it
        if fresh_after is not None and self.loaded_at >= fresh_after:
            return True
        failed = self.future.exception(timeout=0) is not None
        limit = self.error_ttl if failed else self.ttl
        if max_age is not None:
            limit = min(limit, max_age)
        return now - self.loaded_at < limit


class TtlCache:
    """``get(key, loader, ttl)``; ``submit`` does the same without blocking (returns a Future)."""

    def __init__(self, error_ttl: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.error_ttl = error_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}
        self.loads = 0  # how many loader calls ran (for tests and stats)

    def submit(
        self,
        key: Hashable,
        loader: Callable[[], Any],
        ttl: float,
        *,
        executor: Executor | None = None,
        max_age: float | None = None,
        fresh_after: float | None = None,
        error_ttl: float | None = None,
    ) -> Future[Any]:
        """A Future for ``key``: cached, joined in flight, or started (on ``executor`` if given,
        else in this thread before returning).

        ``max_age`` tightens the TTL (a refresh); entries loaded at or after ``fresh_after`` (a
        time of ``clock``) stay fresh anyway, so one refresh reloads each key only once.
        """
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.fresh(now, max_age, fresh_after):
                return entry.future
            future: Future[Any] = Future()
            self._entries[key] = _Entry(
                future, None, ttl, self.error_ttl if error_ttl is None else error_ttl
            )
            self.loads += 1

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                value = loader()
            except Exception as exc:  # cached and re-raised to every waiter
                future.set_exception(exc)
            else:
                future.set_result(value)
            self._finish(key, future)

        if executor is None:
            run()
        else:
            executor.submit(run)
        return future

    def _finish(self, key: Hashable, future: Future[Any]) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.future is future:
                entry.loaded_at = self._clock()

    def get(self, key: Hashable, loader: Callable[[], Any], ttl: float, **kwargs: Any) -> Any:
        """The value for ``key`` (raising a cached or fresh failure)."""
        return self.submit(key, loader, ttl, **kwargs).result()

    def now(self) -> float:
        return self._clock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
