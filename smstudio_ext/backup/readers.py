"""Phase 2 of a backup run: read the files that changed, into blobs, in manifest order.

The merge (phase 1) wrote a plan: ``=`` + a finished line, or ``?`` + ``[path, size, refs of
the parent]`` for a file to read. Files are read by a thread pool in batches (hashing,
compression and pyfastcdc release the GIL) and their lines written in plan order, with a
bounded window of lines waiting for reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import stat
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO, Callable

from . import manifest as mf
from .chunker import Spec, chunks
from .manifest import Entry, Ref
from .packer import Packer
from .repo import Cancelled, Progress
from .scan import ScanReport

log = logging.getLogger("smstudio_ext.backup")

CHUNK_THRESHOLD = 2 * 1024 * 1024  # files this large are cut into content-defined chunks
WINDOW = 4096  # manifest lines buffered while files are read
BATCH_FILES = 48
BATCH_BYTES = 2 * 1024 * 1024
_BIG_FILES = threading.BoundedSemaphore(2)  # each holds 2 x max_size of buffers


class FileReader:
    """Reads one file into blobs: whole when small, in content-defined chunks when large.

    ``racy_after``: files whose ctime is this recent get ctime 0 in their entry, so the next
    run reads them again (see ``BackupRun``). Thread-safe (the packer is).
    """

    def __init__(
        self, packer: Packer, progress: Progress, racy_after: int | None, chunker: Spec
    ) -> None:
        self.packer, self.progress = packer, progress
        self.racy_after, self.chunker = racy_after, chunker

    def read(self, abspath: str, rel: str, prev: list[Ref] | None) -> tuple[Entry | None, str]:
        """(entry, problem); no entry when the file could not be read. A file that changes
        while read is read again (twice at most) and then kept as last read, with a problem."""
        entry: Entry | None = None
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
                with os.fdopen(fd, "rb", buffering=0, closefd=False) as fh:
                    refs, size = self._blobs(fh, st1.st_size, rel, prev)
                st2 = os.fstat(fd)
            except OSError as exc:
                return None, f"read error: {exc.strerror or exc}"
            finally:
                os.close(fd)
            self.progress.add(1, size)
            entry = Entry.of(rel, "f", st2, refs)._replace(size=size)
            if self.racy_after is not None and st2.st_ctime_ns >= self.racy_after:
                entry = entry._replace(ctime_ns=0)  # racy: a same-size rewrite would hide
            if st1.st_mtime_ns == st2.st_mtime_ns and st1.st_size == st2.st_size == size:
                return entry, ""
        return entry, "changed while being read; stored the last version read"

    def _blobs(
        self, fh: BinaryIO, size_hint: int, rel: str, prev: list[Ref] | None
    ) -> tuple[list[Ref], int]:
        packer = self.packer
        if size_hint < CHUNK_THRESHOLD:
            data = fh.readall()  # type: ignore[attr-defined]
            if not data:  # an empty file has no blobs
                return [], 0
            if len(data) < CHUNK_THRESHOLD:
                return [packer.add(data, rel)], len(data)
            fh = io.BytesIO(data)  # grew a lot while we read it: chunk what we have
            prev = None
        # Cut points depend only on the bytes since the previous cut, so the parent's chunks
        # that still match (SHA-256 only, no chunker pass) keep their place; chunking
        # resumes at the first one that differs. They are kept whichever chunker cut them
        # (an old snapshot's chunks are stored already: the cheapest possible prefix).
        refs, size = reuse_prefix(fh, prev)
        with _BIG_FILES:
            for piece in chunks(fh, self.chunker):
                size += len(piece)
                refs.append(packer.add(piece, rel))
        return refs, size


def reuse_prefix(fh: BinaryIO, prev: list[Ref] | None) -> tuple[list[Ref], int]:
    """The parent's leading chunks found unchanged at the same offsets (all but its last);
    leaves ``fh`` just after them."""
    refs: list[Ref] = []
    offset = 0
    if not prev or len(prev) < 2:
        return refs, offset
    for ref in prev[:-1]:
        data = fh.read(ref.length)
        if len(data) != ref.length or hashlib.sha256(data).hexdigest() != ref.sha256:
            break
        refs.append(ref)
        offset += ref.length
    fh.seek(offset)
    return refs, offset


class _Batch:
    """Files read together by one pool task (small files in dozens, a large one alone)."""

    __slots__ = ("future", "rels", "size")

    def __init__(self) -> None:
        self.rels: list[tuple[str, list[Ref] | None]] = []
        self.size = 0
        self.future: Future[list[bytes | None]] | None = None


class ChangedFiles:
    """Reads the plan's files with a pool and writes every line to ``writer`` in order."""

    def __init__(
        self,
        source: str,
        reader: FileReader,
        report: ScanReport,
        concurrency: int,
        thread_init: Callable[[], None] | None,
    ) -> None:
        self.source, self.reader, self.report = source, reader, report
        self.concurrency, self.thread_init = concurrency, thread_init
        self.changed: list[dict[str, str]] = []  # files that changed while being read

    def _read_batch(self, rels: list[tuple[str, list[Ref] | None]]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for rel, prev in rels:
            entry, problem = self.reader.read(os.path.join(self.source, rel), rel, prev)
            line = None if entry is None else mf.encode_entry(entry)
            if line is not None and len(line) > mf.MAX_LINE:
                # a reader would refuse the snapshot (a file of ~600k chunks or more)
                entry, line = None, None
                problem = f"too large: more chunks than one manifest line holds ({mf.MAX_LINE} B)"
            if problem:
                if entry is None:
                    self.report.skip(rel, problem)
                    log.warning("smstudio backup: skipped %r: %s", rel, problem)
                elif len(self.changed) < 1000:  # the header reports 1,000 at most
                    self.changed.append({"path": rel, "problem": problem})
            out.append(line)
        return out

    def run(self, plan_path: str, writer: mf.EntryWriter, cancel: threading.Event) -> None:
        # Slots in manifest order: a raw line, or (batch, index) for a file being read.
        window: deque[Any] = deque()
        pool = ThreadPoolExecutor(
            max_workers=self.concurrency,
            thread_name_prefix="smstudio-read",
            initializer=self.thread_init,
        )
        batch = _Batch()

        def submit() -> None:
            nonlocal batch
            if batch.rels:
                batch.future = pool.submit(self._read_batch, batch.rels)
                batch = _Batch()

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
                    if cancel.is_set():
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
                    batch.rels.append((rel, [Ref(*r) for r in prev] if prev else None))
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
