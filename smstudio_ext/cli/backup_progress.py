"""Progress of the backup commands (``backup``, ``backup check``, ``restore``) on stderr.

The engines count into a ``backup.repo.Progress`` (files, bytes, phase) from their workers;
a thread here reads it a few times a second and says it as one status line:

* on a terminal, one line redrawn in place, at most ten times a second;
* elsewhere (an LCC's log, CI, a pipe), plain lines without carriage returns, from
  ``PLAIN_GRACE`` seconds on: at once when the phase changes, else at most one every
  ``interval`` seconds, and the last state at the end;
* with ``-q``, nothing.

The line itself is the CLI's one reporter (``cli/progress.py``); this module only reads the
engine's counters and words them. Byte sizes: ``units.format_bytes`` (1024-based, KiB/MiB).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TextIO

from ..units import format_bytes
from .progress import Progress

POLL_INTERVAL = 0.2  # seconds between reads of the engine's counters (and terminal redraws)
PLAIN_INTERVAL = 10.0  # seconds between plain lines while only the numbers change
# Plain lines start only after this long: a command that ends (or fails) sooner says nothing
# but its result or its one-line error (its last state still closes a successful run).
PLAIN_GRACE = 1.0


def describe(p: dict[str, Any]) -> tuple[str, str]:
    """(step, text) of a ``Progress.to_dict()``, in the words of its operation."""
    op, phase = p["operation"], p["phase"]
    step = f"{op} {phase}"
    if op == "check" and phase == "manifests":
        return step, f"check: reading snapshot manifests {p['files_done']}/{p['files_total']}"
    counting = phase in ("upload", "restore", "read data", "scan", "read")
    if counting or (phase == "done" and (p["bytes_total"] or op != "check")):
        # a check's "done" counts packs only when it read data (else snapshots: said above)
        unit = "packs" if op == "check" else "files"
        eta = p["eta_seconds"]
        left = "" if phase == "done" else f", ETA {'-' if eta is None else f'{eta:.0f}s'}"
        return step, (
            f"{op} {phase}: {unit} {p['files_done']}/{p['files_total']}, "
            f"{format_bytes(p['bytes_done'])}/{format_bytes(p['bytes_total'])}, "
            f"{format_bytes(p['bytes_per_second'])}/s{left}"
        )
    if phase == "starting":
        return step, ""  # nothing to say yet
    if phase == "manifest":
        return step, f"{op}: reading the snapshot's manifest"
    return step, f"{op}: {phase}"


class EngineProgress:
    """``with EngineProgress(progress, enabled):`` says ``progress`` while the block runs,
    and its last state once it ends (a terminal line is ended, failed or not)."""

    def __init__(
        self,
        progress: Any,
        enabled: bool,
        *,
        tty_only: bool = False,
        stream: TextIO | None = None,
        interval: float = PLAIN_INTERVAL,
        text: Callable[[dict[str, Any]], tuple[str, str]] = describe,
    ) -> None:
        self.progress, self.text = progress, text
        self.line = Progress(enabled=enabled, stream=stream, interval=interval, grace=PLAIN_GRACE)
        self.enabled = enabled and (self.line.tty or not tty_only)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smstudio-progress", daemon=True)

    def __enter__(self) -> EngineProgress:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()
            if exc_type is None:  # a failure says its own one line instead
                self.say(force=True)
            self.line.done()

    def _run(self) -> None:
        while not self._stop.wait(POLL_INTERVAL):
            self.say()

    def say(self, force: bool = False) -> None:
        step, text = self.text(self.progress.to_dict())
        if text:
            self.line(text, step=step, force=force)
