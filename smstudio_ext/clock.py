"""The one clock seam: every engine asks ``utcnow()`` (wall) or ``monotonic()`` (spans) so tests
can time-travel instead of sleeping.

``travel()`` moves both clocks (time passes); ``step_wall()`` moves only the wall clock, as an NTP
step or a suspended instance's clock correction does: spans measured on ``monotonic()`` must not
see it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

_lock = threading.Lock()
_offset = timedelta(0)
_mono_offset = 0.0


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, shifted by any active ``travel``/``step_wall``."""
    return datetime.now(timezone.utc) + _offset


def monotonic() -> float:
    """Seconds on a clock that never steps (``time.monotonic``), shifted by any ``travel``."""
    return time.monotonic() + _mono_offset


def _delta(delta: timedelta | float) -> timedelta:
    return delta if isinstance(delta, timedelta) else timedelta(seconds=float(delta))


def travel(delta: timedelta | float) -> None:
    """Let time pass (seconds or a timedelta): both clocks move. Cumulative until ``reset()``."""
    global _offset, _mono_offset
    delta = _delta(delta)
    with _lock:
        _offset += delta
        _mono_offset += delta.total_seconds()


def step_wall(delta: timedelta | float) -> None:
    """Step the wall clock only (an NTP correction): ``monotonic()`` does not move."""
    global _offset
    with _lock:
        _offset += _delta(delta)


def reset() -> None:
    global _offset, _mono_offset
    with _lock:
        _offset = timedelta(0)
        _mono_offset = 0.0


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


def parse_iso(text: str) -> datetime:
    """The inverse of ``isoformat_z`` that also takes ``+00:00``, a lowercase ``z`` (SMD's
    ``/api/idle``) and naive times (read as UTC), on every Python we support (3.9's
    ``fromisoformat`` knows no ``Z``). Raises ValueError."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
