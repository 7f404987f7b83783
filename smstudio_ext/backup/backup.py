"""One backup run: walk + merge against the parent snapshot, read what changed, pack, commit.

1. Take the lease lock, then list ``snapshots/`` (the newest is the parent; listed under the
   lock so a prune cannot remove it meanwhile); make sure the local state is that snapshot
   (download it if not).
2. Walk the source in manifest order and merge it with the parent's lines: an entry whose
   size, mtime (and, when the state is from this filesystem, inode and ctime) are unchanged
   keeps its content references without reading the file; a wholly unchanged entry is copied
   as the same line. What must be read goes to a plan file, so totals are known for progress.
3. Read changed files with a thread pool (hashing and zlib release the GIL), blobs into packs,
   packs uploaded in parallel; lines written in order.
4. Check the lease still holds (``Lease.check``), upload the snapshot object (the commit point), install it as the new local state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import socket
import stat
import tempfile
import threading
import time
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from json.decoder import scanstring  # type: ignore[attr-defined]  # C scanner, not in the stubs
from json.encoder import encode_basestring_ascii as quote
from typing import Any, Callable

from .. import clock
from ..errors import BadInput, SmStudioError
from . import manifest as mf
from .chunker import chunks
from .excludes import Excludes
from .lock import Lease
from .packer import Packer
from .scan import ScanReport, walk
from .state import LocalState
from .store import Store

log = logging.getLogger("smstudio_ext.backup")

CHUNK_THRESHOLD = 2 * 1024 * 1024
WINDOW = 4096  # manifest lines buffered while files are read
BATCH_FILES = 48
BATCH_BYTES = 2 * 1024 * 1024
_BIG_FILES = threading.BoundedSemaphore(2)

# Racy timestamps (git's racy-entry rule): a file changed within this window before the run
# started (or during it) could be rewritten with the same size in the same timestamp tick
# after we read it, keeping its mtime and ctime. Such entries get ctime 0 in the snapshot, so
# the next run reads them again instead of trusting size + mtime. 2 s covers the coarsest
# filesystem timestamps (FAT, some NFS servers); tests may narrow it.
RACY_WINDOW_NS = 2_000_000_000


class Cancelled(SmStudioError):
    status = 409
    code = "cancelled"
    exit_code = 130


class Progress:
    """Counters read by the progress bar and GET smstudio/backup (updated from workers)."""

    def __init__(self, operation: str = "backup") -> None:
        self.operation = operation
        self.phase = "starting"
        self.files_total = 0
        self.bytes_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self.entries = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def add(self, files: int, nbytes: int) -> None:
        with self._lock:
            self.files_done += files
            self.bytes_done += nbytes

    def to_dict(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.bytes_done / elapsed
        left = max(self.bytes_total - self.bytes_done, 0)
        eta = left / rate if rate > 0 and self.phase == "upload" else None
        return {
            "operation": self.operation,
            "phase": self.phase,
            "entries": self.entries,
            "files_total": self.files_total,
            "files_done": self.files_done,
            "bytes_total": self.bytes_total,
            "bytes_done": self.bytes_done,
            "elapsed_seconds": round(elapsed, 3),
            "bytes_per_second": round(rate),
            "eta_seconds": None if eta is None else round(eta, 1),
        }


def new_snapshot_id(after: str | None = None) -> str:
    """Sortable by time (microseconds) and always after the parent, so "latest" is the max."""
    import secrets

    now = clock.utcnow()
    snap_id = now.strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(4)
    if after and snap_id <= after:
        snap_id = after.split("-", 1)[0] + "-" + secrets.token_hex(4)
        if snap_id <= after:
            snap_id = after + "1"
    return snap_id


def list_snapshot_ids(store: Store) -> list[str]:
    ids = []
    for obj in store.list("snapshots/"):
        name = obj["Key"].rsplit("/", 1)[-1]
        if name.endswith(".jsonl.gz"):
            ids.append(name[: -len(".jsonl.gz")])
    return sorted(ids)


# Snapshot objects are downloaded in ranges of this size: memory bounded by one range, one
# GET for a snapshot of up to ~60k entries.
MANIFEST_CHUNK = 4 * 1024 * 1024


def download_to(store: Store, key: str, fh: Any) -> int:
    """Copy an object into the open file ``fh`` in ranged GETs of ``MANIFEST_CHUNK`` bytes
    (one byte more than that tells whether more follows, so no range ever starts past the
    end); returns its size."""
    chunk = MANIFEST_CHUNK
    off = 0
    while True:
        try:
            data = store.get(key, f"bytes={off}-{off + chunk}")
        except SmStudioError:
            if off:
                raise
            data = store.get(key)  # e.g. an empty object (a range of it is refused)
            fh.write(data)
            return len(data)
        if len(data) > chunk:
            fh.write(memoryview(data)[:chunk])
            off += chunk
            continue
        fh.write(data)
        return off + len(data)


def prepare_parent(store: Store, state: LocalState, snapshot_ids: list[str]) -> dict[str, Any]:
    """Make the local state the newest remote snapshot; returns its meta ({} = no parent)."""
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
        with os.fdopen(fd, "wb") as fh:
            download_to(store, store.snapshot_key(latest), fh)
        mf.SnapshotReader(tmp).close()  # validate before trusting it
        state.install(tmp, latest, trusted=False)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("smstudio backup: local state rebuilt from snapshot %s", latest)
    return state.meta()


def _parent_lines(state: LocalState, meta: dict[str, Any]) -> Any:
    """Raw lines of the parent snapshot (``_key`` parses only the path, with C scanstring)."""
    if not meta:
        return
    with mf.SnapshotReader(state.snapshot_path) as reader:
        yield from reader.lines()


def _parent_body(snapshot_path: str) -> int | None:
    """Where the parent's entries member (the gzip member after its header) starts in the
    file, or None if unusual. Only the header member is read."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    consumed = 0
    try:
        with open(snapshot_path, "rb") as fh:
            while not d.eof:
                block = fh.read(64 * 1024)
                if not block:
                    return None
                d.decompress(block)
                consumed += len(block)
            rest = d.unused_data
            offset = consumed - len(rest)
            if len(rest) < 18:
                rest += fh.read(18 - len(rest))
            if fh.seek(0, os.SEEK_END) - offset < 18:
                return None
    except (OSError, zlib.error):
        return None
    if rest[:2] != b"\x1f\x8b":
        return None
    return offset


