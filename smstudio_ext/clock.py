"""The one clock seam: every engine asks ``utcnow()`` so tests can time-travel instead of sleeping."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

_lock = threading.Lock()
_offset = timedelta(0)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, shifted by any active ``travel``."""
    return datetime.now(timezone.utc) + _offset


def travel(delta: timedelta | float) -> None:
    """Move the clock forward (seconds or a timedelta). Cumulative until ``reset()``."""
    global _offset
    if not isinstance(delta, timedelta):
        delta = timedelta(seconds=float(delta))
    with _lock:
        _offset += delta


def reset() -> None:
    global _offset
    with _lock:
        _offset = timedelta(0)


@contextmanager
def travelling() -> Iterator[None]:
    """Context manager for tests: any ``travel`` inside is undone on exit."""
    try:
        yield
    finally:
        reset()


def isoformat_z(when: datetime) -> str:
    """``2026-11-30T02:17:30.123456Z``: UTC with microseconds."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
