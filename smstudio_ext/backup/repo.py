"""The repository as every operation sees it: where it is, its snapshots, downloads, progress.

Backup, restore, check and prune all stand on these (none imports another's module for them):
the location (``s3://BUCKET/PREFIX/<domain-id>/<profile-or-space>/``), snapshot ids (sortable by
time, so the newest is the max), the ranged download of a snapshot object into a file, and the
``Progress`` counters the doors show.
"""

from __future__ import annotations

import getpass
import gzip
import os
import secrets
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

from .. import clock
from ..context import StudioContext, context_home_key
from ..errors import BadInput, NotFound, SmStudioError
from . import manifest as mf
from .manifest import Ref
from .packer import unpack_blob
from .store import Location, Store, parse_bucket_url, safe_segment

# Snapshot objects are downloaded in ranges of this size: memory bounded by one range, one
# GET for a snapshot of up to ~60k entries.
MANIFEST_CHUNK = 4 * 1024 * 1024


class Cancelled(SmStudioError):
    status = 409
    code = "cancelled"
    exit_code = 130


class CorruptBackup(SmStudioError):
    """Stored data does not match its checksum, or a pack a snapshot needs is gone."""

    status = 502
    code = "corrupt_backup"
    exit_code = 10


# Phases whose totals are known up front (an ETA makes sense): a backup's upload, a restore's
# writes, the data reads of ``backup check --read-data``.
_TIMED_PHASES = ("upload", "restore", "read data")


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
        eta = left / rate if rate > 0 and self.phase in _TIMED_PHASES else None
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


def owner_path(context: StudioContext) -> str:
    """In Studio ``context_home_key``: ``<domain>/<profile>`` (Classic),
    ``<domain>/<owner profile>/spaces/<space>`` (a private space), ``<domain>/_shared/<space>``
    (a shared space) — so a policy on ``${aws:SourceIdentity}`` confines each user (docs/
    backup.md); ``local/<user>@<host>`` elsewhere."""
    key = context_home_key(context)
    if key:
        return "/".join(safe_segment(part) for part in key)
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return f"local/{safe_segment(user)}@{safe_segment(socket.gethostname())}"


def location(bucket_url: str, context: StudioContext) -> Location:
    """The repository of this user (or space) under ``s3://BUCKET[/PREFIX]``."""
    bucket, prefix = parse_bucket_url(bucket_url)
    root = "/".join(p for p in (prefix, owner_path(context)) if p) + "/"
    return Location(bucket, root)


def new_snapshot_id(after: str | None = None) -> str:
    """Sortable by time (microseconds) and always after the parent, so "latest" is the max."""
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


def resolve_snapshot(store: Store, snapshot: str | None) -> str:
    """A snapshot id from an id, a unique id prefix, or ``latest``; ``NotFound`` when nothing
    matches, ``BadInput`` when a prefix matches several."""
    ids = list_snapshot_ids(store)
    if snapshot in ("latest", "", None):
        if not ids:
            raise NotFound(f"no snapshots in {store.loc.url}")
        return ids[-1]
    assert snapshot is not None
    if snapshot not in ids:
        matches = [i for i in ids if i.startswith(snapshot)]
        if len(matches) > 1:
            # bad input rather than "not found": the user can fix it by typing more of the id
            shown = ", ".join(matches[:3]) + (
                f" and {len(matches) - 3} more" if len(matches) > 3 else ""
            )
            raise BadInput(f"snapshot prefix {snapshot!r} is ambiguous: it matches {shown}")
        if not matches:
            raise NotFound(f"snapshot {snapshot!r} not found in {store.loc.url}")
        return matches[0]
    return snapshot


def download_to(store: Store, key: str, fh: IO[bytes]) -> int:
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
            # e.g. an empty object (a range of it is refused); never more than one range
            data = store.get(key, limit=chunk)
            fh.write(data)
            return len(data)
        if len(data) > chunk:
            fh.write(memoryview(data)[:chunk])
            off += chunk
            continue
        fh.write(data)
        return off + len(data)


# Manifest pieces fetched at once (ranged GETs of neighbouring pieces of one pack, in order).
PIECE_FETCHES = 8
_SPAN_GAP = 256 * 1024  # neighbours this close in one pack share a GET
# The most one ranged GET of a pack asks for (restore, check, manifest pieces): a pack is
# ~8 MiB plus its last blob, so one GET still fetches a whole pack; a manifest that spreads
# references over a huge object costs more GETs, never more memory.
SPAN_MAX = 16 << 20
# A snapshot header (the first gzip member) larger than this is corrupt: it holds the stats,
# a report of at most 1,000 skipped and 1,000 changed files, and one reference per ~256
# entries.
HEADER_MAX = 64 << 20


