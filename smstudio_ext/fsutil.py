"""Whole files in and out: atomic replacement, and reads with a size cap.

``read_capped``: every file smstudio reads whose size it does not control (the resource
metadata, config and settings files, caches, kernelspecs, a user's ``~/.condarc``) is read
through it (S3 objects of that kind through ``read_stream_capped``), so ``--metadata /dev/zero``, a FIFO or a 10 GB file is one clear error instead of a
process that blocks forever or grows until the OOM killer comes. It opens without blocking
(a FIFO with no writer would otherwise hang the ``open``), refuses anything but a regular file,
and reads at most ``limit`` bytes, then one more to tell "exactly the limit" from "larger".

``atomic_write``: readers see the old file or the new one, never a half-written one.
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
import stat
import tempfile
from typing import Any, Callable

KB = 1024
MB = 1024 * KB


class ReadRefused(OSError):
    """``read_capped`` refused a file: larger than its cap, or not a regular file.

    An ``OSError`` (with ``strerror`` set to the whole reason), so callers that already turn
    "cannot read" into a warning or a one-line error handle it the same way."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.filename = path
        self.strerror = reason

    def __str__(self) -> str:
        return str(self.strerror)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _size(n: int) -> str:
    if n >= MB:
        return f"{n / MB:g} MB"
    if n >= KB:
        return f"{n / KB:g} KB"
    return f"{n} bytes"


def _read_up_to(read: Callable[[int], bytes], most: int) -> bytes:
    """At most ``most`` bytes from ``read(n)``, in chunks of 1 MB at the most, until it ends."""
    chunks: list[bytes] = []
    left = most
    while left > 0:
        chunk = read(min(left, 1 * MB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_capped(path: str | os.PathLike[str], limit: int, *, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises ``FileNotFoundError``/``PermissionError`` as ``open`` does, and ``ReadRefused``
    (an ``OSError``) for a file over ``limit`` bytes or one that is not a regular file
    (FIFO, device, socket, directory), naming ``what`` it was read as::

        /dev/zero is a character device, not a regular file: not read as resource metadata
        big.json is larger than 1 MB: not read as a config file

    ``/proc`` files are regular (size 0 in ``stat``) and are read up to the cap."""
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(name, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ReadRefused(
                name, f"{name} is {_kind(mode)}, not a regular file: not read as {what}"
            )
        data = _read_up_to(lambda n: os.read(fd, n), limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ReadRefused(name, f"{name} is larger than {_size(limit)}: not read as {what}")
    return data


def read_stream_capped(stream: Any, limit: int, *, name: str, what: str = "file") -> bytes:
    """At most ``limit`` bytes of a readable ``stream`` (an S3 object's body: its size is
    whoever wrote it's choice, as a file's is); ``ReadRefused`` naming ``name`` past the cap.
    Reads ``limit + 1`` bytes at most, never the whole object."""
    data = _read_up_to(stream.read, limit + 1)
    if len(data) > limit:
        raise ReadRefused(name, f"{name} is larger than {_size(limit)}: not read as {what}")
    return data


def foreign_symlink(path: str | os.PathLike[str]) -> bool:
    """``path`` is a symbolic link someone other than root made. Root follows none of those:
    a user's link could aim a write at any file of the system (root's own links are fine)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISLNK(st.st_mode) and st.st_uid != 0


def read_capped_text(
    path: str | os.PathLike[str], limit: int, *, what: str = "file", errors: str = "strict"
) -> str:
    """``read_capped`` decoded as UTF-8 (``UnicodeDecodeError`` for bad bytes by default)."""
    return read_capped(path, limit, what=what).decode("utf-8", errors)


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
