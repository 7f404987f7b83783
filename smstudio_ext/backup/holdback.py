"""Holding back a snapshot that would drop most of its parent's files on a freshly started app.

The failure it stops: a new app starts with an empty home, the server's schedule backs it up
at once (the lifecycle script's restore still running, or never run), and a near-empty
snapshot becomes ``latest``; the next ``restore latest --if-empty`` restores nothing, and
retention removes the good snapshots. A backup that would keep fewer than ``ratio`` of the
parent's files (the parent having at least ``min_files``) while the app is younger than
``hours`` commits nothing: it fails with ``HeldBack`` (exit 5, REST 409, the reason in the
status), so ``latest`` stays the snapshot that held the data. Deliberate deletions go through
with ``--allow-shrink``, or once the app is older than ``hours``.

"Freshly started": the app's container (PID 1 of our PID namespace: in Studio the app's
container starts with the app) started less than ``hours`` ago, measured on the kernel's
boot clock (``/proc/uptime`` minus PID 1's start), which no wall-clock step moves. Where that
cannot be read the app counts as fresh: in doubt, the snapshot is held back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from ..errors import Conflict


class HeldBack(Conflict):
    """A snapshot was not committed because it would drop most of the previous one's files."""

    code = "held_back"


def app_age_seconds() -> float | None:
    """Seconds since PID 1 of this PID namespace (the app's container) started; None when
    unknown (not Linux, ``/proc`` hidden)."""
    try:
        with open("/proc/1/stat", "rb") as fh:
            data = fh.read(4096)
        # fields after the command name (in parentheses, which may hold spaces): state is
        # field 3, starttime field 22 (clock ticks after boot)
        start_ticks = int(data.rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read(64).split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class ShrinkGuard:
    """When a snapshot is held back (``HomeBackup.hold_back_*``)."""

    ratio: float = 0.5  # "most": fewer than this share of the parent's files is kept
    min_files: int = 10  # parents with fewer files are never a reason
    hours: float = 24.0  # "freshly started": the app is younger than this

    def reason(
        self,
        parent_files: object,
        files: int,
        app_age: Callable[[], float | None] = app_age_seconds,
    ) -> str | None:
        """Why a snapshot of ``files`` files after a parent of ``parent_files`` must be held
        back, or None. ``app_age``: the app's age in seconds (None: unknown), asked only
        when the snapshot shrinks."""
        if self.ratio <= 0 or self.hours <= 0:
            return None
        if type(parent_files) is not int or parent_files < max(self.min_files, 1):
            return None
        if files >= parent_files * self.ratio:
            return None
        age = app_age()
        if age is not None and age >= self.hours * 3600:
            return None
        started = "at an unknown time" if age is None else f"{age / 60:.0f} min ago"
        return (
            f"snapshot held back: it would keep {files} of the {parent_files} files of the "
            f"previous snapshot on an app started {started} (a home not restored yet?); "
            "nothing was committed and the latest snapshot is unchanged. If the files were "
            "deleted on purpose: smstudio backup --allow-shrink"
        )