def pack_spans(
    items: list[Any], offset: Any, end: Any, max_span: int | None = None
) -> list[list[Any]]:
    """``items`` (blob references into one pack) sorted by offset and grouped into runs that
    one ranged GET of at most ``max_span`` bytes covers (a single blob longer than that is a
    run of its own: the format bounds blobs to ``MAX_BLOB``)."""
    max_span = SPAN_MAX if max_span is None else max_span
    runs: list[list[Any]] = []
    lo = 0
    for item in sorted(items, key=offset):
        if runs and end(item) - lo <= max_span:
            runs[-1].append(item)
            continue
        runs.append([item])
        lo = offset(item)
    return runs


def snapshot_header(store: Store, snap_id: str) -> dict[str, Any]:
    """A snapshot's header from the first bytes of its object (a format 1 object's body is
    not downloaded); ``BadInput`` when corrupt, ``NotFound`` when gone."""
    key = store.snapshot_key(snap_id)
    try:
        return mf.read_header(store.get(key, "bytes=0-65535"))
    except BadInput:
        # a header member longer than 64 KiB (or a server that refused the range)
        return mf.read_header(store.get(key, f"bytes=0-{HEADER_MAX - 1}"))


def fetch_snapshot(store: Store, snap_id: str, fh: IO[bytes]) -> dict[str, Any]:
    """The snapshot as a local file in ``fh`` (header member + body member, whatever its
    format: readers see one layout); returns its header. A format 2 object holds only the
    header: its entries are fetched from the manifest pieces, each checked against its
    SHA-256. ``NotFound`` only when the snapshot object itself is gone; a missing or damaged
    piece is ``CorruptBackup``."""
    start = fh.tell()
    size = download_to(store, store.snapshot_key(snap_id), fh)
    fh.seek(start)
    header, header_size = _read_first_member(fh)
    refs = mf.manifest_refs(header)
    fh.seek(start + size)
    if refs is None:
        return header  # format 1: the body follows in the object
    if header_size != size:
        raise BadInput(f"corrupt snapshot {snap_id}: data after a format 2 header")
    with gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=1, mtime=0) as body:
        for piece in _pieces(store, refs, snap_id):
            body.write(piece)
    return header


def _read_first_member(fh: IO[bytes]) -> tuple[dict[str, Any], int]:
    """(header, bytes of the first gzip member) of a snapshot object in ``fh``."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    size = consumed = 0
    try:
        while not d.eof:
            block = d.unconsumed_tail or fh.read(64 * 1024)
            if not block:
                raise BadInput("corrupt snapshot: truncated header")
            if not d.unconsumed_tail:
                consumed += len(block)
            # bounded output: a few KB of gzip must not inflate to GBs before the check
            part = d.decompress(block, HEADER_MAX + 1 - size)
            parts.append(part)
            size += len(part)
            if size > HEADER_MAX:
                raise BadInput("corrupt snapshot: header too large")
    except zlib.error as exc:
        raise BadInput(f"corrupt snapshot header: {exc}") from exc
    text = b"".join(parts)
    return mf.parse_header(text.split(b"\n", 1)[0]), consumed - len(d.unused_data)


def _spans(refs: list[Ref]) -> Iterator[list[Ref]]:
    """Consecutive refs of one pack close to each other: one ranged GET each (of at most
    ``SPAN_MAX`` bytes)."""
    span: list[Ref] = []
    for ref in refs:
        if span:
            last = span[-1]
            end = last.offset + last.stored
            if (
                ref.pack != last.pack
                or not end <= ref.offset <= end + _SPAN_GAP
                or ref.offset + ref.stored - span[0].offset > SPAN_MAX
            ):
                yield span
                span = []
        span.append(ref)
    if span:
        yield span


def _fetch_span(store: Store, span: list[Ref]) -> list[bytes]:
    lo = span[0].offset
    hi = span[-1].offset + span[-1].stored
    try:
        data = memoryview(store.get(store.pack_key(span[0].pack), f"bytes={lo}-{hi - 1}"))
    except NotFound as exc:
        raise CorruptBackup(f"manifest pack {span[0].pack} is missing: {exc.message}") from exc
    out = []
    for ref in span:
        try:
            piece = unpack_blob(data, lo, ref.offset, ref.stored, ref.length, ref.sha256)
        except ValueError as exc:  # not decodable, or not this blob ("checksum mismatch")
            raise CorruptBackup(
                f"manifest blob {ref.sha256[:12]} in pack {ref.pack}: {exc}"
            ) from exc
        out.append(bytes(piece))
    return out


def _pieces(store: Store, refs: list[Ref], snap_id: str) -> Iterator[bytes]:
    """The pieces in order, fetched ``PIECE_FETCHES`` spans at a time."""
    spans = _spans(refs)
    window: deque[Future[list[bytes]]] = deque()
    with ThreadPoolExecutor(PIECE_FETCHES, thread_name_prefix="smstudio-manifest") as pool:
        try:
            for span in spans:
                window.append(pool.submit(_fetch_span, store, span))
                if len(window) >= PIECE_FETCHES:
                    yield from window.popleft().result()
            while window:
                yield from window.popleft().result()
        except CorruptBackup as exc:
            raise CorruptBackup(f"snapshot {snap_id}: {exc.message}") from exc
        finally:
            for fut in window:
                fut.cancel()
