"""Restore a snapshot (or chosen paths) into a directory: bytes, modes, mtimes, links, empty dirs.

Every manifest path is checked before anything is written (absolute paths, ``..``, empty
components, and parents that resolve outside the target are refused). One ranged GET per
pack fetches the blobs that are needed; each blob is verified against its SHA-256 before it is
written with ``pwrite`` at its offset. A file gets its mode and mtime as soon as it is
complete, so an interrupted restore resumes by skipping files whose size and mtime already
match. Symlinks are created last and never followed. On any failure (disk full included)
files that were not completed are removed.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
import tempfile
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from json.decoder import scanstring  # type: ignore[attr-defined]  # C scanner, not in the stubs
from typing import Any

from .. import clock
from ..errors import BadInput, Conflict, NotConfigured, NotFound, SmStudioError
from . import manifest as mf
from .backup import Cancelled, Progress, download_to, list_snapshot_ids
from .packer import decompress, zstd_available
from .store import Store

log = logging.getLogger("smstudio_ext.backup")

TEMP_SUFFIX = ".~smstudio-restore"
_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

# Verify-and-write threads: few, so per-file syscalls do not convoy on the GIL; the
# downloads around them run in parallel.
_WRITERS = threading.BoundedSemaphore(2)

# What a fresh Studio home may already hold and still count as "empty" for --if-empty.
EMPTY_HOME_ALLOWED = frozenset(
    {
        "lost+found", ".cache", ".bashrc", ".bash_logout", ".profile", ".local", ".config",
        ".jupyter", ".ipython", ".sagemaker", ".conda", ".condarc", ".aws", ".smstudioignore",
    }
)  # fmt: skip


class DiskFull(SmStudioError):
    status = 507
    code = "disk_full"
    exit_code = 9


class CorruptBackup(SmStudioError):
    status = 502
    code = "corrupt_backup"
    exit_code = 10


def resolve_snapshot(store: Store, snapshot: str) -> str:
    ids = list_snapshot_ids(store)
    if snapshot in ("latest", "", None):
        if not ids:
            raise NotFound(f"no snapshots in {store.loc.url}")
        return ids[-1]
    if snapshot not in ids:
        matches = [i for i in ids if i.startswith(snapshot)]
        if len(matches) != 1:
            raise NotFound(f"snapshot {snapshot!r} not found in {store.loc.url}")
        return matches[0]
    return snapshot


def home_is_empty(path: str) -> bool:
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return True
    return all(n in EMPTY_HOME_ALLOWED for n in names)


def _selected(path: str, selections: list[str]) -> bool:
    if not selections:
        return True
    for sel in selections:
        if path == sel or path.startswith(sel + "/") or sel.startswith(path + "/"):
            return True
    return False


# Files whose blobs are fetched and written together (one ranged GET per pack per window).
# Only one window of entries is held in memory, so a restore's memory does not grow with
# the snapshot; a pack whose blobs fall in two windows is fetched in two ranges.
WINDOW_FILES = 4096
WINDOW_REFS = 16384
# Windows left downloading and writing while the next one is built. None: parsing the next
# window while one is written makes the writers' many short syscalls convoy on the GIL behind
# the parsing thread (measured 30 % slower on 100k tiny files). A window's packs are still
# fetched in parallel.
PIPELINE_WINDOWS = 0


class _Manifest:
    """The snapshot object in an unnamed temporary file, read once per pass (not held)."""

    def __init__(self, store: Store, key: str) -> None:
        self._fh = tempfile.TemporaryFile(prefix="smstudio-restore-")
        try:
            download_to(store, key, self._fh)
            self._fh.flush()
            with self.reader():  # header check
                pass
        except BaseException:
            self._fh.close()
            raise

    def reader(self) -> mf.SnapshotReader:
        self._fh.seek(0)
        return mf.SnapshotReader(self._fh)

    def close(self) -> None:
        self._fh.close()


_SEP = re.compile(r'\s*,\s*"')


def _path_kind(line: bytes) -> tuple[str, str]:
    """Path and type of an entry line already validated (no full JSON parse); any JSON
    spacing, raw UTF-8 included, as ``json.loads`` reads it."""
    text = line.decode("utf-8")  # as pass 1 read it (manifest.decode_entry)
    path, end = scanstring(text, text.index('"') + 1)
    m = _SEP.match(text, end)
    if m is None:  # pragma: no cover  (validated in pass 1)
        raise BadInput(f"corrupt manifest line: {line[:100]!r}")
    return path, scanstring(text, m.end())[0]


def _same_entry(line: bytes, path: str) -> list[Any]:
    """The entry of a line whose path was read by ``_path_kind`` (both decode UTF-8 as pass 1
    did, so they agree; checked anyway, as a refusal rather than a write elsewhere)."""
    entry = mf.decode_entry(line)
    if entry[0] != path:
        raise BadInput(f"hostile or corrupt manifest line for {path!r}")
    return entry


def run_restore(
    store: Store,
    snapshot: str,
    target: str,
    *,
    paths: list[str] | None = None,
    overwrite: bool = False,
    if_empty: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    concurrency: int = 8,
) -> dict[str, Any]:
    """Restore in four passes over the manifest, streamed from a temporary file: (1) validate
    every entry, collect directories and link paths; (2) refuse hostile entries and count
    conflicts (nothing written before both); (3) write files one window at a time; (4) links,
    then directory metadata. Memory grows with directories and links, not with files."""
    progress = progress or Progress("restore")
    t0 = time.monotonic()
    target = os.path.abspath(target)
    if if_empty and not home_is_empty(target):
        return {"restored": False, "reason": f"{target} is not empty", "target": target}
    if if_empty and not list_snapshot_ids(store):
        return {"restored": False, "reason": "no snapshot to restore", "target": target}
    snap_id = resolve_snapshot(store, snapshot)
    selections = [p.strip("/") for p in (paths or []) if p.strip("/")]
    for sel in selections:
        mf.check_path(sel)
    manifest = _Manifest(store, store.snapshot_key(snap_id))
    try:
        with manifest.reader() as reader:
            codecs = reader.header.get("codecs")
        if isinstance(codecs, list) and "zstd" in codecs and not zstd_available():
            raise NotConfigured(
                f"snapshot {snap_id} stores Zstandard-compressed data and no decoder is "
                "installed here: pip install zstandard (nothing was written)"
            )
        return _restore(
            store, manifest, snap_id, target, selections, overwrite, progress, cancel,
            concurrency, t0,
        )  # fmt: skip
    finally:
        manifest.close()


def _restore(
    store: Store,
    manifest: _Manifest,
    snap_id: str,
    target: str,
    selections: list[str],
    overwrite: bool,
    progress: Progress,
    cancel: threading.Event | None,
    concurrency: int,
    t0: float,
) -> dict[str, Any]:
    def wanted(path: str, kind: str) -> bool:
        if not selections:
            return True
        if not _selected(path, selections):
            return False
        if kind == "d" and selections:
            # a parent of a selection: created, metadata not restored
            return any(path == s or path.startswith(s + "/") for s in selections)
        return True

    def wanted_entries(kind: str) -> Iterator[list[Any]]:
        """One more pass over the manifest: the wanted entries of one kind, each line parsed
        only when its path and type say it is wanted."""
        with manifest.reader() as reader:
            for line in reader.lines():
                path, k = _path_kind(line)
                if k == kind and wanted(path, k):
                    yield _same_entry(line, path)

    # -- pass 1: validate every entry; keep directories (path, mode, mtime) and link paths
    dirs: list[tuple[str, int, int]] = []
    link_paths: set[str] = set()
    n_files = n_bytes = 0
    with manifest.reader() as reader:
        for entry in reader.entries():
            if not wanted(entry[0], entry[1]):
                continue
            if entry[1] == "f":
                n_files += 1
                n_bytes += entry[4]
            elif entry[1] == "d":
                dirs.append((entry[0], entry[2], entry[3]))
            else:
                link_paths.add(entry[0])
    if selections and not (dirs or n_files or link_paths):
        raise NotFound(f"none of {selections} is in snapshot {snap_id}")

    fresh = not os.path.exists(target) or not os.listdir(target)
    real_target = os.path.realpath(target)
    safe_dirs: dict[str, str] = {}  # relative parent -> its path, once found inside

    def place(rel: str, fresh: bool = False) -> tuple[str, str]:
        """(destination, its parent) of ``rel``; refused when the parent resolves outside the
        target. Safe parents are remembered (one entry per directory) unless ``fresh``."""
        head, _, name = rel.rpartition("/")
        parent = None if fresh else safe_dirs.get(head)
        if parent is None:
            parent = os.path.join(target, head) if head else target
            real = os.path.realpath(parent)
            if not (real == real_target or real.startswith(real_target + os.sep)):
                raise BadInput(f"hostile manifest: {rel!r} would be written outside {target}")
            safe_dirs[head] = parent
        return os.path.join(parent, name), parent

    def check_parent(rel: str) -> str:
        return place(rel)[0]

    def under_link(path: str) -> None:
        link = mf.link_above(path, link_paths)
        if link is not None:
            raise BadInput(f"hostile manifest: {path!r} lies under the symlink {link!r}")

    # -- pass 2: entries below a link of the manifest, and conflicts (nothing written yet);
    # what is already there is skipped later (resume)
    existing_dirs: set[str] = set()  # left as they are without --overwrite
    conflicts = 0
    files_todo, bytes_todo = n_files, n_bytes
    if link_paths or not fresh:
        if not fresh:
            files_todo = bytes_todo = 0
        with manifest.reader() as reader:
            for line in reader.lines():
                path, kind = _path_kind(line)
                if not wanted(path, kind):
                    continue
                if link_paths:
                    under_link(path)
                if fresh:
                    continue
                dest = os.path.join(target, path)
                if kind == "f":
                    entry = _same_entry(line, path)
                    state = _file_state(dest, entry)
                    if state == "same":
                        continue
                    if state == "differs" and not overwrite:
                        conflicts += 1
                        continue
                    files_todo += 1
                    bytes_todo += entry[4]
                elif kind == "d":
                    if os.path.isdir(dest) and not os.path.islink(dest):
                        existing_dirs.add(dest)
                    elif os.path.lexists(dest) and not overwrite:
                        conflicts += 1
                elif os.path.lexists(dest) and not overwrite:
                    try:
                        same = (
                            os.path.islink(dest) and os.readlink(dest) == _same_entry(line, path)[7]
                        )
                    except OSError:
                        same = False
                    if not same:
                        conflicts += 1
    if conflicts:
        raise Conflict(
            f"{conflicts} file(s), link(s) or dir(s) already exist in {target} with other content; "
            "pass --overwrite (or restore into a fresh directory); nothing was written",
            conflicts=conflicts,
        )

    os.makedirs(target, exist_ok=True)
    progress.phase = "restore"
    progress.files_total = files_todo
    progress.bytes_total = bytes_todo
    for rel, _mode, _mtime in dirs:
        dest = check_parent(rel)
        if dest not in existing_dirs:
            _make_dir(dest, overwrite)
    made: set[str] = {target}  # parent directories known to exist
    touched: set[str] = set()  # existing directories this run wrote into

    def make_parent(parent: str) -> None:
        if parent not in made:
            if not os.path.isdir(parent):
                os.makedirs(parent, exist_ok=True)
            made.add(parent)

    if not fresh:
        # Every parent is checked before any file is written (the directories are there
        # now, so what they resolve to is what the writes will go through).
        with manifest.reader() as reader:
            for line in reader.lines():
                path, kind = _path_kind(line)
                if kind != "d" and wanted(path, kind):
                    make_parent(place(path)[1])

    # -- pass 3: files, one window at a time
    writer = _Writer(store, target, fresh, progress, cancel, concurrency)
    written = 0
    try:
        window: list[list[Any]] = []
        refs = 0
        for entry in wanted_entries("f"):
            dest, parent = place(entry[0])
            if not fresh:
                state = _file_state(dest, entry)
                if state == "same" or (state == "differs" and not overwrite):
                    continue  # restored by an earlier run / appeared meanwhile: kept
            make_parent(parent)
            if existing_dirs and parent in existing_dirs:
                touched.add(parent)
            window.append(entry)
            refs += len(entry[7])
            if len(window) >= WINDOW_FILES or refs >= WINDOW_REFS:
                writer.write(window)
                written += len(window)
                window, refs = [], 0
        if window:
            writer.write(window)
            written += len(window)
        writer.finish()
    finally:
        writer.close()

    # -- pass 4: links, then directory metadata (deepest first)
    n_links = 0
    if link_paths:
        for entry in wanted_entries("l"):
            n_links += 1
            # Checked again now, not from the cache: links made earlier in this pass may
            # have replaced a directory (--overwrite) that this path goes through.
            dest = place(entry[0], fresh=True)[0]
            if existing_dirs and os.path.dirname(dest) in existing_dirs:
                touched.add(os.path.dirname(dest))
            try:
                if os.path.islink(dest) and os.readlink(dest) == entry[7]:
                    pass
                else:
                    if os.path.lexists(dest):
                        if not overwrite:
                            raise Conflict(f"{dest} exists; pass --overwrite")
                        _remove_if_needed(dest)
                    os.symlink(entry[7], dest)
                os.utime(dest, ns=(entry[3], entry[3]), follow_symlinks=False)
            except NotImplementedError:
                pass
    # Parents resolved afresh once, after every link exists (nothing below changes what a
    # path resolves to), then remembered as in the passes before.
    safe_dirs.clear()
    dirs.sort(key=lambda d: d[0].count("/"), reverse=True)
    for rel, mode, mtime in dirs:
        dest = place(rel)[0]
        if not stat.S_ISDIR(os.lstat(dest).st_mode):
            continue  # never chmod through a link (the manifest cannot have both; the target might)
        if dest in existing_dirs and not overwrite:
            # A directory that was there: its mode is the user's. Its mtime is reset only if
            # this run wrote into it (a resumed restore), as our writes changed it anyway.
            if dest in touched:
                os.utime(dest, ns=(mtime, mtime))
            continue
        os.chmod(dest, mode)
        os.utime(dest, ns=(mtime, mtime))
    progress.phase = "done"
    return {
        "restored": True,
        "snapshot_id": snap_id,
        "target": target,
        "files": n_files,
        "files_written": written,
        "dirs": len(dirs),
        "links": n_links,
        "bytes_written": progress.bytes_done,
        "seconds": round(time.monotonic() - t0, 3),
        "finished": clock.isoformat_z(clock.utcnow()),
        "requests": dict(store.requests),
    }


def _file_state(dest: str, entry: list[Any]) -> str:
    """``missing``, ``same`` (a regular file of the entry's size and mtime: restored before,
    or identical) or ``differs``."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        return "differs"
    if stat.S_ISREG(st.st_mode) and st.st_size == entry[4] and st.st_mtime_ns == entry[3]:
        return "same"
    return "differs"