def _key(raw: bytes) -> str:
    return mf.sort_key(scanstring(raw.decode("ascii"), 2)[0])


_REF_RE = re.compile(rb'\["([0-9a-f]{64})","([0-9a-f]{32})",(\d+),(\d+),(\d+)\]')


def _know_parent_blobs(state: LocalState, packer: Packer) -> None:
    """Register every blob of the parent for dedup (one regex pass, only when reading files)."""
    with mf.SnapshotReader(state.snapshot_path) as reader:
        for raw in reader.lines():
            for m in _REF_RE.finditer(raw):
                packer.know_raw(m.group(1), m.group(2), m.group(3), m.group(4), m.group(5))


def run_backup(
    store: Store,
    state: LocalState,
    source: str,
    excludes: Excludes,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    concurrency: int = 4,
    uploads: int = 4,
    pack_size: int = 8 * 1024 * 1024,
    compression: bool = True,
    lease_seconds: float = 600.0,
    thread_init: Callable[[], None] | None = None,
    racy_seconds: float | None = None,
    speculation: Speculation | None = None,
) -> dict[str, Any]:
    try:
        return _run_backup(
            store, state, source, excludes, dry_run, progress, cancel, concurrency, uploads,
            pack_size, compression, lease_seconds, thread_init, racy_seconds, speculation,
        )  # fmt: skip
    finally:
        if speculation is not None:
            speculation.cancel()


