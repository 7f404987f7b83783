"""One backup run: walk + merge against the parent snapshot, read what changed, pack, commit.

1. Take the lease lock, then list ``snapshots/`` (the newest is the parent; listed under the
   lock so a prune cannot remove it meanwhile); make sure the local state is that snapshot
   (download it if not). If the CLI's forked child already found every entry unchanged, go to
   4 with the parent's entries as they are.
2. Walk the source in manifest order and merge it with the parent's lines (``merge``): what is
   unchanged keeps its line or its blob references without reading the file; what must be read
   goes to a plan file, so totals are known for progress.
3. Read changed files with a thread pool (``readers``), blobs into packs, packs uploaded in
   parallel; lines written in order.
4. Check the lease still holds, upload the snapshot object (the commit point), install it as
   the new local state.

``RunOptions`` says how (the config's knobs and the door's choices); ``BackupRun`` holds one
run's state, its ``progress`` and its ``cancel`` switch.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from .. import clock
from ..errors import BadInput, Conflict
from . import manifest as mf
from .chunker import CURRENT, LEGACY, Spec
from .excludes import Excludes
from .holdback import HeldBack, ShrinkGuard
from .journal import unfinished_restore
from .lock import Lease
from .manifest import Entry, Ref
from .merge import Merge, file_changed
from .packer import Packer
from .priority import in_low_priority_thread, lower_this_thread
from .readers import ChangedFiles, FileReader
from .repo import Cancelled, Progress, fetch_snapshot, list_snapshot_ids, new_snapshot_id
from .scan import ScanReport, walk
from .speculation import Speculation, count, new_stats
from .state import LocalState
from .store import Store

log = logging.getLogger("smstudio_ext.backup")

# Racy timestamps (git's racy-entry rule): a file changed within this window before the run
# started (or during it) could be rewritten with the same size in the same timestamp tick
# after we read it, keeping its mtime and ctime. Such entries get ctime 0 in the snapshot, so
# the next run reads them again instead of trusting size + mtime. 2 s covers the coarsest
# filesystem timestamps (FAT, some NFS servers); tests may narrow it.
RACY_WINDOW_NS = 2_000_000_000

_REF_RE = re.compile(rb'\["([0-9a-f]{64})","([0-9a-f]{32})",(\d+),(\d+),(\d+)\]')


@dataclass(frozen=True)
class RunOptions:
    """How a backup run goes."""

    dry_run: bool = False
    concurrency: int = 4  # read threads
    uploads: int = 4  # parallel pack uploads
    pack_size: int = 8 * 1024 * 1024
    compression: bool = True
    lease_seconds: float = 600.0
    racy_seconds: float | None = None  # None: RACY_WINDOW_NS
    # Nobody waits for it (scheduled, final): every thread that reads or sends runs at low
    # priority, in threads of the run's own (``priority``).
    background: bool = False
    chunker: Spec = CURRENT
    # A snapshot that drops most of the parent's files on a freshly started app is held
    # back (``holdback``); None: never (``--allow-shrink``).
    shrink_guard: ShrinkGuard | None = ShrinkGuard()


class Body(NamedTuple):
    """The new snapshot's entries: a gzip member in ``path`` from ``offset`` (the parent's
    body reused in place, or the body this run wrote)."""

    path: str
    offset: int
    entries: int


class BackupRun:
    """One run of ``store`` ← ``source`` (minus ``excludes``), merged against ``state``."""

    def __init__(
        self,
        store: Store,
        state: LocalState,
        source: str,
        excludes: Excludes,
        options: RunOptions | None = None,
    ) -> None:
        self.store, self.state, self.excludes = store, state, excludes
        self.source = os.path.abspath(source)
        self.options = options or RunOptions()
        self.progress = Progress()
        self.cancel = threading.Event()
        self.speculation: Speculation | None = None
        self.report = ScanReport()
        self.stats = new_stats()
        self.started = clock.utcnow()
        self.t0 = time.monotonic()
        self.scan_seconds = 0.0
        self.racy_after = 0
        self.meta: dict[str, Any] = {}
        self.packer = Packer(None)  # file content
        self.manifest_packer = Packer(None)  # the entries' pieces (when they changed)
        self.lease: Lease | None = None

    # -- the doors' entry points
    def speculate(self) -> bool:
        """Fork the "nothing changed?" check (CLI only: a process without other threads);
        True if it was forked. Nothing is read or sent here."""
        if not self.options.dry_run:
            self.speculation = Speculation.start(
                self.state, self.source, self.excludes, self._state_skipper()
            )
        return self.speculation is not None

    def run(self) -> dict[str, Any]:
        try:
            if self.options.background:
                return in_low_priority_thread(self._run)
            return self._run()
        finally:
            if self.speculation is not None:
                self.speculation.cancel()

    # -- the run
    def _run(self) -> dict[str, Any]:
        self.started, self.t0 = clock.utcnow(), time.monotonic()
        if not os.path.isdir(self.source):
            raise BadInput(f"backup source {self.source!r} is not a directory")
        self._refuse_during_restore()
        for problem in self.excludes.problems:
            log.warning("smstudio backup: %s", problem)
        self.progress.phase = "scan"
        # Filesystem timestamps are wall-clock time: time.time_ns(), not the clock seam.
        opts = self.options
        window = RACY_WINDOW_NS if opts.racy_seconds is None else int(opts.racy_seconds * 1e9)
        self.racy_after = time.time_ns() - window
        self.packer = Packer(
            None if opts.dry_run else self.store, pack_size=opts.pack_size, uploads=opts.uploads,
            compression=opts.compression,
            thread_init=lower_this_thread if opts.background else None,
        )  # fmt: skip
        try:
            if not opts.dry_run:
                self.lease = Lease(self.store, "backup", opts.lease_seconds).acquire()
            # Listed under the lock: a parent chosen before it could be pruned meanwhile.
            self.meta = self._prepare_parent(list_snapshot_ids(self.store))
            body = self._unchanged_by_speculation()
            if body is not None:
                return self._commit(body, [])
            return self._merge_read_commit()
        except BaseException:
            self.packer.abort()
            self.manifest_packer.abort()
            raise
        finally:
            if self.lease is not None:
                self.lease.release()

    def _refuse_during_restore(self) -> None:
        """``Conflict`` while a restore into the source (or above it) runs or is unfinished,
        in any process (``journal``): a half-restored home must not become a snapshot."""
        if self.options.dry_run:
            return
        reason = unfinished_restore(self.source)
        if reason is not None:
            raise Conflict(reason)

    def _hold_back(self) -> str | None:
        """Why this run's snapshot must be held back (see ``holdback``), or None."""
        guard = self.options.shrink_guard
        if guard is None or not self.meta:
            return None
        stats = self._parent_header().get("stats")
        parent_files = stats.get("files") if isinstance(stats, dict) else None
        return guard.reason(parent_files, self.stats["files"])

    def _prepare_parent(self, snapshot_ids: list[str]) -> dict[str, Any]:
        """Make the local state the newest remote snapshot; returns its meta ({} = none)."""
        state = self.state
        if not snapshot_ids:
            state.invalidate()
            return {}
        latest = snapshot_ids[-1]
        meta = state.meta()
        if meta.get("snapshot_id") == latest:
            return meta
        state.ensure()
        fd, tmp = tempfile.mkstemp(dir=state.dir, suffix=".download")
        try:
            with os.fdopen(fd, "w+b") as fh:
                fetch_snapshot(self.store, latest, fh)
            mf.SnapshotReader(tmp).close()  # validate before trusting it
            state.install(tmp, latest, trusted=False)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        log.info("smstudio backup: local state rebuilt from snapshot %s", latest)
        return state.meta()

    def _unchanged_by_speculation(self) -> Body | None:
        """The parent's body, when the CLI's child found every entry unchanged (and its
        answer holds for the parent chosen under the lock)."""
        if self.speculation is None or self.options.dry_run:
            return None
        seen = self.speculation.outcome(self.meta)
        offset = mf.body_offset(self.state.snapshot_path) if seen is not None else None
        if seen is None or offset is None:
            return None
        log.debug(
            "smstudio backup: nothing changed since %s (checked while connecting)",
            self.meta.get("snapshot_id"),
        )
        self.progress.entries = seen["entries"]
        self.report.skipped = seen["skipped"]
        self.stats = seen["stats"]
        self.scan_seconds = time.monotonic() - self.t0
        return Body(self.state.snapshot_path, offset, seen["entries"])

    def _merge_read_commit(self) -> dict[str, Any]:
        opts = self.options
        work_dir = self.state.dir if not opts.dry_run else tempfile.gettempdir()
        os.makedirs(work_dir, exist_ok=True)
        fd, plan_path = tempfile.mkstemp(dir=work_dir, suffix=".plan")
        os.close(fd)
        paths = {"plan": plan_path, "body": plan_path[:-5] + ".body"}
        merge = Merge(self.state, self.meta, paths)
        try:
            if opts.dry_run:
                merge.verbatim = False
            self._merge(merge)
            reused = merge.end()
            merge.finish_plan()
            self.scan_seconds = time.monotonic() - self.t0
            held = self._hold_back()  # decided before anything is read or uploaded
            if opts.dry_run:
                merge.close()
                result = self._result(None)
                result["held_back"] = held
                return result
            if held is not None:
                raise HeldBack(held, parent=self.meta.get("snapshot_id"))
            self.progress.phase = "upload"
            changed = self._read_changed(merge)
            if reused is not None:
                return self._commit(Body(self.state.snapshot_path, reused, merge.copied), changed)
            return self._commit(Body(paths["body"], 0, merge.writer.count), changed)
        finally:
            merge.close()
            for path in paths.values():
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    def _merge(self, merge: Merge) -> None:
        """Phase 1: walk the source against the parent (see ``merge``)."""
        stats, progress, racy_after = self.stats, self.progress, self.racy_after
        for rel, kind, st, abspath in walk(
            self.source, self.excludes, self.report, self._state_skipper()
        ):
            if self.cancel.is_set():
                raise Cancelled("backup cancelled")
            progress.entries += 1
            count(stats, kind, st.st_size)
            if merge.same_line(mf.stat_head(rel, kind, st)):
                continue
            old = merge.parent_of(rel)
            if kind == "f":
                if not file_changed(st, old, merge.trusted):
                    assert old is not None
                    entry = Entry.of(rel, "f", st, old.data)
                    if st.st_ctime_ns >= racy_after:
                        entry = entry._replace(ctime_ns=0)  # racy: read it next time
                    merge.emit_entry(entry)
                    continue
                stats["files_read"] += 1
                stats["bytes_read"] += st.st_size
                progress.files_total += 1
                progress.bytes_total += st.st_size
                merge.plan_read(rel, st.st_size, old)
            elif kind == "d":
                merge.emit_entry(Entry.of(rel, "d", st))
            else:
                self._merge_link(merge, Entry.of(rel, "l", st), old, abspath)

    def _merge_link(self, merge: Merge, new: Entry, old: Entry | None, abspath: str) -> None:
        if old is not None and old.kind == "l":
            if old.mtime_ns == new.mtime_ns and old.size == new.size:  # the same link
                merge.emit_entry(new._replace(data=old.data))
                return
        try:
            target = os.readlink(abspath)
        except OSError as exc:
            self.report.skip(new.path, f"cannot read link: {exc.strerror or exc}")
            return
        merge.emit_entry(new._replace(data=target))

    def _read_changed(self, merge: Merge) -> list[dict[str, str]]:
        """Phase 2: read the plan's files into the packer; the body gets every line."""
        opts, packer = self.options, self.packer
        try:
            if self.stats["files_read"] and self.meta:
                self._know_parent_blobs()
            reader = FileReader(packer, self.progress, self.racy_after, opts.chunker)
            files = ChangedFiles(
                self.source, reader, self.report, opts.concurrency,
                lower_this_thread if opts.background else None,
            )  # fmt: skip
            files.run(merge.plan_path, merge.writer, self.cancel)
        finally:
            merge.writer.close()
        return files.changed

    def _know_parent_blobs(self) -> None:
        """Register every blob of the parent for dedup (one regex pass, no JSON parse)."""
        with mf.SnapshotReader(self.state.snapshot_path) as reader:
            for raw in reader.lines():
                for m in _REF_RE.finditer(raw):
                    self.packer.know_raw(*m.groups())

    # -- the commit
    def _commit(self, body: Body, changed: list[dict[str, str]]) -> dict[str, Any]:
        """Store the entries as manifest pieces, upload the snapshot object (its header: the
        commit point) and make header + ``body`` the local state."""
        self.progress.phase = "commit"
        manifest = self._manifest(body)
        self.packer.finish()  # every pack stored before the snapshot that needs it
        self.manifest_packer.finish()
        snap_id = new_snapshot_id(self.meta.get("snapshot_id"))
        header = {
            "format": mf.FORMAT,
            "id": snap_id,
            "time": clock.isoformat_z(self.started),
            "parent": self.meta.get("snapshot_id"),
            "source": self.source,
            "host": socket.gethostname(),
            "entries": body.entries,
            "stats": self.stats,
            "report": {
                "skipped": self.report.skipped,
                "changed_during_read": changed,
                "warnings": self.excludes.problems[:100],
            },
            # Compression codecs its blobs may use (this run's and, through dedup, the
            # parent's): a restore without a zstd decoder refuses before writing anything.
            "codecs": self._codecs(),
            # What cut this run's new chunks (older chunks keep the cuts of their chunker).
            "chunker": self.options.chunker.identity(),
            "manifest": manifest,
        }
        state = self.state
        state.ensure()
        fd, snap_path = tempfile.mkstemp(dir=state.dir, suffix=".snap")
        os.close(fd)
        try:
            mf.assemble(header, body.path, snap_path, offset=body.offset)
            if self.lease is not None:
                self.lease.check()  # never commit a snapshot whose packs a prune may remove
            self._refuse_during_restore()  # one started during this run: nothing committed
            # The commit point: the header alone (the entries are in the pieces).
            self.store.put(self.store.snapshot_key(snap_id), mf.header_member(header))
            state.install(snap_path, snap_id, trusted=True)
        finally:
            if os.path.exists(snap_path):
                os.unlink(snap_path)
        self.progress.phase = "done"
        result = self._result(snap_id)
        result["changed_during_read"] = changed
        return result

    def _manifest(self, body: Body) -> list[Ref]:
        """The pieces of ``body``: the parent's own when ``body`` is the parent's (nothing
        changed); else cut from it, the unchanged ones found stored already (dedup)."""
        parent = self._parent_header() if self.meta else {}
        try:
            known = mf.manifest_refs(parent) if parent else None
        except BadInput:
            known = None
        if known is not None and body.path == self.state.snapshot_path:
            return known
        # Pieces go to packs of their own: few and small, fetched together by every reader.
        opts = self.options
        self.manifest_packer = packer = Packer(
            self.store, pack_size=opts.pack_size, uploads=1, compression=opts.compression,
            thread_init=lower_this_thread if opts.background else None,
        )  # fmt: skip
        for ref in known or ():
            packer.know(ref)
        with open(body.path, "rb") as raw:
            raw.seek(body.offset)
            with gzip.GzipFile(fileobj=raw, mode="rb") as lines:
                return [packer.add(piece) for piece in mf.pieces(iter(lines))]

    def _codecs(self) -> list[str]:
        codecs = set()
        for packer in (self.packer, self.manifest_packer):
            if packer.blobs_new and packer.codec != "off":
                codecs.add(packer.codec)
        if self.meta:
            found = self._parent_header().get("codecs")
            # a parent that does not say was written before zstd was used: zlib
            codecs.update(found if isinstance(found, list) else ("zlib",))
        return sorted(str(c) for c in codecs)

    def _parent_header(self) -> dict[str, Any]:
        try:
            with mf.SnapshotReader(self.state.snapshot_path) as parent:
                header: dict[str, Any] = parent.header
                return header
        except (OSError, BadInput):
            return {}

    def _result(self, snap_id: str | None) -> dict[str, Any]:
        packer = self.packer
        return {
            "snapshot_id": snap_id,
            "dry_run": self.options.dry_run,
            "started": clock.isoformat_z(self.started),
            "finished": clock.isoformat_z(clock.utcnow()),
            "seconds": round(time.monotonic() - self.t0, 3),
            "scan_seconds": round(self.scan_seconds, 3),
            **self.stats,
            "blobs_new": packer.blobs_new,
            "blobs_dedup": packer.blobs_dedup,
            "packs": packer.packs,
            "bytes_uploaded": packer.bytes_up,
            "manifest_pieces_new": self.manifest_packer.blobs_new,
            "manifest_bytes_uploaded": self.manifest_packer.bytes_up,
            "compression": packer.codec,
            "requests": dict(self.store.requests),
            "skipped": self.report.skipped,
            "warnings": list(self.excludes.problems),
        }

    def _state_skipper(self) -> Callable[[str], bool] | None:
        """Skips the state directory when it lies inside the source (None when it does not)."""
        state_dir = os.path.realpath(self.state.dir)
        if not state_dir.startswith(os.path.realpath(self.source) + os.sep):
            return None
        state_prefix = state_dir + os.sep

        def skip_abs(path: str) -> bool:
            return path == state_dir or path.startswith(state_prefix)

        return skip_abs


def parent_chunker(header: dict[str, Any]) -> dict[str, Any]:
    """The chunker a snapshot header names (``LEGACY`` for snapshots from before FastCDC)."""
    found = header.get("chunker")
    return found if isinstance(found, dict) else LEGACY
