"""Reading small files we do not control (state, markers, ignore files) with a size cap.

Such a file may be anything: huge (``/dev/zero`` through a link), a FIFO (an ``open`` that
blocks until a writer comes), a directory. ``read_capped`` opens without blocking, takes
regular files only and reads at most one byte past the cap, so a backup or the server never
hangs on one or holds more than the cap of it.
"""

from __future__ import annotations

import os
import stat


class Unfit(ValueError):
    """The file is not a regular file, or is larger than the cap."""


def read_capped(path: str, limit: int, *, follow: bool = True) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``); ``OSError`` as ``open``
    raises it (``FileNotFoundError`` when missing; a link when ``follow`` is false), ``Unfit``
    when it is not a regular file or is larger than ``limit``."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Unfit("not a regular file")
        parts: list[bytes] = []
        size = 0
        while size <= limit:
            block = os.read(fd, limit + 1 - size)
            if not block:
                break
            parts.append(block)
            size += len(block)
    finally:
        os.close(fd)
    if size > limit:
        raise Unfit(f"larger than {limit} bytes")
    return b"".join(parts)