def _run_backup(
    store: Store,
    state: LocalState,
    source: str,
    excludes: Excludes,
    dry_run: bool,
    progress: Progress | None,
    cancel: threading.Event | None,
    concurrency: int,
    uploads: int,
    pack_size: int,
    compression: bool,
    lease_seconds: float,
    thread_init: Callable[[], None] | None,
    racy_seconds: float | None,
    speculation: Speculation | None,
) -> dict[str, Any]:
    progress = progress or Progress()
    started = clock.utcnow()
    t0 = time.monotonic()
    source = os.path.abspath(source)
    if not os.path.isdir(source):
        from ..errors import BadInput

        raise BadInput(f"backup source {source!r} is not a directory")
    progress.phase = "scan"
    # Filesystem timestamps are wall-clock time: compared with time.time_ns(), not the clock seam.
    window = RACY_WINDOW_NS if racy_seconds is None else int(racy_seconds * 1e9)
    racy_after = time.time_ns() - window
    lease = None if dry_run else Lease(store, "backup", lease_seconds).acquire()
    try:
        # Listed under the lock: a parent chosen before it could be pruned meanwhile.
        meta = prepare_parent(store, state, list_snapshot_ids(store))
        if speculation is not None and not dry_run:
            seen = speculation.outcome(meta)
            body = _parent_body(state.snapshot_path) if seen is not None else None
            if seen is not None and body is not None:
                log.debug("smstudio backup: nothing changed since %s (checked while connecting)",
                          meta.get("snapshot_id"))  # fmt: skip
                progress.entries = seen["entries"]
                report = ScanReport()
                report.skipped = seen["skipped"]
                return _commit(
                    store, state, source, meta, progress, seen["stats"], report,
                    Packer(None), [], seen["entries"], state.snapshot_path, body, started, t0,
                    time.monotonic() - t0, lease.check if lease is not None else None,
                )  # fmt: skip
        return _run(
            store, state, source, excludes, meta, dry_run, progress, cancel, concurrency,
            uploads, pack_size, compression, started, t0, thread_init,
            lease.check if lease is not None else None, racy_after,
        )  # fmt: skip
    finally:
        if lease is not None:
            lease.release()


