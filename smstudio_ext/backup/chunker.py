"""Content-defined chunking whose inner loop runs in C.

A byte-wise rolling hash in Python runs at 10-20 MB/s. Here every byte is first mapped to one
bit by a fixed random table (``bytes.translate``, C), and a cut point is where the last
``WINDOW`` mapped bits spell a fixed random pattern (``bytes.find``, C). Whether a position is
a cut point depends only on the ``WINDOW`` bytes before it, so an insertion moves the cut points
with it (what content-defined chunking is for); random data gets a candidate every ~2^WINDOW
bytes. ``MIN_SIZE``/``MAX_SIZE`` bound the chunks as usual (the search starts ``MIN_SIZE`` after
the previous cut; no candidate before ``MAX_SIZE`` cuts there). Measured on this machine:
~230 MB/s on random data, ~500 MB/s on text (see ``bench/backup_bench.py --chunker``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import BinaryIO

MIN_SIZE = 512 * 1024
MAX_SIZE = 8 * 1024 * 1024
WINDOW = 20  # ~1 MiB between candidates on random data
READ_SIZE = 1024 * 1024

_rng = random.Random(0x5EED_C0DE)  # fixed forever: cut points must not change between versions
TABLE = bytes(_rng.getrandbits(1) for _ in range(256))
PATTERN = bytes(_rng.getrandbits(1) for _ in range(WINDOW))


def cut_points(buf: bytes | memoryview, start: int = 0) -> Iterator[int]:
    """Every candidate cut offset in ``buf`` (the end of a matching window), in order."""
    mapped = bytes(buf).translate(TABLE) if isinstance(buf, memoryview) else buf.translate(TABLE)
    pos = start
    while True:
        i = mapped.find(PATTERN, pos)
        if i < 0:
            return
        yield i + WINDOW
        pos = i + 1


def chunks(fh: BinaryIO, min_size: int = MIN_SIZE, max_size: int = MAX_SIZE) -> Iterator[bytes]:
    """Split a stream into content-defined chunks (the concatenation is the stream)."""
    buf = b""
    mapped = b""  # buf translated, kept in step so every byte is mapped once
    start = 0
    eof = False
    while True:
        if not eof and len(buf) - start < max_size:
            block = fh.read(max(READ_SIZE, max_size - (len(buf) - start)))
            if block:
                buf = buf[start:] + block
                mapped = mapped[start:] + block.translate(TABLE)
                start = 0
                continue
            eof = True
        remaining = len(buf) - start
        if remaining == 0:
            return
        if remaining <= min_size:
            yield buf[start:]
            return
        # The window lies entirely inside the chunk: search from min_size - WINDOW.
        end = start + min(max_size, remaining)
        i = mapped.find(PATTERN, start + max(0, min_size - WINDOW), end - WINDOW + 1)
        if i >= 0:
            cut = i + WINDOW
        elif remaining < max_size:  # eof: the tail is the last chunk
            cut = len(buf)
        else:
            cut = end
        yield buf[start:cut]
        start = cut
