"""Walking the source: ``os.scandir`` + ``lstat`` only, depth first, siblings sorted by name.

That order is the manifest's order, so a backup can merge the walk against the previous
snapshot line by line (no dict of every path). Symlinks are never followed; sockets, FIFOs and
devices are skipped and reported; unreadable directories are recorded (so they restore as
empty directories) and reported.
"""

from __future__ import annotations

import operator
import os
import stat
from collections.abc import Iterator
from typing import Any, Callable

from .excludes import Excludes

KINDS = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l"}


class ScanReport:
    def __init__(self) -> None:
        self.skipped: list[dict[str, str]] = []

    def skip(self, path: str, reason: str) -> None:
        if len(self.skipped) < 1000:
            self.skipped.append({"path": path, "reason": reason})


_sort_name = operator.attrgetter("name")


def walk(
    source: str,
    excludes: Excludes,
    report: ScanReport,
    skip_abs: Callable[[str], bool] | None = None,  # asked for directories only
) -> Iterator[tuple[str, str, os.stat_result, str]]:
    """Yield ``(relpath, kind, lstat, abspath)`` in manifest order."""
    stack: list[Iterator[Any]] = []

    def listdir(abspath: str, rel: str) -> Iterator[Any]:
        try:
            with os.scandir(abspath) as it:
                entries = sorted(it, key=_sort_name)
        except OSError as exc:
            report.skip(rel or ".", f"cannot list directory: {exc.strerror or exc}")
            return iter(())
        return iter([(e, (rel + "/" + e.name) if rel else e.name) for e in entries])

    stack.append(listdir(source, ""))
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        entry, rel = item
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # vanished between listing and stat
        except OSError as exc:
            report.skip(rel, f"cannot stat: {exc.strerror or exc}")
            continue
        kind = KINDS.get(stat.S_IFMT(st.st_mode))
        if kind is None:
            report.skip(rel, "not a regular file, directory or symlink")
            continue
        if excludes.excluded(rel, kind == "d"):
            continue
        if kind == "d" and skip_abs is not None and skip_abs(entry.path):
            continue
        yield rel, kind, st, entry.path
        if kind == "d":
            stack.append(listdir(entry.path, rel))