def _run(
    store: Store,
    state: LocalState,
    source: str,
    excludes: Excludes,
    meta: dict[str, Any],
    dry_run: bool,
    progress: Progress,
    cancel: threading.Event | None,
    concurrency: int,
    uploads: int,
    pack_size: int,
    compression: bool,
    started: Any,
    t0: float,
    thread_init: Callable[[], None] | None,
    check_lease: Callable[[], None] | None = None,
    racy_after: int | None = None,
) -> dict[str, Any]:
    trusted = bool(meta.get("trusted"))
    report = ScanReport()
    packer = Packer(
        None if dry_run else store, pack_size=pack_size, uploads=uploads, compression=compression
    )
    skip_state = _state_skipper(state, source)

    stats = {"files": 0, "dirs": 0, "links": 0, "bytes": 0, "files_read": 0, "bytes_read": 0}
    work_dir = state.dir if not dry_run else tempfile.gettempdir()
    os.makedirs(work_dir, exist_ok=True)
    plan_fd, plan_path = tempfile.mkstemp(dir=work_dir, suffix=".plan")
    body_path = plan_path[:-5] + ".body"
    snap_path = plan_path[:-5] + ".snap"
    writer: mf.EntryWriter | None = None
    try:
        # -- phase 1: walk + merge. Lines go straight to the body until the first file that
        # must be read; from there on through the plan file (read again in phase 2).
        writer = mf.EntryWriter(body_path)
        to_plan = False

        write_body = writer.write_raw

        def emit(line: bytes) -> None:
            if to_plan:
                plan.write(b"=" + line)
            else:
                write_body(line)

        # While every entry so far is its parent line, byte for byte and at the same place,
        # nothing is written: ``copied`` counts those lines. The first difference (a changed,
        # new or deleted entry) writes them out and the merge goes on as usual; when there is
        # none, the new snapshot reuses the parent's compressed body as is (no re-compression).
        verbatim = trusted and not dry_run
        copied = 0

        def diverge() -> None:
            nonlocal verbatim
            if verbatim:
                verbatim = False
                if copied:
                    with mf.SnapshotReader(state.snapshot_path) as again:
                        lines = again.lines()
                        for _ in range(copied):
                            write_body(next(lines))

        with os.fdopen(plan_fd, "wb") as plan:
            parents = _parent_lines(state, meta)
            pending = next(parents, None)
            for rel, kind, st, abspath in walk(source, excludes, report, skip_state):
                if cancel is not None and cancel.is_set():
                    raise Cancelled("backup cancelled")
                mode = stat.S_IMODE(st.st_mode)
                progress.entries += 1
                if kind == "f":
                    stats["files"] += 1
                    stats["bytes"] += st.st_size
                if pending is not None and trusted:
                    # Fast path: the parent line starts with exactly this entry's metadata.
                    head = b"[%s,\"%s\",%d,%d,%d,%d,%d," % (
                        quote(rel).encode("ascii"), kind.encode(), mode, st.st_mtime_ns,
                        st.st_size if kind != "d" else 0, st.st_ino, st.st_ctime_ns,
                    )  # fmt: skip
                    if pending.startswith(head):
                        if verbatim:
                            copied += 1
                        else:
                            emit(pending)
                        pending = next(parents, None)
                        if kind == "d":
                            stats["dirs"] += 1
                        elif kind == "l":
                            stats["links"] += 1
                        continue
                if verbatim:
                    diverge()
                key = mf.sort_key(rel)
                while pending is not None and _key(pending) < key:
                    pending = next(parents, None)
                old = None
                if pending is not None and _key(pending) == key:
                    old = json.loads(pending)
                    pending = next(parents, None)
                if kind == "f":
                    new = [rel, "f", mode, st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns]
                    if old is not None and old[1] == "f" and old[3:5] == new[3:5] and old[6]:
                        if not trusted or old[5:7] == new[5:7]:
                            if racy_after is not None and st.st_ctime_ns >= racy_after:
                                new[6] = 0  # racy: read it next time
                            emit(mf.encode_entry([*new, old[7]]))
                            continue
                    stats["files_read"] += 1
                    stats["bytes_read"] += st.st_size
                    progress.files_total += 1
                    progress.bytes_total += st.st_size
                    if not to_plan:
                        to_plan = True
                    prev = old[7] if old is not None and old[1] == "f" else None
                    plan.write(b"?" + json.dumps([rel, st.st_size, prev]).encode() + b"\n")
                elif kind == "d":
                    stats["dirs"] += 1
                    new = [rel, "d", mode, st.st_mtime_ns, 0, st.st_ino, st.st_ctime_ns, None]
                    emit(mf.encode_entry(new))
                else:
                    stats["links"] += 1
                    new = [rel, "l", mode, st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns]
                    if old is not None and old[1] == "l" and old[3:5] == new[3:5]:
                        emit(mf.encode_entry([*new, old[7]]))
                        continue
                    try:
                        target = os.readlink(abspath)
                    except OSError as exc:
                        report.skip(rel, f"cannot read link: {exc.strerror or exc}")
                        continue
                    emit(mf.encode_entry([*new, target]))
            if verbatim and pending is not None:
                diverge()  # entries deleted after the last one seen
        parent_body = _parent_body(state.snapshot_path) if verbatim else None
        if verbatim and parent_body is None:
            diverge()
        scan_seconds = time.monotonic() - t0
        if dry_run:
            writer.close()
            return _result(
                None, started, t0, stats, report, packer, scan_seconds, dry_run=True, store=store
            )

        # -- phase 2: read what changed, in order
        progress.phase = "upload"
        if stats["files_read"] and meta:
            _know_parent_blobs(state, packer)
        changed: list[dict[str, str]] = []
        try:
            _read_changed(
                plan_path, writer, source, packer, progress, report, changed, cancel,
                concurrency, thread_init, racy_after,
            )  # fmt: skip
            writer.close()
            progress.phase = "commit"
            packer.finish()
        except BaseException:
            writer.close()
            packer.abort()
            raise
        return _commit(
            store, state, source, meta, progress, stats, report, packer, changed,
            copied if parent_body is not None else writer.count,
            state.snapshot_path if parent_body is not None else body_path, parent_body or 0,
            started, t0, scan_seconds, check_lease, snap_path,
        )  # fmt: skip
    finally:
        if writer is not None:
            writer.close()
        for path in (plan_path, body_path, snap_path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _codecs(state: LocalState, meta: dict[str, Any], packer: Packer) -> list[str]:
    codecs = set()
    if packer.blobs_new and packer.codec != "off":
        codecs.add(packer.codec)
    if meta:
        try:
            with mf.SnapshotReader(state.snapshot_path) as parent:
                found = parent.header.get("codecs")
        except (OSError, BadInput):
            found = None
        # a parent that does not say was written before zstd was used: zlib
        codecs.update(found if isinstance(found, list) else ("zlib",))
    return sorted(str(c) for c in codecs)


def _commit(
    store: Store,
    state: LocalState,
    source: str,
    meta: dict[str, Any],
    progress: Progress,
    stats: dict[str, int],
    report: ScanReport,
    packer: Packer,
    changed: list[dict[str, str]],
    entries: int,
    body_path: str,
    body_offset: int,
    started: Any,
    t0: float,
    scan_seconds: float,
    check_lease: Callable[[], None] | None,
    snap_path: str | None = None,
) -> dict[str, Any]:
    """Write the snapshot object (header + entries: the file ``body_path`` from
    ``body_offset``, e.g. the parent's entries member), upload it (the commit point, streamed
    from the file) and make it the local state."""
    progress.phase = "commit"
    snap_id = new_snapshot_id(meta.get("snapshot_id"))
    header = {
        "format": mf.FORMAT,
        "id": snap_id,
        "time": clock.isoformat_z(started),
        "parent": meta.get("snapshot_id"),
        "source": source,
        "host": socket.gethostname(),
        "entries": entries,
        "stats": stats,
        "report": {"skipped": report.skipped, "changed_during_read": changed},
        # Compression codecs its blobs may use (this run's and, through dedup, the parent's):
        # a restore without a zstd decoder refuses before writing anything.
        "codecs": _codecs(state, meta, packer),
    }
    own = snap_path is None
    if snap_path is None:
        state.ensure()
        fd, snap_path = tempfile.mkstemp(dir=state.dir, suffix=".snap")
        os.close(fd)
    try:
        mf.assemble(header, body_path, snap_path, offset=body_offset)
        if check_lease is not None:
            check_lease()  # never commit a snapshot whose packs a prune may have removed
        # The commit point. One PutObject unless the snapshot is big (then multipart); the
        # body is streamed from the file (botocore reads it in blocks), never held whole.
        if os.path.getsize(snap_path) < 64 * 1024 * 1024:
            with open(snap_path, "rb") as fh:
                store.put(store.snapshot_key(snap_id), fh)  # type: ignore[arg-type]
        else:
            store.upload_file(store.snapshot_key(snap_id), snap_path)
        state.install(snap_path, snap_id, trusted=True)
    finally:
        if own and os.path.exists(snap_path):
            os.unlink(snap_path)
    progress.phase = "done"
    result = _result(snap_id, started, t0, stats, report, packer, scan_seconds, store=store)
    result["changed_during_read"] = changed
    return result


def _state_skipper(state: LocalState, source: str) -> Callable[[str], bool] | None:
    """Skips the state directory when it lies inside the source (None when it does not)."""
    state_dir = os.path.realpath(state.dir)
    if not state_dir.startswith(os.path.realpath(source) + os.sep):
        return None
    state_prefix = state_dir + os.sep

    def skip_abs(path: str) -> bool:
        return path == state_dir or path.startswith(state_prefix)

    return skip_abs


class Speculation:
    """The no-change check, run in a forked child while this process talks to S3 (CLI only).

    Starting the CLI's S3 client and taking the lock cost about as much CPU as walking the
    tree; on a machine with a second core both run at once. The child walks the source against
    the local state's snapshot and answers one question: is every entry its parent line, byte
    for byte (then the new snapshot is the parent's entries as they are)? It touches nothing
    but a pipe. ``outcome(meta)`` uses the answer only when that snapshot is still the newest
    remote one, chosen under the lock; anything else (a difference, a newer remote snapshot, an
    untrusted state, a failure in the child) means the ordinary run.
    """

    def __init__(self, pid: int, fd: int, snapshot_id: str) -> None:
        self.pid, self.fd, self.snapshot_id = pid, fd, snapshot_id

    @classmethod
    def start(cls, state: LocalState, source: str, excludes: Excludes) -> Speculation | None:
        if not hasattr(os, "fork") or threading.active_count() != 1 or not os.path.isdir(source):
            return None  # never fork a process with other threads (they would not exist there)
        meta = state.meta()
        if not meta.get("trusted") or not isinstance(meta.get("snapshot_id"), str):
            return None
        source = os.path.abspath(source)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover  (the child; measured by the tests through the parent)
            try:
                os.close(read_fd)
                data = json.dumps(_unchanged(state, source, excludes)).encode()
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


def _unchanged(state: LocalState, source: str, excludes: Excludes) -> dict[str, Any]:
    """Walk ``source`` against the state's snapshot; ``unchanged`` only if every line matches
    (the fast path of ``_run``, same order, same entries, nothing left over)."""
    report = ScanReport()
    stats = {"files": 0, "dirs": 0, "links": 0, "bytes": 0, "files_read": 0, "bytes_read": 0}
    entries = 0
    no = {"unchanged": False}
    with mf.SnapshotReader(state.snapshot_path) as reader:
        parents = reader.lines()
        pending = next(parents, None)
        for rel, kind, st, _abspath in walk(
            source, excludes, report, _state_skipper(state, source)
        ):
            if pending is None:
                return no
            size = st.st_size if kind != "d" else 0
            head = b"[%s,\"%s\",%d,%d,%d,%d,%d," % (
                quote(rel).encode("ascii"), kind.encode(), stat.S_IMODE(st.st_mode),
                st.st_mtime_ns, size, st.st_ino, st.st_ctime_ns,
            )  # fmt: skip
            if not pending.startswith(head):
                return no
            entries += 1
            if kind == "f":
                stats["files"] += 1
                stats["bytes"] += st.st_size
            elif kind == "d":
                stats["dirs"] += 1
            else:
                stats["links"] += 1
            pending = next(parents, None)
        if pending is not None:
            return no
    return {"unchanged": True, "entries": entries, "stats": stats, "skipped": report.skipped}


def _result(
    snap_id: str | None,
    started: Any,
    t0: float,
    stats: dict[str, int],
    report: ScanReport,
    packer: Packer,
    scan_seconds: float,
    dry_run: bool = False,
    store: Store | None = None,
) -> dict[str, Any]:
    return {
        "snapshot_id": snap_id,
        "dry_run": dry_run,
        "started": clock.isoformat_z(started),
        "finished": clock.isoformat_z(clock.utcnow()),
        "seconds": round(time.monotonic() - t0, 3),
        "scan_seconds": round(scan_seconds, 3),
        **stats,
        "blobs_new": packer.blobs_new,
        "blobs_dedup": packer.blobs_dedup,
        "packs": packer.packs,
        "bytes_uploaded": packer.bytes_up,
        "compression": packer.codec,
        "requests": dict(store.requests) if store is not None else {},
        "skipped": report.skipped,
    }


def _read_changed(
    plan_path: str,
    writer: mf.EntryWriter,
    source: str,
    packer: Packer,
    progress: Progress,
    report: ScanReport,
    changed: list[dict[str, str]],
    cancel: threading.Event | None,
    concurrency: int,
    thread_init: Callable[[], None] | None,
    racy_after: int | None = None,
) -> None:
    def read_batch(rels: list[tuple[str, Any]]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for rel, prev in rels:
            entry, problem = read_file(
                os.path.join(source, rel), rel, packer, progress, prev, racy_after
            )
            if problem:
                if entry is None:
                    report.skip(rel, problem)
                    log.warning("smstudio backup: skipped %r: %s", rel, problem)
                else:
                    changed.append({"path": rel, "problem": problem})
            out.append(None if entry is None else mf.encode_entry(entry))
        return out

    class Batch:
        __slots__ = ("future", "rels", "size")

        def __init__(self) -> None:
            self.rels: list[tuple[str, Any]] = []
            self.size = 0
            self.future: Future[list[bytes | None]] | None = None

    # Slots in manifest order: a raw line, or (batch, index) for a file being read.
    window: deque[Any] = deque()
    pool = ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix="smstudio-read", initializer=thread_init
    )
    batch = Batch()

    def submit() -> None:
        nonlocal batch
        if batch.rels:
            batch.future = pool.submit(read_batch, batch.rels)
            batch = Batch()

    def drain(block: bool) -> None:
        while window:
            head = window[0]
            if isinstance(head, bytes):
                writer.write_raw(head)
            else:
                b, idx = head
                if b.future is None or (not block and not b.future.done()):
                    return
                line = b.future.result()[idx]
                if line is not None:
                    writer.write_raw(line)
            window.popleft()

    try:
        with open(plan_path, "rb") as plan:
            for line in plan:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("backup cancelled")
                if line[:1] == b"=":
                    if window:
                        window.append(line[1:])
                    else:
                        writer.write_raw(line[1:])
                    continue
                rel, size, prev = json.loads(line[1:])
                if size >= CHUNK_THRESHOLD:
                    submit()
                batch.rels.append((rel, prev))
                batch.size += size
                window.append((batch, len(batch.rels) - 1))
                if len(batch.rels) >= BATCH_FILES or batch.size >= BATCH_BYTES:
                    submit()
                drain(False)
                while len(window) > WINDOW:
                    submit()
                    head = window[0]
                    if not isinstance(head, bytes) and head[0].future is not None:
                        head[0].future.result()
                    drain(False)
        submit()
        drain(True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def read_file(
    abspath: str,
    rel: str,
    packer: Packer,
    progress: Progress,
    prev: list[Any] | None = None,
    racy_after: int | None = None,
) -> tuple[list[Any] | None, str | None]:
    """(entry, problem). A file that changes while read is read again (twice at most)."""
    problem = None
    for _attempt in range(3):
        try:
            fd = os.open(abspath, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None, "deleted during the backup"
        except OSError as exc:
            return None, f"cannot open: {exc.strerror or exc}"
        try:
            st1 = os.fstat(fd)
            if not stat.S_ISREG(st1.st_mode):
                return None, "no longer a regular file"
            refs: list[Any] = []
            size = 0
            with os.fdopen(fd, "rb", buffering=0, closefd=False) as fh:
                if st1.st_size < CHUNK_THRESHOLD:
                    data = fh.readall()
                    size = len(data)
                    if data:  # an empty file has no blobs
                        refs.append(packer.add(data, rel))
                    if size >= CHUNK_THRESHOLD:  # grew a lot while we read it
                        refs = [packer.add(c, rel) for c in _split(data)]
                else:
                    # Cut points depend only on the bytes since the previous cut, so the
                    # parent's chunks that still match (SHA-256 only, no chunker pass) keep
                    # their place; chunking resumes at the first one that differs.
                    refs, size = _reuse_prefix(fh, prev)
                    with _BIG_FILES:  # bounds memory: each holds ~2 x MAX_SIZE of buffers
                        for piece in chunks(fh):
                            size += len(piece)
                            refs.append(packer.add(piece, rel))
            st2 = os.fstat(fd)
        except OSError as exc:
            return None, f"read error: {exc.strerror or exc}"
        finally:
            os.close(fd)
        progress.add(1, size)
        entry = [
            rel, "f", stat.S_IMODE(st2.st_mode), st2.st_mtime_ns, size, st2.st_ino,
            st2.st_ctime_ns, refs,
        ]  # fmt: skip
        if racy_after is not None and st2.st_ctime_ns >= racy_after:
            entry[6] = 0  # racy: a same-size rewrite in this tick would go unnoticed
        if st1.st_mtime_ns == st2.st_mtime_ns and st1.st_size == st2.st_size == size:
            return entry, None
        problem = "changed while being read; stored the last version read"
    return entry, problem


def _reuse_prefix(fh: Any, prev: list[Any] | None) -> tuple[list[Any], int]:
    """The parent's leading chunks found unchanged at the same offsets (all but the last)."""
    refs: list[Any] = []
    offset = 0
    if not prev or len(prev) < 2:
        return refs, offset
    for ref in prev[:-1]:
        data = fh.read(ref[4])
        if len(data) != ref[4] or hashlib.sha256(data).hexdigest() != ref[0]:
            break
        refs.append(ref)
        offset += ref[4]
    fh.seek(offset)
    return refs, offset


def _split(data: bytes) -> list[bytes]:
    import io

    return list(chunks(io.BytesIO(data)))
