"""Writing a restore's files: one ranged GET per pack per window, each blob decoded no further
than its recorded length and verified before ``pwrite`` at its offset, every file written under
a temporary name in a private directory and renamed over its destination only once complete
(mode and mtime set), so a failed or interrupted restore never deletes or truncates a file it
has not fully replaced; disk full removes what was not completed. ``restore.py`` decides what
to write; this module writes it."""

from __future__ import annotations

import errno
import os
import threading
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, Conflict, SmStudioError
from .manifest import Entry, Ref
from .packer import BlobMismatch, unpack_blob
from .repo import (
    Cancelled,
    CorruptBackup,
    Progress,
    pack_spans,
)
from .store import Store

if TYPE_CHECKING:
    from .restore import RestoreOptions

# Verify-and-write threads: few, so per-file syscalls do not convoy on the GIL; the
# downloads around them run in parallel.
_WRITERS = threading.BoundedSemaphore(2)

# Windows left downloading and writing while the next one is built. None: parsing the next
# window while one is written makes the writers' many short syscalls convoy on the GIL behind
# the parsing thread (measured 30 % slower on 100k tiny files). A window's packs are still
# fetched in parallel.
PIPELINE_WINDOWS = 0


class DiskFull(SmStudioError):
    status = 507
    code = "disk_full"
    exit_code = 9


class FileWriter:
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
        options: RestoreOptions,
        mode_mask: int = 0o7777,
    ) -> None:
        self.store, self.target, self.fresh = store, target, fresh
        self.progress, self.cancel, self.mode_mask = progress, options.cancel, mode_mask
        self.pool = ThreadPoolExecutor(options.concurrency, thread_name_prefix="smstudio-restore")
        self.locks = [threading.Lock() for _ in range(64)]
        self.inflight: deque[_Batch] = deque()
        self.seq = 0  # temporaries are numbered: names in a private directory, never entries

    def close(self) -> None:
        """Stop (after an error elsewhere: the temporaries of windows in flight are removed)."""
        try:
            if self.inflight:
                self._fail(Cancelled("restore stopped"))
        except Cancelled:
            pass
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def write(self, todo: list[Entry], temps: list[str]) -> None:
        """Write a window (its empty files at once, its packs in parallel; ``temps``: each
        file's private temporary directory); returns once at most ``PIPELINE_WINDOWS``
        windows are still in flight; raises the first error."""
        target, fresh, progress, locks = self.target, self.fresh, self.progress, self.locks
        store, mode_mask = self.store, self.mode_mask
        status = bytearray(len(todo))  # 0 pending, 1 temp file exists, 2 complete
        remaining = [len(e.data) for e in todo]
        jobs: dict[str, list[tuple[Ref, int, int]]] = defaultdict(list)
        for idx, entry in enumerate(todo):
            offset = 0
            for ref in entry.data:
                jobs[ref.pack].append((ref, idx, offset))
                offset += ref.length
        first = self.seq
        self.seq += len(todo)

        def temp_of(idx: int) -> str:
            return os.path.join(temps[idx], str(first + idx))

        def open_temp(idx: int) -> int:
            """The file's temporary (created on first use, in a directory only we write)."""
            with locks[idx % 64]:
                tmp = temp_of(idx)
                if status[idx] == 0:
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                    status[idx] = 1
                    return fd
                return os.open(tmp, os.O_WRONLY | os.O_NOFOLLOW)

        def install(idx: int) -> None:
            entry = todo[idx]
            tmp = temp_of(idx)
            _finish_file(tmp, entry, mode_mask)
            dest = os.path.join(target, entry.path)
            if not fresh and os.path.isdir(dest) and not os.path.islink(dest):
                remove_if_needed(dest)  # a directory in the way (only with --overwrite)
            os.replace(tmp, dest)
            status[idx] = 2

        def do_span(pack_id: str, items: list[tuple[Ref, int, int]]) -> None:
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled("restore cancelled")
            lo = min(it[0].offset for it in items)
            hi = hi_of(items)
            data = store.get(store.pack_key(pack_id), f"bytes={lo}-{hi - 1}")
            with _WRITERS:
                write_pack(pack_id, items, lo, data)

        def write_pack(
            pack_id: str, items: list[tuple[Ref, int, int]], lo: int, data: bytes
        ) -> None:
            if len(data) != hi_of(items) - lo:
                raise CorruptBackup(f"pack {pack_id} is shorter than the manifest says")
            view = memoryview(data)
            cache: dict[str, Any] = {}
            for ref, idx, off in items:
                blob = cache.get(ref.sha256)
                if blob is None:
                    try:
                        blob = unpack_blob(view, lo, ref.offset, ref.stored, ref.length, ref.sha256)
                    except BlobMismatch as exc:
                        raise CorruptBackup(
                            f"checksum mismatch for {todo[idx].path!r} (blob {ref.sha256[:12]}, "
                            f"pack {pack_id}): the backup is damaged"
                        ) from exc
                    except ValueError as exc:
                        raise CorruptBackup(
                            f"blob {ref.sha256[:12]} in pack {pack_id}: {exc}"
                        ) from exc
                    if len(items) > 1:
                        cache[ref.sha256] = blob
                entry = todo[idx]
                if len(entry.data) == 1:
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
                if not entry.data:  # empty file: no blobs
                    os.close(open_temp(idx))
                    install(idx)
                    progress.add(1, 0)
            # one ranged GET per pack, split where a span would exceed SPAN_MAX bytes
            batch.futures = [
                self.pool.submit(do_span, pack_id, span)
                for pack_id, items in jobs.items()
                for span in pack_spans(items, _span_start, _span_end)
            ]
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


def hi_of(items: list[tuple[Ref, int, int]]) -> int:
    return max(it[0].offset + it[0].stored for it in items)


def _span_start(item: tuple[Ref, int, int]) -> int:
    return item[0].offset


def _span_end(item: tuple[Ref, int, int]) -> int:
    return item[0].offset + item[0].stored


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


def _finish_file(dest: str, entry: Entry, mode_mask: int) -> None:
    # as root, setuid/setgid bits are not restored unless asked for (``mode_mask``)
    os.chmod(dest, entry.mode & mode_mask)
    os.utime(dest, ns=(entry.mtime_ns, entry.mtime_ns))


def remove_if_needed(dest: str) -> None:
    """Make room for a file: remove whatever is in the way (read-only files included)."""
    if os.path.islink(dest) or os.path.isfile(dest):
        os.unlink(dest)
    elif os.path.isdir(dest):
        import shutil

        shutil.rmtree(dest)


def make_dir(dest: str, overwrite: bool) -> None:
    if os.path.islink(dest) or (os.path.lexists(dest) and not os.path.isdir(dest)):
        if not overwrite:
            raise Conflict(f"{dest} exists and is not a directory; pass --overwrite")
        os.unlink(dest)
    os.makedirs(dest, exist_ok=True)
    try:
        os.chmod(dest, 0o700 | (os.stat(dest).st_mode & 0o7777))
    except OSError:
        pass
