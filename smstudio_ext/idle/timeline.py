"""The idle engine's time: spans on the monotonic clock, wall time only for display.

A wall-clock step (NTP correcting a suspended instance, a bad clock fixed at boot) must not make
an app look idle: "+3 h" on the wall clock after 15 real minutes is still 15 minutes of idleness.
So every instant the engine keeps (last activity, warnings, keep-alive, grace) lives on the
*timeline*: the monotonic clock expressed as an aware datetime, anchored so that it equals the
wall clock until the wall clock steps. Spans are differences of timeline instants.

Timestamps from outside (a kernel's ``last_activity``, the platform's activity file, an app's
``CreationTime``) are wall-clock values. ``from_wall`` places them on the timeline: a value seen
before keeps the instant it was given then (a later step does not age it); a new value cannot be
older than the check that did not see it yet, nor newer than now.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from .. import clock

log = logging.getLogger("smstudio_ext")

# A wall/monotonic difference that moves by less than this is the two clocks being read a few
# microseconds apart, not a step: the offset only changes on a real step, so a wall timestamp
# converted in and out comes back exactly.
STEP_TOLERANCE = timedelta(seconds=1)


class Timeline:
    """Aware datetimes on the monotonic clock, and conversions to and from wall time."""

    def __init__(self) -> None:
        self._anchor_wall = clock.utcnow()
        self._anchor_mono = clock.monotonic()
        self._offset = timedelta(0)  # wall - timeline
        self._seen: dict[str, tuple[datetime, datetime, datetime]] = {}  # wall, instant, when
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._anchor_wall + timedelta(seconds=clock.monotonic() - self._anchor_mono)

    def at_monotonic(self, mono: float | None) -> datetime | None:
        """A ``clock.monotonic()`` reading (an event we recorded ourselves) on the timeline."""
        if mono is None:
            return None
        return self._anchor_wall + timedelta(seconds=mono - self._anchor_mono)

    def offset(self) -> timedelta:
        """Wall time minus timeline time; changes only when the wall clock steps."""
        measured = clock.utcnow() - self.now()
        with self._lock:
            if abs(measured - self._offset) > STEP_TOLERANCE:
                log.warning(
                    "smstudio idle: the wall clock stepped by %+.0f s; idle time is measured on "
                    "the monotonic clock and does not change",
                    (measured - self._offset).total_seconds(),
                )
                self._offset = measured
            return self._offset

    def wall(self, instant: datetime | None) -> datetime | None:
        """For display: the wall-clock time of a timeline instant."""
        return None if instant is None else instant + self.offset()

    def from_wall(self, key: str, wall: datetime | None) -> datetime | None:
        """Place an outside wall timestamp on the timeline (see the module docstring).

        ``key`` names its source (a kernel, a terminal, the platform file). A source seen for the
        first time is converted with the current offset (and never placed after now)."""
        if wall is None:
            return None
        now = self.now()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and seen[0] == wall:
                return seen[1]
        instant = min(wall - self.offset(), now)
        if seen is not None:  # changed since we last looked: it happened after that look
            instant = max(instant, min(seen[2], now))
        with self._lock:
            self._seen[key] = (wall, instant, now)
        return instant

    def forget(self, keep: set[str], prefix: str) -> None:
        """Drop remembered sources under ``prefix`` that are gone (ended kernels, terminals)."""
        with self._lock:
            for key in [k for k in self._seen if k.startswith(prefix) and k not in keep]:
                del self._seen[key]
