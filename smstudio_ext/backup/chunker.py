"""Content-defined chunking: FastCDC 2020 (gear hash, normalized chunking) on any data.

Large files are split where the content says, so an insertion or an append changes the chunk
around it and leaves the others (and their stored blobs) as they were. The cut test is FastCDC
2020's (Xia et al., "The Design of Fast Content-Defined Chunking for Data Deduplication Based
Storage Systems", IEEE TPDS 2020): a 64-bit gear hash ``h = (h << 1) + GEAR[byte]`` that
restarts ``min_size`` bytes after each cut; a cut falls where ``h & mask == 0``, with a harder
mask (more bits) before ``avg_size`` and an easier one after it (normalized chunking), and at
``max_size`` if nothing matched. Every byte moves 64 random bits through the hash, so text with
a small alphabet (CSV, source, JSON lines, logs) cuts as often as random bytes do.

Two implementations, the same cut points (``tests/test_backup_chunker.py`` checks it on text,
CSV, JSON, zeros, compressed and random data, with short reads):

* ``pyfastcdc`` (PyPI, MIT; a Cython port of fastcdc-rs's v2020 module with wheels for
  CPython 3.9-3.13 on manylinux x86_64 and aarch64) when it imports with its compiled module:
  1-2.5 GB/s here, and it releases the GIL, so the read threads chunk in parallel.
* ``cut_python``: the same loop in Python, ~10-20 MB/s, used only where pyfastcdc is not
  installed (an offline install of our wheel alone), so a backup still works and still
  deduplicates against snapshots made with pyfastcdc.

The gear table is the FastCDC reference's (destor's): the first 8 bytes, big-endian, of the
MD5 digest of 64 copies of the byte value; the masks are the ones fastcdc-rs and pyfastcdc use
for the chosen average (spread bits, none above bit 47). ``Spec`` holds every parameter, and its
``identity()`` is recorded in each snapshot header (``chunker``); snapshots without one were
cut by the first chunker (``LEGACY``), whose blobs restore and deduplicate like any other.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

_M64 = (1 << 64) - 1

# GEAR[b]: 64 random-looking bits per byte value, derived as the FastCDC reference does.
GEAR: tuple[int, ...] = tuple(
    int.from_bytes(hashlib.md5(bytes([b]) * 64).digest()[:8], "big") for b in range(256)
)


@dataclass(frozen=True)
class Spec:
    """A FastCDC 2020 chunker's parameters: together they decide every cut point."""

    min_size: int
    avg_size: int
    max_size: int
    normalization: int  # NC of the paper: mask_s has bits + NC bits set, mask_l bits - NC
    mask_s: int  # before avg_size: a cut is rarer
    mask_l: int  # from avg_size on: a cut is likelier

    def identity(self) -> dict[str, Any]:
        """What a snapshot header records (``chunker``)."""
        return {
            "name": "fastcdc2020",
            "gear": "md5x64",
            "min_size": self.min_size,
            "avg_size": self.avg_size,
            "max_size": self.max_size,
            "normalization": self.normalization,
            "mask_s": f"{self.mask_s:#018x}",
            "mask_l": f"{self.mask_l:#018x}",
        }


# 256 KiB - 1 MiB - 4 MiB, NC 2. Chunks average ~1.2 MB on random data, text and CSV (the
# ``avg_size`` target plus the skipped ``min_size``, as the paper says) and stay within
# ~0.5-2.5 MB: an insertion into a text file re-uploads ~1.4 MB on average (one chunk, sometimes
# two). NC 2 rather than 1 narrows the spread (the largest chunk of 100 MB of source code:
# 2.2 MB against 4.2 MB), which is what an edit costs; 4 MiB bounds what data without cut points
# (zeros, repeated blocks) costs per edit and what a read thread buffers (2 x max_size).
FASTCDC = Spec(
    min_size=256 * 1024,
    avg_size=1024 * 1024,
    max_size=4 * 1024 * 1024,
    normalization=2,
    mask_s=0x0000_D937_6753_7000,  # 22 bits (2^20 average, NC 2)
    mask_l=0x0000_D907_0753_7000,  # 18 bits
)
CURRENT = FASTCDC

