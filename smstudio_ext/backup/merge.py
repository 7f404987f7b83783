"""Phase 1 of a backup run: the walk merged, line by line, with the parent snapshot's lines.

Both are in manifest order, so the merge holds one parent line at a time (no dict of every
path). An entry whose line would start exactly like its parent line (``stat_head``) keeps that
line; a file that ``file_changed`` says is unchanged keeps its parent's blob references; the
rest goes to a plan of files to read (phase 2, ``readers``).

Lines go straight into the body until the first file that must be read, and through the plan
from there on (where phase 2 writes them in order). While every entry so far is its parent
line, byte for byte and at the same place, nothing is written at all (``verbatim``): when that
holds to the end, the new snapshot reuses the parent's compressed body as is.
"""

from __future__ import annotations

import json
import os
from json.decoder import scanstring  # type: ignore[attr-defined]  # C scanner, not in the stubs
from typing import IO, Any

from . import manifest as mf
from .manifest import Entry
from .state import LocalState


def file_changed(st: os.stat_result, old: Entry | None, trusted: bool) -> bool:
    """Must this file be read again? (restic's ``fileChanged``.)

    Yes when the parent has no file there, or its size or mtime differ, or its entry is racy
    (ctime 0: changed too close to the run that stored it), or, when the state describes this
    filesystem (``trusted``), its inode or ctime differ. A state rebuilt from S3 has another
    filesystem's inodes and ctimes: size and mtime decide alone.
    """
    if old is None or old.kind != "f" or not old.ctime_ns:
        return True
    if old.mtime_ns != st.st_mtime_ns or old.size != st.st_size:
        return True
    return trusted and (old.ino != st.st_ino or old.ctime_ns != st.st_ctime_ns)


def _key(raw: bytes) -> str:
    """The scan-order key of a parent line (only its path is parsed, by the C scanner)."""
    return mf.sort_key(scanstring(raw.decode("ascii"), 2)[0])


class Merge:
    """The merge's cursor on the parent's lines and its two outputs (body, plan)."""

    def __init__(self, state: LocalState, meta: dict[str, Any], paths: dict[str, str]) -> None:
        """``paths``: ``body`` and ``plan`` files to write; ``meta``: the parent ({} for
        none); ``verbatim`` only for a trusted parent (and never for a dry run: the caller
        clears it)."""
        self.state = state
        self.trusted = bool(meta.get("trusted"))
        self.verbatim = self.trusted
        self.copied = 0  # parent lines matched while verbatim (not written yet)
        self.writer = mf.EntryWriter(paths["body"])
        self._plan: IO[bytes] = open(paths["plan"], "wb")
        self.plan_path = paths["plan"]
        self.to_plan = False
        self._reader = mf.SnapshotReader(state.snapshot_path) if meta else None
        self._parents = self._reader.lines() if self._reader is not None else iter(())
        self.pending = next(self._parents, None)

    def close(self) -> None:
        self.writer.close()
        if not self._plan.closed:
            self._plan.close()
        if self._reader is not None:
            self._reader.close()

    # -- outputs
    def emit(self, line: bytes) -> None:
        if self.to_plan:
            self._plan.write(b"=" + line)
        else:
            self.writer.write_raw(line)

    def emit_entry(self, entry: Entry) -> None:
        self.emit(mf.encode_entry(entry))

    def plan_read(self, rel: str, size: int, old: Entry | None) -> None:
        """A file phase 2 reads (with the parent's refs, whose unchanged prefix it keeps)."""
        self.to_plan = True
        prev = old.data if old is not None and old.kind == "f" else None
        self._plan.write(b"?" + json.dumps([rel, size, prev]).encode() + b"\n")

    def finish_plan(self) -> None:
        self._plan.close()

    # -- the cursor
    def same_line(self, head: bytes) -> bool:
        """Is the next parent line this entry's, unchanged (it is kept, or counted while
        verbatim)? Only a trusted parent's lines can be (their inode and ctime are ours)."""
        pending = self.pending
        if pending is None or not self.trusted or not pending.startswith(head):
            return False
        if self.verbatim:
            self.copied += 1
        else:
            self.emit(pending)
        self.pending = next(self._parents, None)
        return True

    def parent_of(self, rel: str) -> Entry | None:
        """The parent's entry at ``rel`` (skipping the parent's entries before it: deleted
        since), or None; either way the entry differs, so verbatim ends here."""
        self.diverge()
        key = mf.sort_key(rel)
        while self.pending is not None and _key(self.pending) < key:
            self.pending = next(self._parents, None)
        if self.pending is None or _key(self.pending) != key:
            return None
        old = mf.parse_entry(self.pending)
        self.pending = next(self._parents, None)
        return old

    def diverge(self) -> None:
        """The first difference: write the parent lines matched so far, go on as a merge."""
        if not self.verbatim:
            return
        self.verbatim = False
        if self.copied:
            with mf.SnapshotReader(self.state.snapshot_path) as again:
                lines = again.lines()
                for _ in range(self.copied):
                    self.writer.write_raw(next(lines))

    def end(self) -> int | None:
        """After the walk: where the parent's body member starts if the whole tree was its
        lines (the new snapshot reuses it), else None (the body file is the new body)."""
        if self.verbatim and self.pending is not None:
            self.diverge()  # entries deleted after the last one seen
        offset = mf.body_offset(self.state.snapshot_path) if self.verbatim else None
        if self.verbatim and offset is None:
            self.diverge()
        return offset
