"""Blobs into pack objects of several MB, uploaded by a bounded thread pool; dedup by SHA-256.

A blob is a whole small file or one chunk of a large file, identified by the SHA-256 of its
bytes. Already-stored blobs (from the parent snapshot, or earlier in this run) are never
uploaded again: renamed and duplicate files cost nothing. Blobs that compress (judged on a
sample, and not of a known-compressed type) are stored compressed.

Compression is Zstandard level 1 (the ``zstandard`` wheel, or ``compression.zstd`` on Python
3.14+): 5-10x faster than zlib level 1 on notebooks, CSV and source code, and smaller. zlib
level 1 is the fallback where neither is importable. A stored blob says what it is by its first
bytes (a zstd frame starts ``28 b5 2f fd``, a zlib stream ``78``), so snapshots written either
way restore anywhere zstd can be decoded.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from ..errors import NotConfigured
from .blobindex import BlobIndex
from .manifest import MAX_BLOB, Ref
from .store import Store

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _zstd_codec() -> tuple[Callable[[bytes], bytes], Callable[[bytes, int], bytes]] | None:
    """(compress level 1, decompress at most ``size`` bytes) from whichever zstd is
    importable. The bound holds whatever the frame says about itself: a frame header can
    claim any content size, and zstandard's one-shot ``decompress`` allocates what it claims
    (``max_output_size`` bounds only frames that do not say), so a claim above ``size`` is
    refused before anything is allocated."""
    try:  # Python 3.14+
        from compression import zstd as std  # type: ignore[import-not-found]

        def std_decompress(data: bytes, size: int) -> bytes:
            # max_length bounds the output whatever the frame claims; one byte more than
            # size tells a longer stream (refused) from an exact one
            out = std.ZstdDecompressor().decompress(data, size + 1)
            if len(out) > size:
                raise ValueError(f"inflates beyond its recorded {size} bytes")
            return out  # type: ignore[no-any-return]

        return (lambda data: std.compress(data, 1)), std_decompress
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        return None
    local = threading.local()  # zstandard contexts are not thread-safe: one per thread

    def compress(data: bytes) -> bytes:
        ctx = getattr(local, "c", None)
        if ctx is None:
            ctx = local.c = zstandard.ZstdCompressor(level=1)
        return ctx.compress(data)  # type: ignore[no-any-return]

    def decompress(data: bytes, size: int) -> bytes:
        claimed = zstandard.frame_content_size(data)
        if claimed > size:  # -1: the frame does not say; max_output_size bounds it then
            raise ValueError(f"frame claims {claimed} bytes, its blob records {size}")
        ctx = getattr(local, "d", None)
        if ctx is None:
            ctx = local.d = zstandard.ZstdDecompressor()
        return ctx.decompress(data, max_output_size=size)  # type: ignore[no-any-return]

    return compress, decompress


_ZSTD = _zstd_codec()


def zstd_available() -> bool:
    return _ZSTD is not None


def _compress(data: bytes) -> bytes:
    return _ZSTD[0](data) if _ZSTD is not None else zlib.compress(data, 1)


class BlobMismatch(ValueError):
    """The bytes read are not the blob the reference names (length or SHA-256)."""


def unpack_blob(
    window: bytes | memoryview, start: int, offset: int, stored: int, length: int, sha256: str
) -> bytes | memoryview:
    """The blob stored at pack ``offset`` (``stored`` bytes) out of ``window``, a range read of
    its pack that begins at ``start``: inflated (never beyond ``length``) and verified. The one
    way restore, check and the manifest reader take a blob from a pack: ``ValueError`` when it
    does not decode, ``BlobMismatch`` (its message: "checksum mismatch") when it is not the
    blob; the caller names the blob and pack."""
    piece: bytes | memoryview = window[offset - start : offset - start + stored]
    if stored < length:
        piece = decompress(piece, length)
    if len(piece) != length or hashlib.sha256(piece).hexdigest() != sha256:
        raise BlobMismatch("checksum mismatch")
    return piece


def decompress(stored: bytes | memoryview, size: int) -> bytes:
    """A stored blob back to its ``size`` bytes, never more: ``size`` is at most the format's
    ``MAX_BLOB`` and the decoder stops there (a few KB can otherwise inflate to GBs).
    ``ValueError`` when it is not a valid stream or inflates beyond ``size`` (the caller says
    which blob); ``NotConfigured`` when it is zstd and no decoder exists."""
    if not 0 < size <= MAX_BLOB:
        raise ValueError(f"a blob of {size} bytes (the format allows {MAX_BLOB})")
    if bytes(stored[:4]) == ZSTD_MAGIC:
        if _ZSTD is None:
            raise NotConfigured(
                "this backup stores Zstandard-compressed data and no decoder is installed: "
                "pip install zstandard"
            )
        try:
            return _ZSTD[1](bytes(stored), size)
        except Exception as exc:  # zstd's own error types differ between the two modules
            raise ValueError(f"invalid zstd data: {exc}") from exc
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(stored, size + 1)  # one byte more tells "too long"
    except zlib.error as exc:
        raise ValueError(f"invalid zlib data: {exc}") from exc
    if len(out) > size:
        raise ValueError(f"invalid zlib data: inflates beyond its recorded {size} bytes")
    if not inflater.eof:
        raise ValueError("invalid zlib data: incomplete or truncated stream")
    return out


# Content that is already compressed: not worth a zlib attempt.
INCOMPRESSIBLE_SUFFIXES = (
    ".gz", ".tgz", ".bz2", ".xz", ".zst", ".zip", ".whl", ".conda", ".jar", ".7z", ".png",
    ".jpg", ".jpeg", ".gif", ".webp", ".mp4", ".mp3", ".pt", ".pth", ".ckpt", ".safetensors",
    ".npz", ".parquet", ".pkl", ".h5", ".so", ".pack", ".idx", ".pyc",
)  # fmt: skip
SAMPLE = 16 * 1024


def compressible(name: str) -> bool:
    return not name.lower().endswith(INCOMPRESSIBLE_SUFFIXES)


def maybe_compress(data: bytes) -> bytes | None:
    """Compressed when it saves at least 10 %, judged on a sample first."""
    if len(data) < 128:
        return None
    if len(data) > SAMPLE * 2:
        sample = data[:SAMPLE]
        if len(_compress(sample)) > 0.9 * len(sample):
            return None
    packed = _compress(data)
    return packed if len(packed) < 0.9 * len(data) else None


class Packer:
    """Thread-safe. ``add`` returns the blob's ``Ref`` (where it is stored)."""

    def __init__(
        self,
        store: Store | None,
        *,
        pack_size: int = 8 * 1024 * 1024,
        uploads: int = 4,
        compression: bool = True,
        thread_init: Callable[[], None] | None = None,
    ) -> None:
        """``thread_init`` runs first in each upload thread (a background run's priority)."""
        self.store = store
        self.pack_size = pack_size
        self.compression = compression
        self.codec = ("zstd" if _ZSTD is not None else "zlib") if compression else "off"
        self._lock = threading.Lock()
        # ~32 B per known blob (a dict of bytes -> int costs ~240 B of RSS per blob)
        self._known = BlobIndex()
        self._pack_ids: list[str] = []
        self._pack_idx: dict[str, int] = {}
        self._buf = bytearray()
        self._pack_id = secrets.token_hex(16)
        self._pool = ThreadPoolExecutor(
            max_workers=uploads, thread_name_prefix="smstudio-up", initializer=thread_init
        )
        self._slots = threading.BoundedSemaphore(uploads + 1)  # packs in memory at most
        self._futures: list[Future[None]] = []
        self.error: BaseException | None = None
        self.packs = 0
        self.bytes_up = 0
        self.blobs_new = 0
        self.blobs_dedup = 0

    # Known blobs: 16-byte digest prefix -> one 128-bit int (pack index, offset, stored, raw
    # length), kept in a BlobIndex (32 B a slot).
    def _pack_index(self, pack_id: str) -> int:
        idx = self._pack_idx.get(pack_id)
        if idx is None:
            idx = self._pack_idx[pack_id] = len(self._pack_ids)
            self._pack_ids.append(pack_id)
        return idx

    def _encode(self, pack_id: str, off: int, stored: int, raw: int) -> int:
        return self._pack_index(pack_id) << 96 | off << 64 | stored << 32 | raw

    def _decode(self, value: int) -> tuple[str, int, int, int]:
        mask = 0xFFFFFFFF
        return (
            self._pack_ids[value >> 96],
            (value >> 64) & mask,
            (value >> 32) & mask,
            value & mask,
        )

    def know(self, ref: Ref) -> None:
        """Register a blob stored by an earlier snapshot (dedup source)."""
        self._known[bytes.fromhex(ref.sha256)[:16]] = self._encode(
            ref.pack, ref.offset, ref.stored, ref.length
        )

    def know_raw(self, hexd: bytes, pack: bytes, off: bytes, stored: bytes, raw: bytes) -> None:
        """``know`` from regex groups of a manifest line (no JSON parse)."""
        self._known[bytes.fromhex(hexd[:32].decode())] = self._encode(
            pack.decode(), int(off), int(stored), int(raw)
        )

    def add(self, data: bytes, name: str = "") -> Ref:
        digest = hashlib.sha256(data).digest()
        key = digest[:16]
        hexd = digest.hex()
        hit = self._known.get(key)
        if hit is not None:
            self.blobs_dedup += 1
            return Ref(hexd, *self._decode(hit))
        stored = maybe_compress(data) if self.compression and compressible(name) else None
        body = data if stored is None else stored
        full = None
        with self._lock:
            hit = self._known.get(key)
            if hit is not None:
                self.blobs_dedup += 1
                return Ref(hexd, *self._decode(hit))
            if self.error is not None:
                raise self.error
            loc = (self._pack_id, len(self._buf), len(body), len(data))
            self._buf += body
            self._known[key] = self._encode(*loc)
            self.blobs_new += 1
            if len(self._buf) >= self.pack_size:
                full = (self._pack_id, self._buf)
                self._pack_id = secrets.token_hex(16)
                self._buf = bytearray()
        if full is not None:
            self._submit(*full)
        return Ref(hexd, *loc)

    def _submit(self, pack_id: str, buf: bytearray) -> None:
        self._slots.acquire()
        self.packs += 1
        self._futures.append(self._pool.submit(self._upload, pack_id, bytes(buf)))

    def _upload(self, pack_id: str, body: bytes) -> None:
        try:
            if self.store is not None:
                self.store.put(self.store.pack_key(pack_id), body)
            self.bytes_up += len(body)
        except BaseException as exc:
            with self._lock:
                if self.error is None:
                    self.error = exc
            raise
        finally:
            self._slots.release()

    def finish(self) -> None:
        """Upload the last partial pack and wait for every upload; re-raise the first error."""
        with self._lock:
            full = (self._pack_id, self._buf) if self._buf else None
            self._buf = bytearray()
        if full is not None and self.error is None:
            self._submit(*full)
        for fut in self._futures:
            fut.exception()
        self._pool.shutdown(wait=True)
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
