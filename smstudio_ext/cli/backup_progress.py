"""Progress of the backup commands (``backup``, ``backup check``, ``restore``) on stderr.

The engines count into a ``backup.repo.Progress`` (files, bytes, phase) from their workers;
a thread here reads it a few times a second and says it as one status line:

* on a terminal, one line redrawn in place, at most ``TTY_INTERVAL`` apart;
* elsewhere (an LCC's log, CI, a pipe), plain lines without carriage returns, from
  ``PLAIN_GRACE`` seconds on: at once when the phase changes, else at most one every
  ``interval`` seconds, and the last state at the end;
* with ``-q``, nothing.

The smallest reporter these commands need: ``StatusLine`` has the same rules as the shared
reporter of the CLI branch (``cli/progress.py``), which can replace it when both meet.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import Any, Callable, TextIO

TTY_INTERVAL = 0.2  # seconds between redraws of a terminal line
PLAIN_INTERVAL = 10.0  # seconds between plain lines while only the numbers change
# Plain lines start only after this long: a command that ends (or fails) sooner says nothing
# but its result or its one-line error (its last state still closes a successful run).
PLAIN_GRACE = 1.0


class StatusLine:
    """Say ``(step, text)`` pairs: a new ``step`` is always said, the same one rate-limited."""

    def __init__(
        self,
        stream: TextIO | None = None,
        interval: float = PLAIN_INTERVAL,
        tty_only: bool = False,
        grace: float = PLAIN_GRACE,
    ) -> None:
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.enabled = self.tty or not tty_only
        self.interval = TTY_INTERVAL if self.tty else interval
        self._quiet_until = time.monotonic() + (0.0 if self.tty else grace)
        self._drawn = False
        self._last_at = float("-inf")
        self._last: tuple[str, str] | None = None  # (step, text) last said
        self._pending: str | None = None  # text not said yet (rate-limited)

    def __call__(self, step: str, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._last is not None and text == self._last[1]:
            self._pending = None
            return
        if not force and now < self._quiet_until:
            return
        same_step = self._last is not None and step == self._last[0]
        if same_step and not force and now - self._last_at < self.interval:
            self._pending = text
            return
        if self.tty:
            width = max(shutil.get_terminal_size((100, 20)).columns - 1, 20)
            self.stream.write("\r" + text[:width] + "\x1b[K")
            self._drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._last_at, self._last, self._pending = now, (step, text), None

    def done(self) -> None:
        """End the terminal line (the next output starts on a fresh one)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def fmt_bytes(n: float) -> str:
    """Decimal units, as the summaries print them (``1.5 MB``)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000.0
    return f"{n:.1f} GB"


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
            f"{fmt_bytes(p['bytes_done'])}/{fmt_bytes(p['bytes_total'])}, "
            f"{fmt_bytes(p['bytes_per_second'])}/s{left}"
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
        self.line = StatusLine(stream, interval, tty_only)
        self.enabled = enabled and self.line.enabled
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
        while not self._stop.wait(TTY_INTERVAL):
            self.say()

    def say(self, force: bool = False) -> None:
        step, text = self.text(self.progress.to_dict())
        if text:
            self.line(step, text, force=force)
