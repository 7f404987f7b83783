"""Browse and compare snapshots without restoring them: ``snapshots ls`` and ``snapshots diff``.

Both read the manifest only (a format 2 snapshot's pieces, each checked against its SHA-256;
a format 1 object's body), never file data. The manifest goes to an unnamed temporary file
and is streamed from there, entry by entry, with the same validation a restore applies (paths,
shapes, scan order): memory stays flat however many entries a snapshot has. Because entries
are in scan order (``manifest.sort_key``), the entries below a path are one contiguous run,
and two snapshots are compared by one merge walk over both streams.
"""

from __future__ import annotations

import stat as statmod
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from ..errors import BadInput
from . import manifest as mf
from .manifest import Entry
from .repo import fetch_snapshot, resolve_snapshot
from .store import Store

_KINDS = {"f": "file", "d": "dir", "l": "symlink"}
_TYPE_BITS = {"f": statmod.S_IFREG, "d": statmod.S_IFDIR, "l": statmod.S_IFLNK}


class OpenSnapshot:
    """One snapshot's manifest in a temporary file (``with``: removed on exit).

    ``snapshot`` is an id, a unique id prefix or ``latest`` (``resolve_snapshot``). A missing
    or damaged manifest piece is ``CorruptBackup`` naming the snapshot and the piece."""

    def __init__(self, store: Store, snapshot: str) -> None:
        self.id = resolve_snapshot(store, snapshot)
        self._fh = tempfile.TemporaryFile(prefix="smstudio-browse-")
        try:
            self.header = fetch_snapshot(store, self.id, self._fh)
        except BaseException:
            self._fh.close()
            raise

    def entries(self) -> Iterator[Entry]:
        """Every entry, validated, in scan order (a fresh pass each call)."""
        self._fh.seek(0)
        with mf.SnapshotReader(self._fh) as reader:
            yield from reader.entries()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> OpenSnapshot:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def clean_path(path: str | None) -> str:
    """A PATH argument as the manifest spells paths (relative, no ``./`` or trailing ``/``);
    ``""`` for the whole snapshot. ``BadInput`` for ``..`` and names no file system takes."""
    if not path:
        return ""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    rel = "/".join(parts)
    if rel:
        try:
            mf.check_path(rel)
        except BadInput:
            raise BadInput(f"invalid path {path!r}: must be a path inside the snapshot") from None
    return rel


def under(entries: Iterator[Entry], path: str) -> Iterator[Entry]:
    """The entries at ``path`` and below it (all when ``path`` is empty). Scan order makes
    them one run: the walk stops at the first entry after it."""
    if not path:
        yield from entries
        return
    prefix = path + "/"
    started = False
    for entry in entries:
        if entry.path == path or entry.path.startswith(prefix):
            started = True
            yield entry
        elif started:
            return


def permissions(entry: Entry) -> str:
    """``ls -l`` style: ``drwxr-xr-x``, ``-rw-r--r--``, ``lrwxrwxrwx`` (setuid etc. shown)."""
    return statmod.filemode(_TYPE_BITS[entry.kind] | entry.mode)