# The chunker of snapshots whose header has no ``chunker`` (before FastCDC): bytes mapped to
# three symbols, a cut where the last 10 spell a fixed word; 0.5-8 MiB. Nothing cuts with it
# any more: its snapshots restore from their blob references, unchanged files keep those
# references, and a changed file's leading chunks that still match are kept too.
LEGACY: dict[str, Any] = {"name": "sym3-window10", "min_size": 512 * 1024, "max_size": 8 << 20}


def cut_python(view: memoryview, spec: Spec) -> int:
    """Length of the first chunk of ``view`` (all of it is the first chunk when shorter than
    ``min_size``; ``view`` must hold ``max_size`` bytes unless it is the end of the data).

    The hash restarts at ``min_size`` rounded down to even and runs byte by byte; the boundary
    between the two masks, and the end, are rounded down to even too, as the reference
    implementation (two bytes per step) has them. A match at position ``i`` ends the chunk
    before that byte.
    """
    remaining = len(view)
    if remaining <= spec.min_size:
        return remaining
    center = spec.avg_size
    if remaining > spec.max_size:
        remaining = spec.max_size
    elif remaining < center:
        center = remaining
    start = spec.min_size & ~1
    mid = center & ~1
    end = remaining & ~1
    gear = GEAR
    h = 0
    pos = start
    mask = spec.mask_s
    for byte in view[start:mid]:
        h = ((h << 1) + gear[byte]) & _M64
        if not h & mask:
            return pos
        pos += 1
    mask = spec.mask_l
    for byte in view[max(mid, start) : end]:
        h = ((h << 1) + gear[byte]) & _M64
        if not h & mask:
            return pos
        pos += 1
    return remaining


@functools.cache
def _pyfastcdc() -> Any:
    """The pyfastcdc module if its compiled implementation imports, else None (its own
    pure-Python fallback is no faster than ``cut_python`` and warns on import). Imported on
    first use: a no-change backup never needs it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pyfastcdc
    except ImportError:
        return None
    if ".py." in getattr(pyfastcdc.FastCDC, "__module__", ".py."):
        return None
    return pyfastcdc


def implementation() -> str:
    """``pyfastcdc`` or ``python``: what ``chunks`` uses here."""
    return "pyfastcdc" if _pyfastcdc() is not None else "python"


def cutter(spec: Spec = CURRENT, impl: str | None = None) -> Callable[[memoryview], int]:
    """The first-chunk function for ``spec``: pyfastcdc's when available (or asked for),
    ``cut_python`` otherwise. Both give the same lengths."""
    if (impl or implementation()) == "python":
        return functools.partial(cut_python, spec=spec)
    module = _pyfastcdc()
    if module is None:
        raise RuntimeError("pyfastcdc (compiled) is not installed")
    fast = module.FastCDC(
        spec.avg_size,
        min_size=spec.min_size,
        max_size=spec.max_size,
        normalized_chunking=spec.normalization,
    )

    def cut(view: memoryview) -> int:
        for chunk in fast.cut_buf(view):
            return int(chunk.length)
        return 0

    return cut


def chunks(fh: BinaryIO, spec: Spec = CURRENT, impl: str | None = None) -> Iterator[bytes]:
    """Split a stream into content-defined chunks (their concatenation is the stream).

    A chunk's end depends only on the ``max_size`` bytes from its start, so the buffer is
    refilled (short reads included) until it holds ``2 * max_size`` bytes or the stream ends
    before each cut is searched; how the stream is read never moves a cut point.
    """
    cut = cutter(spec, impl)
    cap = 2 * spec.max_size
    buf = bytearray(cap)
    view = memoryview(buf)
    readinto = getattr(fh, "readinto", None)
    start = end = 0
    eof = False
    try:
        while True:
            if not eof and end - start < spec.max_size:
                if start:
                    view[: end - start] = view[start:end]  # overlapping: memmove
                    end -= start
                    start = 0
                while end < cap:
                    if readinto is not None:
                        n = readinto(view[end:])
                    else:
                        block = fh.read(cap - end)
                        n = len(block)
                        view[end : end + n] = block
                    if not n:
                        eof = True
                        break
                    end += n
            if start == end:
                return
            n = cut(view[start:end])
            yield bytes(view[start : start + n])
            start += n
    finally:
        view.release()
