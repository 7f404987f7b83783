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
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import clock
from ..errors import BadInput, Conflict, NotFound, SmStudioError
from . import manifest as mf
from .backup import Cancelled, Progress, list_snapshot_ids
from .packer import decompress
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
    reader = mf.SnapshotReader(store.get(store.snapshot_key(snap_id)))
    dirs: list[list[Any]] = []
    files: list[list[Any]] = []
    links: list[list[Any]] = []
    with reader:
        for entry in reader.entries():
            if not _selected(entry[0], selections):
                continue
            if entry[1] == "d":
                if selections and not any(
                    entry[0] == s or entry[0].startswith(s + "/") for s in selections
                ):
                    continue  # a parent of a selection: created, metadata not restored
                dirs.append(entry)
            elif entry[1] == "f":
                files.append(entry)
            else:
                links.append(entry)
    if selections and not (dirs or files or links):
        raise NotFound(f"none of {selections} is in snapshot {snap_id}")

    if links:  # a link must not be the parent of another entry (writes through the link)
        link_paths = {e[0] for e in links}
        for entry in (*dirs, *files, *links):
            parent = entry[0].rsplit("/", 1)[0] if "/" in entry[0] else ""
            while parent:
                if parent in link_paths:
                    raise BadInput(
                        f"hostile manifest: {entry[0]!r} lies under the symlink {parent!r}"
                    )
                parent = parent.rsplit("/", 1)[0] if "/" in parent else ""
    fresh = not os.path.exists(target) or not os.listdir(target)
    os.makedirs(target, exist_ok=True)
    real_target = os.path.realpath(target)
    safe_dirs: dict[str, bool] = {}

    def check_parent(rel: str) -> str:
        parent = os.path.dirname(os.path.join(target, rel))
        ok = safe_dirs.get(parent)
        if ok is None:
            real = os.path.realpath(parent)
            ok = real == real_target or real.startswith(real_target + os.sep)
            safe_dirs[parent] = ok
        if not ok:
            raise BadInput(f"hostile manifest: {rel!r} would be written outside {target}")
        return os.path.join(target, rel)

    # -- pass 1: conflicts (nothing written yet) and what is already there (resume)
    todo: list[list[Any]] = []
    conflicts = 0
    for entry in files:
        if fresh:  # nothing there yet: no conflicts, nothing to resume
            todo.append(entry)
            continue
        dest = os.path.join(target, entry[0])
        try:
            st = os.lstat(dest)
        except FileNotFoundError:
            todo.append(entry)
            continue
        except NotADirectoryError:
            st = None
        if st is not None and (
            os.path.isfile(dest)
            and not os.path.islink(dest)
            and st.st_size == entry[4]
            and st.st_mtime_ns == entry[3]
        ):
            continue  # already restored (resume) or identical
        if not overwrite:
            conflicts += 1
            continue
        todo.append(entry)
    existing_dirs: set[str] = set()  # left as they are without --overwrite
    if not fresh:
        for entry in dirs:
            dest = os.path.join(target, entry[0])
            if os.path.isdir(dest) and not os.path.islink(dest):
                existing_dirs.add(dest)
            elif os.path.lexists(dest) and not overwrite:
                conflicts += 1
        for entry in links:
            dest = os.path.join(target, entry[0])
            if os.path.lexists(dest) and not overwrite:
                try:
                    same = os.path.islink(dest) and os.readlink(dest) == entry[7]
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

    progress.phase = "restore"
    progress.files_total = len(todo)
    progress.bytes_total = sum(e[4] for e in todo)
    for entry in dirs:
        dest = check_parent(entry[0])
        if dest not in existing_dirs:
            _make_dir(dest, overwrite)
    made = {os.path.join(target, e[0]) for e in dirs}
    made.add(target)
    for entry in todo:
        d = os.path.dirname(os.path.join(target, entry[0]))
        if d not in made:
            if not os.path.isdir(d):
                os.makedirs(d, exist_ok=True)
            made.add(d)
        check_parent(entry[0])

    # -- pass 2: packs → files. Each file is written under a temporary name next to it and
    # renamed over the destination only once complete (mode and mtime set): a failed or
    # interrupted restore never deletes or truncates a file it has not fully replaced.
    status = bytearray(len(todo))  # 0 pending, 1 temp file exists, 2 complete
    remaining = [len(e[7]) for e in todo]
    locks = [threading.Lock() for _ in range(64)]
    jobs: dict[str, list[tuple[list[Any], int, int]]] = defaultdict(list)
    for idx, entry in enumerate(todo):
        if not entry[7]:
            continue
        offset = 0
        if any(ref[4] == 0 for ref in entry[7]):
            raise BadInput(f"corrupt manifest entry for {entry[0]!r}: empty blob")
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

    try:
        for idx, entry in enumerate(todo):
            if not entry[7]:  # empty file: no blobs
                os.close(open_temp(idx))
                install(idx)
                progress.add(1, 0)
    except BaseException:
        _cleanup_temps(status, temp_of)
        raise

    def do_pack(pack_id: str) -> None:
        if cancel is not None and cancel.is_set():
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
                        raise CorruptBackup(f"blob {ref[0][:12]} in pack {pack_id}: {exc}") from exc
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

    try:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="smstudio-restore") as pool:
            futures = [pool.submit(do_pack, p) for p in list(jobs)]
            first_error: BaseException | None = None
            for fut in futures:
                exc = fut.exception()
                if exc is not None and first_error is None:
                    first_error = exc
                    if cancel is None:
                        cancel = threading.Event()
                    cancel.set()
            if first_error is not None:
                raise first_error
    except BaseException as exc:
        removed = _cleanup_temps(status, temp_of)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(
                f"disk full while restoring into {target}: {removed} partial file(s) removed; "
                "free space and run the restore again (completed files are kept and skipped)"
            ) from exc
        if isinstance(exc, OSError):
            raise BadInput(f"cannot write into {target}: {exc}") from exc
        raise

    # -- pass 3: links, then directory metadata (deepest first)
    touched = {os.path.dirname(os.path.join(target, e[0])) for e in (*todo, *links)}
    for entry in links:
        dest = check_parent(entry[0])
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
    for entry in sorted(dirs, key=lambda e: e[0].count("/"), reverse=True):
        dest = os.path.join(target, entry[0])
        if dest in existing_dirs and not overwrite:
            # A directory that was there: its mode is the user's. Its mtime is reset only if
            # this run wrote into it (a resumed restore), as our writes changed it anyway.
            if dest in touched:
                os.utime(dest, ns=(entry[3], entry[3]))
            continue
        os.chmod(dest, entry[2])
        os.utime(dest, ns=(entry[3], entry[3]))
    progress.phase = "done"
    return {
        "restored": True,
        "snapshot_id": snap_id,
        "target": target,
        "files": len(files),
        "files_written": len(todo),
        "dirs": len(dirs),
        "links": len(links),
        "bytes_written": progress.bytes_done,
        "seconds": round(time.monotonic() - t0, 3),
        "finished": clock.isoformat_z(clock.utcnow()),
        "requests": dict(store.requests),
    }


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