def mtime_iso(mtime_ns: int) -> str | None:
    """The mtime as UTC ISO 8601 with microseconds (``2026-12-06T12:11:21.995965Z``), or None
    when no calendar date has it (a manifest holds any integer: year 10000, 10**30 ns)."""
    secs, ns = divmod(mtime_ns, 1_000_000_000)
    try:
        t = time.gmtime(secs)
    except (OverflowError, ValueError, OSError):
        return None
    if not 0 < t.tm_year <= 9999:
        return None
    y, mo, d, h, mi, sec = t[:6]
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}.{ns // 1000:06d}Z"


def describe(entry: Entry) -> dict[str, Any]:
    """One entry as ``ls --json`` gives it (data references are not shown)."""
    out: dict[str, Any] = {
        "path": entry.path,
        "type": _KINDS[entry.kind],
        "mode": f"{entry.mode:04o}",
        "permissions": permissions(entry),
        "size": entry.size,
        "mtime": mtime_iso(entry.mtime_ns),
        "mtime_ns": entry.mtime_ns,
    }
    if entry.kind == "l":
        out["target"] = entry.data
    return out


def list_entries(snap: OpenSnapshot, path: str = "") -> Iterator[dict[str, Any]]:
    """``snapshots ls``: the entries at and below ``path`` (``clean_path``), described."""
    for entry in under(snap.entries(), path):
        yield describe(entry)


# -- diff


def changes(old: Entry, new: Entry) -> list[str]:
    """What differs between two entries of one path: ``type``, ``content`` (the blobs'
    SHA-256s: a file repacked elsewhere is the same), ``target`` (a link), ``size``, ``mode``.
    An mtime alone is not a change (as in ``restic diff``): a ``touch`` leaves the data as it
    was."""
    if old.kind != new.kind:
        return ["type"]
    found = []
    if old.kind == "f":
        if old.size != new.size or [r.sha256 for r in old.data] != [r.sha256 for r in new.data]:
            found.append("content")
    elif old.kind == "l" and old.data != new.data:
        found.append("target")
    if old.size != new.size and old.kind != "l":  # a link's size is its target's length
        found.append("size")
    if old.mode != new.mode:
        found.append("mode")
    return found


def _file_bytes(entry: Entry) -> int:
    return entry.size if entry.kind == "f" else 0


class Diff:
    """``snapshots diff A B``: a merge walk over two manifests in scan order. ``items()``
    yields each change once, in scan order; the counters are complete once it is done."""

    def __init__(self, old: OpenSnapshot, new: OpenSnapshot) -> None:
        if old.id == new.id:
            raise BadInput(f"both snapshots are {old.id}: nothing to compare")
        self.old, self.new = old, new
        self.added = self.removed = self.modified = 0
        self.bytes_added = self.bytes_removed = 0
        self.bytes_modified_before = self.bytes_modified_after = 0

    def items(self) -> Iterator[dict[str, Any]]:
        olds, news = self.old.entries(), self.new.entries()
        a = next(olds, None)
        b = next(news, None)
        while a is not None or b is not None:
            if b is None or (a is not None and mf.sort_key(a.path) < mf.sort_key(b.path)):
                assert a is not None
                self.removed += 1
                self.bytes_removed += _file_bytes(a)
                yield {"path": a.path, "change": "removed", "type": _KINDS[a.kind],
                       "size": a.size}  # fmt: skip
                a = next(olds, None)
            elif a is None or mf.sort_key(b.path) < mf.sort_key(a.path):
                self.added += 1
                self.bytes_added += _file_bytes(b)
                yield {"path": b.path, "change": "added", "type": _KINDS[b.kind], "size": b.size}
                b = next(news, None)
            else:
                what = changes(a, b)
                if what:
                    self.modified += 1
                    self.bytes_modified_before += _file_bytes(a)
                    self.bytes_modified_after += _file_bytes(b)
                    yield {
                        "path": b.path, "change": "modified", "type": _KINDS[b.kind],
                        "what": what, "size_before": a.size, "size": b.size,
                        **({"mode_before": f"{a.mode:04o}", "mode": f"{b.mode:04o}"}
                           if "mode" in what else {}),
                        **({"type_before": _KINDS[a.kind]} if "type" in what else {}),
                    }  # fmt: skip
                a, b = next(olds, None), next(news, None)

    def summary(self) -> dict[str, Any]:
        return {
            "from": self.old.id,
            "to": self.new.id,
            "added": self.added,
            "removed": self.removed,
            "modified": self.modified,
            "bytes_added": self.bytes_added,
            "bytes_removed": self.bytes_removed,
            "bytes_modified_before": self.bytes_modified_before,
            "bytes_modified_after": self.bytes_modified_after,
        }
