"""Progress of a long command (``smstudio audit``, ``image register``, ``restore``, ``backup
check``): one status line.

An engine reports what it is doing through a plain callable (``progress("audited 12/340
owners")``) and never knows where it goes. Here it goes to stderr:

* on a terminal, one line redrawn in place (at most ten times a second);
* elsewhere (a log file, CI, a pipe), plain lines: at most one every ``interval`` seconds while
  only numbers change ("12/340 audited" → "13/340 audited"), and at once when the words change
  (a new step: "listing spaces" → "auditing owners", "CREATING" → "CREATED");
* with ``-q``, nowhere.

``with Progress(args) as progress:`` ends the terminal line when the work ends, failed or not.

The whole API, for a new long command (``backup check --read-data``, ``restore``, ...)::

    with Progress(args) as progress:        # args: the parsed namespace (its -q silences it)
        engine.work(on_progress=progress)   # the engine calls progress("12/340 packs read")

* ``Progress(args)``: enabled unless ``-q``; ``Progress(enabled=..., stream=..., interval=...)``
  for tests or another stream;
* ``progress(text)``: the current state, a whole sentence each time (not a delta); calling it
  often is cheap (throttled here, thread-safe: worker threads may call it);
  ``progress(text, step="restore", force=True)`` names the step explicitly / skips the limit;
* ``Progress(..., grace=1.0)``: no plain line in the first second (a quick command says only its
  result); ``cli/backup_progress.py`` polls an engine's counters into one of these;
* ``progress.done()``: what ``with`` does at the end; call it before printing the result when
  not using ``with``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import threading
import time
from typing import Any, TextIO

_NUMBERS = re.compile(r"\d+(?:\.\d+)?")


class Progress:
    """One status line on stderr; see the module's docstring for the API."""

    def __init__(
        self,
        args: argparse.Namespace | None = None,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        interval: float = 10.0,
        grace: float = 0.0,
    ) -> None:
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = not bool(getattr(args, "quiet", False))
        self.enabled = enabled
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.interval = interval
        # plain lines start only after ``grace`` s: a command that ends (or fails) sooner says
        # only its result or its one-line error (a forced line, e.g. the last state, is said)
        self._quiet_until = time.monotonic() + (0.0 if self.tty else grace)
        self._lock = threading.Lock()
        self._drawn = False  # a terminal line is open
        self._last_at = float("-inf")
        self._last_step: str | None = None
        self._last_text: str | None = None

    def __call__(self, text: str, *, step: str | None = None, force: bool = False) -> None:
        """Say ``text``. Its ``step`` (default: the text with its numbers masked) decides the
        rate limit: a new step is said at once, the same one at most every ``interval`` s
        (a terminal: every 0.1 s); ``force`` says it regardless (not the same text twice)."""
        if not self.enabled:
            return
        now = time.monotonic()
        step = _NUMBERS.sub("#", text) if step is None else step
        with self._lock:
            if text == self._last_text:
                return
            if not force and now < self._quiet_until:
                return
            if self.tty:
                if not force and now - self._last_at < 0.1 and step == self._last_step:
                    return
                width = max(shutil.get_terminal_size((100, 20)).columns - 1, 20)
                self.stream.write("\r" + text[:width] + "\x1b[K")
                self._drawn = True
            else:
                if not force and step == self._last_step and now - self._last_at < self.interval:
                    return
                self.stream.write(text + "\n")
            self.stream.flush()
            self._last_at, self._last_step, self._last_text = now, step, text

    def done(self) -> None:
        """End the terminal line (the next output starts on a fresh one)."""
        with self._lock:
            if self._drawn:
                self.stream.write("\n")
                self.stream.flush()
                self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.done()
