"""Feeding the platform's idle shutdown through ``/tmp/.sagemaker-last-active-timestamp``.

Studio's own idle shutdown (``AppLifecycleManagement.IdleSettings``) asks SMD's activity monitor
(``GET /api/idle``), which answers with the newest of the sessions' and terminals'
``last_activity`` and the timestamp in this file. It cannot see a silent busy cell, a ``nohup``
job or a GPU job; the file is the only way to tell it. So while our signals say the app is
active, we keep the file current. Facts (read in the monitor's wheel, sources in docs/idle.md):

* ``jupyter-activity-monitor-extension`` 0.3.2 (``idle_status_detector.py``,
  ``LocalFileActiveTimestampChecker``) reads the whole file, strips it and parses it with
  ``%Y-%m-%dT%H:%M:%S.%fZ`` as UTC; anything else (or no file) is ignored. 0.3.1 (SMD 2.0.0) does
  not read the file at all: there the platform cannot be told (docs/idle.md, "Limits").
* The same file is written by Studio's Code Editor idle extension; others may write it too: what
  we read back as platform activity is never our own write.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from datetime import datetime, timezone
from typing import Any

from .. import clock
from ..fsutil import atomic_write
from .signals import parse_timestamp

log = logging.getLogger("smstudio_ext")

# the format the platform's reader accepts (uppercase Z, microseconds, UTC)
PLATFORM_FILE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_READ = 200  # a timestamp is 27 characters: never read a big file (or /dev/zero) whole


def format_platform_time(wall: datetime) -> str:
    return wall.astimezone(timezone.utc).strftime(PLATFORM_FILE_FORMAT)


def read_small(path: str, limit: int = MAX_READ) -> str | None:
    """At most ``limit`` characters of a regular file; None when absent. Never blocks on a FIFO
    (or a device) someone put there. Raises ``OSError`` for other failures."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        data = os.read(fd, limit)
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace")


class PlatformFile:
    """The platform's activity file: read others' activity from it, feed ours into it."""

    def __init__(self, path: str, *, feed: bool, min_interval_seconds: float = 300.0) -> None:
        self.path = path
        self.feeding = bool(feed and path)
        self.min_interval = min_interval_seconds
        self.written: str | None = None  # our last write (exact text): never read back as activity
        self.written_at: datetime | None = None  # wall time of that write
        self._written_mono: float | None = None
        self.writes = 0
        self.error: str | None = None
        self._read_problem: str | None = None
        self._lock = threading.Lock()

    def read(self) -> datetime | None:
        """Someone else's last activity in the file (aware UTC), or None (no file, garbage, or
        the content is our own write). Problems are logged once per change, never raised."""
        if not self.path:
            return None
        try:
            text = read_small(self.path)
        except OSError as exc:
            self._problem(f"cannot read {self.path}: {exc}")
            return None
        if text is None:
            return None
        text = text.strip()
        with self._lock:
            if self.written is not None and text == self.written:
                return None  # ours
        when = parse_timestamp(text)
        if when is None and text:
            self._problem(f"ignoring {self.path}: not a timestamp ({text[:40]!r})")
        else:
            self._read_problem = None
        return when

    def _problem(self, message: str) -> None:
        if message != self._read_problem:
            log.warning("smstudio idle: %s", message)
        self._read_problem = message

    def due(self) -> bool:
        if not self.feeding:
            return False
        with self._lock:
            last = self._written_mono
        return last is None or clock.monotonic() - last >= self.min_interval

    def feed(self, wall_now: datetime) -> bool:
        """Write ``wall_now`` if a write is due (at most every ``min_interval`` seconds) and the
        file does not already hold a newer time from someone else. True when written."""
        if not self.due():
            return False
        try:
            current = read_small(self.path)
        except OSError:
            current = None  # unreadable (e.g. a directory there): the write will say why
        theirs = parse_timestamp(current or "")
        if theirs is not None and theirs >= wall_now and (current or "").strip() != self.written:
            return False  # newer activity from someone else: never move it backwards
        text = format_platform_time(wall_now)
        try:
            # a private temporary in the same directory, then a rename: the platform never
            # reads half a timestamp, and a link at the path is replaced, never followed.
            # No fsync: the file lives in /tmp and means nothing after a reboot.
            atomic_write(self.path, text, mode=0o644, fsync=False)
        except OSError as exc:
            message = f"cannot write {self.path}: {exc}"
            if message != self.error:
                log.warning(
                    "smstudio idle: %s (the platform's idle shutdown cannot see our activity)",
                    message,
                )
            self.error = message
            with self._lock:
                self._written_mono = (
                    clock.monotonic()
                )  # retried after the interval, not every check
            return False
        with self._lock:
            self.written = text
            self.written_at = wall_now
            self._written_mono = clock.monotonic()
            self.writes += 1
        if self.error:
            log.info("smstudio idle: writing %s works again", self.path)
        self.error = None
        return True

    def status(self) -> dict[str, Any]:
        """For GET smstudio/idle: where we feed the platform and when we last did."""
        return {
            "path": self.path or None,
            "feeding": self.feeding,
            "written_at": clock.isoformat_z(self.written_at) if self.written_at else None,
            "error": self.error,
        }