class _Writer:
    """Writes windows of file entries: one ranged GET per pack, blobs verified, each file
    written under a temporary name next to it and renamed over the destination only once
    complete (mode and mtime set): a failed or interrupted restore never deletes or
    truncates a file it has not fully replaced."""

    def __init__(
        self,
        store: Store,
        target: str,
        fresh: bool,
        progress: Progress,
        cancel: threading.Event | None,
        concurrency: int,
    ) -> None:
        self.store, self.target, self.fresh = store, target, fresh
        self.progress, self.cancel = progress, cancel
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="smstudio-restore")
        self.locks = [threading.Lock() for _ in range(64)]
        self.inflight: deque[_Batch] = deque()

    def close(self) -> None:
        """Stop (after an error elsewhere: the temporaries of windows in flight are removed)."""
        try:
            if self.inflight:
                self._fail(Cancelled("restore stopped"))
        except Cancelled:
            pass
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def write(self, todo: list[list[Any]]) -> None:
        """Write a window (its empty files at once, its packs in parallel); returns once at
        most ``PIPELINE_WINDOWS`` windows are still in flight; raises the first error."""
        target, fresh, progress, locks = self.target, self.fresh, self.progress, self.locks
        store = self.store
        status = bytearray(len(todo))  # 0 pending, 1 temp file exists, 2 complete
        remaining = [len(e[7]) for e in todo]
        jobs: dict[str, list[tuple[list[Any], int, int]]] = defaultdict(list)
        for idx, entry in enumerate(todo):
            offset = 0
            for ref in entry[7]:
                jobs[ref[1]].append((ref, idx, offset))
                offset += ref[4]

        def temp_of(idx: int) -> str:
            return os.path.join(target, todo[idx][0]) + TEMP_SUFFIX

        def open_temp(idx: int) -> int:
            """The file's temporary (created on first use, exclusive of any other restore)."""
            with locks[idx % 64]:
                tmp = temp_of(idx)
                if status[idx] == 0:
                    if os.path.lexists(tmp):
                        os.unlink(tmp)  # left over by an interrupted restore
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                    status[idx] = 1
                    return fd
                return os.open(tmp, os.O_WRONLY | os.O_NOFOLLOW)

        def install(idx: int) -> None:
            entry = todo[idx]
            tmp = temp_of(idx)
            _finish_file(tmp, entry)
            dest = os.path.join(target, entry[0])
            if not fresh and os.path.isdir(dest) and not os.path.islink(dest):
                _remove_if_needed(dest)  # a directory in the way (only with --overwrite)
            os.replace(tmp, dest)
            status[idx] = 2

        def do_pack(pack_id: str) -> None:
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled("restore cancelled")
            items = jobs[pack_id]
            lo = min(it[0][2] for it in items)
            hi = max(it[0][2] + it[0][3] for it in items)
            data = store.get(store.pack_key(pack_id), f"bytes={lo}-{hi - 1}")
            with _WRITERS:
                write_pack(pack_id, items, lo, data)

        def write_pack(pack_id: str, items: list[Any], lo: int, data: bytes) -> None:
            if len(data) != hi_of(items) - lo:
                raise CorruptBackup(f"pack {pack_id} is shorter than the manifest says")
            view = memoryview(data)
            cache: dict[str, Any] = {}
            for ref, idx, off in items:
                blob = cache.get(ref[0])
                if blob is None:
                    piece: bytes | memoryview = view[ref[2] - lo : ref[2] - lo + ref[3]]
                    if ref[3] < ref[4]:
                        try:
                            piece = decompress(piece, ref[4])
                        except ValueError as exc:
                            raise CorruptBackup(
                                f"blob {ref[0][:12]} in pack {pack_id}: {exc}"
                            ) from exc
                    if len(piece) != ref[4] or hashlib.sha256(piece).hexdigest() != ref[0]:
                        raise CorruptBackup(
                            f"checksum mismatch for {todo[idx][0]!r} (blob {ref[0][:12]}, pack "
                            f"{pack_id}): the backup is damaged"
                        )
                    blob = piece
                    if len(items) > 1:
                        cache[ref[0]] = blob
                entry = todo[idx]
                if len(entry[7]) == 1:
                    fd = open_temp(idx)
                    try:
                        _write_all(fd, blob, 0)
                    finally:
                        os.close(fd)
                    install(idx)
                    progress.add(1, len(blob))
                    continue
                fd = open_temp(idx)
                try:
                    _write_all(fd, blob, off)
                finally:
                    os.close(fd)
                with locks[idx % 64]:
                    remaining[idx] -= 1
                    done = remaining[idx] == 0
                progress.add(0, len(blob))
                if done:
                    install(idx)
                    progress.add(1, 0)

        batch = _Batch(status, temp_of)
        self.inflight.append(batch)
        try:
            for idx, entry in enumerate(todo):
                if not entry[7]:  # empty file: no blobs
                    os.close(open_temp(idx))
                    install(idx)
                    progress.add(1, 0)
            batch.futures = [self.pool.submit(do_pack, p) for p in list(jobs)]
        except BaseException as exc:
            self._fail(exc)
        while len(self.inflight) > PIPELINE_WINDOWS:
            self._wait_oldest()

    def finish(self) -> None:
        """Wait for every window; on the first error, clean up and raise it."""
        while self.inflight:
            self._wait_oldest()

    def _wait_oldest(self) -> None:
        batch = self.inflight[0]
        for fut in batch.futures:
            exc = fut.exception()
            if exc is not None:
                self._fail(exc)
        self.inflight.popleft()

    def _fail(self, exc: BaseException) -> None:
        """Stop every window in flight, remove their temporaries, raise ``exc`` (mapped)."""
        if self.cancel is None:
            self.cancel = threading.Event()
        self.cancel.set()
        removed = 0
        while self.inflight:
            batch = self.inflight.popleft()
            for fut in batch.futures:
                fut.exception()  # wait: a writer must not recreate what is removed next
            removed += _cleanup_temps(batch.status, batch.temp_of)
        target = self.target
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(
                f"disk full while restoring into {target}: {removed} partial file(s) "
                "removed; free space and run the restore again (completed files are kept "
                "and skipped)"
            ) from exc
        if isinstance(exc, OSError):
            raise BadInput(f"cannot write into {target}: {exc}") from exc
        raise exc


