"""The restore journal: a marker in the target while a restore runs or is unfinished.

A restore writes ``<target>/.smstudio-restore.json`` before its first write and removes it
when it completes. The file holds what a re-run needs (the snapshot, the options, the private
temporary directories) and is ``flock``-ed while its restore runs, so:

* a re-run of ``restore --if-empty`` finds an unfinished restore (its process was killed, the
  app stopped) and **resumes** it instead of calling the partly restored home "not empty";
* a second restore into the same target while one runs is refused (``Conflict``);
* a **backup** of that home (or of a directory inside it) is refused while the marker exists,
  in any process (the server's schedule, the CLI, a final backup), with the reason: a backup
  of a half-restored home would become the newest snapshot.

The marker is only ever created new (``O_EXCL``, never followed; mode 0644, so that a
restore run as root is seen by the user's backups) and replaced by unlinking, never written
through: restoring as root into a user's home, a link or a hard link planted at its name
cannot make us write elsewhere.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import socket
import stat
import time
from typing import Any

from .. import clock
from ..errors import BadInput, Conflict
from .capped import read_capped

MARKER = ".smstudio-restore.json"
TEMP_PREFIX = ".smstudio-restore-"
# mkdtemp's names: the prefix and 8 of [a-z0-9_]
TEMP_DIR_RE = re.compile(r"\.smstudio-restore-[a-z0-9_]{8}")
MARKER_MAX = 1 << 20  # the marker is a few hundred bytes; a larger one is not ours


def reserved(name: str) -> bool:
    """A name of the restore's own files (the marker, a private temporary directory)."""
    return name == MARKER or TEMP_DIR_RE.fullmatch(name) is not None


def read_marker(directory: str) -> dict[str, Any] | None:
    """The marker of ``directory`` (``{}`` when it is unreadable or damaged: still a
    marker), or None when there is none."""
    path = os.path.join(directory, MARKER)
    try:
        data = read_capped(path, MARKER_MAX, follow=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):  # a link, not a file, too large, unreadable: not ours
        return {} if os.path.lexists(path) else None
    try:
        info = json.loads(data)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _running(directory: str) -> bool | None:
    """True when the marker's restore is running now (its lock is held); None: unknown."""
    try:
        fd = os.open(os.path.join(directory, MARKER), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def unfinished_restore(source: str) -> str | None:
    """Why ``source`` must not be backed up now (a restore into it, or into a directory
    above it, is running or was interrupted), or None."""
    path = os.path.abspath(source)
    while True:
        info = read_marker(path)
        if info is not None:
            state = {
                True: "is running",
                False: "was interrupted and is unfinished",
                None: "is running or unfinished",
            }[_running(path)]
            snap = info.get("snapshot_id")
            what = f" of snapshot {snap}" if isinstance(snap, str) else ""
            marker = os.path.join(path, MARKER)
            return (
                f"a restore{what} into {path} {state} ({marker}); no backup of {source} runs "
                "until it completes: run the same restore again to finish it (it resumes), or "
                f"remove {marker} to back up the directory as it is"
            )
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _lock(fd: int) -> bool:
    """Take the exclusive lock; False when another process holds it. A few tries: a
    backup's check takes a shared lock for an instant."""
    for attempt in range(5):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
        if attempt < 4:
            time.sleep(0.02)
    return False


class Journal:
    """The marker of one restore into ``target`` (see the module doc)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.path = os.path.join(target, MARKER)
        self.fd = -1
        self.info: dict[str, Any] = {}
        self.previous: dict[str, Any] | None = read_marker(target)

    def begin(self, info: dict[str, Any]) -> None:
        """Take over (or create) the marker, locked; ``Conflict`` when a restore into this
        target is running. Leftovers of an interrupted run (its temporary directories) are
        removed."""
        for _attempt in range(20):
            fd = self._open_existing()
            if fd >= 0:
                if not _lock(fd):
                    os.close(fd)
                    raise Conflict(
                        f"a restore into {self.target} is already running; wait for it "
                        "(or stop it) and run this one again"
                    )
                # Ours now: if it is still the marker, the run that wrote it is gone.
                try:
                    same = os.path.samestat(os.fstat(fd), os.lstat(self.path))
                except OSError:
                    same = False
                if same:
                    self.previous = read_marker(self.target) or {}
                    os.unlink(self.path)
                os.close(fd)
                continue  # create ours (or look again: another run replaced it)
            try:
                # readable by all: a root restore's marker must be seen (and its lock
                # tested) by the user's own backups; it holds nothing secret
                flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                fd = os.open(self.path, flags, 0o644)
            except FileExistsError:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX)  # a new file nobody else holds: at once
            self.fd = fd
            break
        else:
            raise Conflict(f"cannot take the restore marker {self.path}: it keeps changing")
        self.info = {
            **info,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": clock.isoformat_z(clock.utcnow()),
            "temp_dirs": [],
        }
        self._write()
        self.remove_leftovers(self.previous or {})

    def _open_existing(self) -> int:
        # Read-write where allowed: NFS (EFS homes) emulates flock with byte-range locks,
        # whose exclusive kind needs a writable descriptor. Nothing is written through it.
        flags = os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            try:
                fd = os.open(self.path, os.O_RDWR | flags)
            except PermissionError:
                fd = os.open(self.path, os.O_RDONLY | flags)
        except FileNotFoundError:
            return -1
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a link at our name: not ours, and never followed
                raise BadInput(
                    f"{self.path} is a symbolic link; remove it and restore again"
                ) from None
            raise
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            os.close(fd)
            raise BadInput(
                f"{self.path} is not a restore marker (not a plain file); remove it and "
                "restore again"
            )
        return fd

    def _write(self) -> None:
        data = json.dumps(self.info).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)

    def add_temp_dir(self, path: str) -> None:
        """Record a private temporary directory (removed by a re-run if this one dies)."""
        self.info["temp_dirs"].append(os.path.relpath(path, self.target))
        self._write()

    def remove_leftovers(self, info: dict[str, Any]) -> int:
        """Remove the temporary directories an interrupted run recorded, and any at the top
        of the target (one made just before it could be recorded): only real directories
        with our names, inside the target, never through a link."""
        removed = 0
        dirs = info.get("temp_dirs")
        listed = [rel for rel in dirs if isinstance(rel, str)] if isinstance(dirs, list) else []
        try:
            listed += [n for n in os.listdir(self.target) if TEMP_DIR_RE.fullmatch(n)]
        except OSError:
            pass
        for rel in dict.fromkeys(listed):
            if not TEMP_DIR_RE.fullmatch(os.path.basename(rel)):
                continue
            try:
                path = os.path.join(self.target, rel)
                parent = os.path.realpath(os.path.dirname(path))
                real_target = os.path.realpath(self.target)
                inside = parent == real_target or parent.startswith(real_target + os.sep)
                if not inside or ".." in rel.split(os.sep):
                    continue
                if stat.S_ISDIR(os.lstat(path).st_mode):
                    shutil.rmtree(path)  # fd-based on Linux: never follows links inside
                    removed += 1
            except (OSError, ValueError):
                continue
        return removed

    def finish(self) -> None:
        """The restore completed: remove the marker."""
        if self.fd >= 0:
            try:
                if os.path.samestat(os.fstat(self.fd), os.lstat(self.path)):
                    os.unlink(self.path)
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        """Release the lock and keep the marker (the restore did not complete)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
