"""The CLI's "nothing changed?" check, run in a forked child while the parent talks to S3.

Starting the CLI's S3 client and taking the lock cost about as much CPU as walking the tree;
on a machine with a second core both run at once. The child walks the source against the
local state's snapshot and answers one question: is every entry its parent line, byte for
byte (then the new snapshot is the parent's entries as they are)? It touches nothing but a
pipe. ``outcome(meta)`` uses the answer only when that snapshot is still the newest remote one,
chosen under the lock; anything else (a difference, a newer remote snapshot, an untrusted
state, a failure in the child) means the ordinary run.

A process with other threads never forks (they would not exist in the child): the CLI forks
before it starts its progress bar, and the server never forks.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any, Callable

from . import manifest as mf
from .excludes import Excludes
from .scan import ScanReport, walk
from .state import LocalState


def new_stats() -> dict[str, int]:
    return {"files": 0, "dirs": 0, "links": 0, "bytes": 0, "files_read": 0, "bytes_read": 0}


def count(stats: dict[str, int], kind: str, size: int) -> None:
    """Add one walked entry to a run's stats."""
    if kind == "f":
        stats["files"] += 1
        stats["bytes"] += size
    elif kind == "d":
        stats["dirs"] += 1
    else:
        stats["links"] += 1


def unchanged(
    state: LocalState, source: str, excludes: Excludes, skip_abs: Callable[[str], bool] | None
) -> dict[str, Any]:
    """Walk ``source`` against the state's snapshot: ``unchanged`` only if every line starts
    with its entry's ``stat_head`` (the merge's fast path: same order, same entries, nothing
    left over), with the counts the snapshot header needs."""
    report = ScanReport()
    stats = new_stats()
    entries = 0
    no = {"unchanged": False}
    with mf.SnapshotReader(state.snapshot_path) as reader:
        parents = reader.lines()
        pending = next(parents, None)
        for rel, kind, st, _abspath in walk(source, excludes, report, skip_abs):
            if pending is None or not pending.startswith(mf.stat_head(rel, kind, st)):
                return no
            entries += 1
            count(stats, kind, st.st_size)
            pending = next(parents, None)
        if pending is not None:
            return no
    return {"unchanged": True, "entries": entries, "stats": stats, "skipped": report.skipped}


class Speculation:
    """A forked child's answer to "is every entry its parent line?" (see the module doc)."""

    def __init__(self, pid: int, fd: int, snapshot_id: str) -> None:
        self.pid, self.fd, self.snapshot_id = pid, fd, snapshot_id

    @classmethod
    def start(
        cls,
        state: LocalState,
        source: str,
        excludes: Excludes,
        skip_abs: Callable[[str], bool] | None,
    ) -> Speculation | None:
        if not hasattr(os, "fork") or threading.active_count() != 1 or not os.path.isdir(source):
            return None  # never fork a process with other threads (they would not exist there)
        meta = state.meta()
        if not meta.get("trusted") or not isinstance(meta.get("snapshot_id"), str):
            return None
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover  (the child; measured by the tests through the parent)
            try:
                os.close(read_fd)
                data = json.dumps(unchanged(state, source, excludes, skip_abs)).encode()
            except BaseException:
                data = b'{"unchanged": false}'
            try:
                with os.fdopen(write_fd, "wb") as fh:
                    fh.write(data)
            finally:
                os._exit(0)
        os.close(write_fd)
        return cls(pid, read_fd, meta["snapshot_id"])

    def outcome(self, meta: dict[str, Any]) -> dict[str, Any] | None:
        """The child's findings if they hold for ``meta`` (the parent chosen under the lock)."""
        if not meta.get("trusted") or meta.get("snapshot_id") != self.snapshot_id:
            return None
        if self.fd < 0:
            return None
        with os.fdopen(self.fd, "rb") as fh:
            self.fd = -1
            data = fh.read()
        self._reap(kill=False)
        try:
            seen = json.loads(data)
        except ValueError:
            return None
        return seen if isinstance(seen, dict) and seen.get("unchanged") is True else None

    def cancel(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self._reap(kill=True)

    def _reap(self, kill: bool) -> None:
        if self.pid <= 0:
            return
        if kill:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.pid = 0