class _Batch:
    """One window in flight: its pack jobs and the state of its files' temporaries."""

    __slots__ = ("futures", "status", "temp_of")

    def __init__(self, status: bytearray, temp_of: Any) -> None:
        self.status, self.temp_of = status, temp_of
        self.futures: list[Future[None]] = []


def hi_of(items: list[Any]) -> int:
    return max(it[0][2] + it[0][3] for it in items)


def _write_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def _cleanup_temps(status: bytearray, temp_of: Any) -> int:
    """Remove the temporaries of files not completed (never a file the restore did not write)."""
    removed = 0
    for idx, done in enumerate(status):
        if done == 1:
            try:
                os.unlink(temp_of(idx))
                removed += 1
            except OSError:
                pass
    return removed


def _finish_file(dest: str, entry: list[Any]) -> None:
    mode = entry[2]
    if _AS_ROOT:  # never hand out setuid/setgid programs when restoring as root
        mode &= ~0o6000
    os.chmod(dest, mode)
    os.utime(dest, ns=(entry[3], entry[3]))


def _remove_if_needed(dest: str) -> None:
    """Make room for a file: remove whatever is in the way (read-only files included)."""
    if os.path.islink(dest) or os.path.isfile(dest):
        os.unlink(dest)
    elif os.path.isdir(dest):
        import shutil

        shutil.rmtree(dest)


def _make_dir(dest: str, overwrite: bool) -> None:
    if os.path.islink(dest) or (os.path.lexists(dest) and not os.path.isdir(dest)):
        if not overwrite:
            raise Conflict(f"{dest} exists and is not a directory; pass --overwrite")
        os.unlink(dest)
    os.makedirs(dest, exist_ok=True)
    try:
        os.chmod(dest, 0o700 | (os.stat(dest).st_mode & 0o7777))
    except OSError:
        pass
