"""Atomic file replacement: readers see the old file or the new one, never a half-written one.

One helper for every "write a whole file" in smstudio (settings, caches, manifests, plans):

* the temporary file sits in the destination's directory (``os.replace`` is atomic only within
  one file system) under a unique name (``mkstemp``), so two writers never share a temporary
  and a crash leaves a stray ``.<name>.*.tmp`` behind instead of a truncated destination;
* its data is ``fsync``-ed before the rename and the directory after it, so after a power loss
  the destination holds either version, not an empty file (ext4/xfs delayed allocation);
* on any failure the temporary is removed and the destination is untouched.

It writes through the destination's directory, never through a symlink at the destination
(``os.replace`` replaces the link itself). Callers that must not follow links in parent
directories (root writing into a user's home) check those themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int | None = None,
    encoding: str = "utf-8",
    fsync: bool = True,
) -> None:
    """Replace ``path`` with ``data`` atomically. ``mode`` (e.g. ``0o755``) is set before the
    rename, so the file never exists with the wrong mode; default: ``0o666`` minus the umask,
    as ``open()`` would create it."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{base}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.chmod(tmp, _default_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        _fsync_dir(directory)


def atomic_write_json(path: str | os.PathLike[str], value: Any, **json_kwargs: Any) -> None:
    """``atomic_write`` of ``json.dumps(value, **json_kwargs)`` plus a final newline."""
    atomic_write(path, json.dumps(value, **json_kwargs) + "\n")


def _default_mode() -> int:
    """``0o666`` minus the umask. Read from ``/proc`` where possible: setting the umask to read
    it back (the portable way) briefly changes it for every thread of the process."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(directory: str) -> None:
    """Persist the rename itself; not every platform can open a directory (then skip)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
