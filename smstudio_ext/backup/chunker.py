"""Content-defined chunking whose inner loop runs in C.

A byte-wise rolling hash in Python runs at 10-20 MB/s. Here every byte is first mapped by a
fixed random table to one of three symbols (``bytes.translate``, C): 0 for half of the 256 byte
values, 1 or 2 for a quarter each. A cut point is where the last ``WINDOW`` mapped bytes spell a
fixed random word over {1, 2} (``bytes.find``, C). Whether a position is a cut point depends
only on the ``WINDOW`` bytes before it, so an insertion moves the cut points with it (what
content-defined chunking is for); random data gets a candidate every ~4^WINDOW bytes. The
word has no 0, so wherever a 0 follows a mismatch ``find`` jumps a whole window: ~500-600 MB/s
on this machine, where a word over a 0/1 mapping (the first version) made it step byte by byte
(~240 MB/s). ``MIN_SIZE``/``MAX_SIZE`` bound the chunks as usual (the search starts
``MIN_SIZE`` after the previous cut; no candidate before ``MAX_SIZE`` cuts there).
``bench/backup_bench.py --chunker`` measures it.

Like any one-symbol-per-byte mapping it finds fewer candidates in text with a small alphabet
(source code, CSV): there many chunks end at ``MAX_SIZE``, and after an insertion the cut
points come back in step at the next content-defined cut rather than at once.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import BinaryIO

MIN_SIZE = 512 * 1024
MAX_SIZE = 8 * 1024 * 1024
WINDOW = 10  # 4^10: ~1 MiB between candidates on random data
READ_SIZE = 1024 * 1024

# Fixed forever once released: the cut points of a file must not change between versions,
# or the first backup after an upgrade uploads every large file again.
_rng = random.Random(0x5EED_C0DE)
_values = list(range(256))
_rng.shuffle(_values)
TABLE = bytes(0 if r < 128 else 1 if r < 192 else 2 for r in map(_values.index, range(256)))
PATTERN = bytes(_rng.choice((1, 2)) for _ in range(WINDOW))
del _values


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
    """Split a stream into content-defined chunks (the concatenation is the stream).

    The search for the next cut runs over what is buffered and reads more only when no cut
    was found and fewer than ``max_size`` bytes are left, so the carried-over tail is small
    (~ one chunk) and every byte is copied about once. ``find`` returns the lowest match, so
    a cut found in a shorter window is the one the full window would give.
    """
    buf = b""
    mapped = b""  # buf translated, kept in step so every byte is mapped once
    start = 0
    eof = False
    while True:
        remaining = len(buf) - start
        if remaining > min_size:
            # The window lies entirely inside the chunk: search from min_size - WINDOW.
            end = start + min(max_size, remaining)
            i = mapped.find(PATTERN, start + max(0, min_size - WINDOW), end - WINDOW + 1)
            if i >= 0 or remaining >= max_size:
                cut = i + WINDOW if i >= 0 else end
                yield buf[start:cut]
                start = cut
                continue
        # No cut among fewer than max_size buffered bytes: more data decides.
        if not eof:
            block = fh.read(max(READ_SIZE, max_size))
            if block:
                buf = buf[start:] + block
                mapped = mapped[start:] + block.translate(TABLE)
                start = 0
                continue
            eof = True
        if remaining:  # eof: the tail is the last chunk
            yield buf[start:]
        return
