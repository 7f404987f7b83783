"""A lease lock in S3 so backup and prune never overlap, across apps sharing one home.

Each holder writes ``locks/<uuid>.json`` with an expiry, then lists ``locks/``: if another
unexpired lock exists, it withdraws its own and the caller gets ``Conflict``. Both racing
holders see each other and both withdraw (safe; one retries later). The lease is renewed by a
thread while held, so a crashed holder blocks others for at most one lease period.

A holder must not trust its lease blindly: renewals can fail (throttling) and another app's
clock can run ahead. ``check()`` (called before every commit and every deletion) fails with
``LockLost`` when the lease may have lapsed by *our* monotonic clock (counted from the start of
the last successful PUT) or when our lock object is gone (another holder judged it expired
and removed it). Prune also keeps packs younger than two leases by S3's own clock, so a
backup that lost its lock between its last check and its commit still finds its packs.

A lock is judged abandoned before its expiry only when it was written on this very machine
and pid namespace (same ``boot_id`` and ``/proc/self/ns/pid``) by a process that is gone:
Studio apps share hostnames like ``default`` and each has its own pid namespace, so
host + pid alone would judge another app's live lock dead.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..errors import BadInput, Conflict, NotFound, SmStudioError
from .store import Store

log = logging.getLogger("smstudio_ext.backup")


LOCK_MAX = 64 * 1024  # a lock object is ~300 bytes; a larger one is not read whole


class LockLost(Conflict):
    code = "lock_lost"


def _read_text(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return ""


def machine_identity() -> dict[str, str]:
    """This kernel boot and pid namespace (empty strings where unknown, e.g. not Linux)."""
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = ""
    return {"boot_id": _read_text("/proc/sys/kernel/random/boot_id"), "pidns": pidns}


class Lease:
    def __init__(self, store: Store, operation: str, lease_seconds: float = 600.0) -> None:
        self.store = store
        self.operation = operation
        self.lease = float(lease_seconds)
        self.id = secrets.token_hex(8)
        self.key = store.lock_key(self.id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._valid_until = 0.0  # monotonic: our lease surely holds until then
        self._lost: str | None = None
        self.server_time: datetime | None = None  # S3's clock when we took the lock

    def _put(self) -> None:
        started = time.monotonic()
        self.store.put(self.key, self._body())
        self._valid_until = started + self.lease

    def _body(self) -> bytes:
        expires = clock.utcnow() + timedelta(seconds=self.lease)
        return json.dumps(
            {
                "operation": self.operation,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                **machine_identity(),
                "token": self.id,
                "expires": expires.isoformat(),
            }
        ).encode()

    def acquire(self) -> Lease:
        self._put()
        try:
            for obj in self.store.list("locks/"):
                key = obj["Key"]
                if key == self.key:
                    modified = obj.get("LastModified")
                    if isinstance(modified, datetime):
                        self.server_time = modified
                    continue
                info = self._read(key)
                if info is None:
                    continue
                expires = _parse_time(info.get("expires"))
                if _orphaned(info, key):
                    expires = None  # its holder on this host is gone: stale at once
                if expires is not None and expires > clock.utcnow():
                    raise Conflict(
                        f"another {info.get('operation', 'backup')} holds the repository lock "
                        f"(host {info.get('host')}, pid {info.get('pid')}, lease until "
                        f"{info.get('expires')}); try again later",
                        lock=key,
                    )
                log.info("smstudio backup: removing expired lock %s", key)
                try:
                    self.store.delete_one(key)
                except SmStudioError:
                    pass
        except BaseException:
            self._withdraw()
            raise
        _HELD.add(self.key)
        self._thread = threading.Thread(target=self._renew, name="smstudio-lease", daemon=True)
        self._thread.start()
        return self

    def _read(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.store.get(key, limit=LOCK_MAX))
        except NotFound:
            return None
        except (ValueError, BadInput):  # not JSON, or far larger than a lock: not a lock
            return {"operation": "unknown", "expires": None}
        return data if isinstance(data, dict) else None

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                if self._read(self.key) is None:  # removed by someone who judged it expired
                    self._lost = "our lock object was removed by another holder"
                    log.warning("smstudio backup: lost the repository lock %s", self.key)
                    return
                self._put()
            except SmStudioError as exc:
                log.warning("smstudio backup: could not renew the lock lease: %s", exc)

    def check(self) -> None:
        """Raise ``LockLost`` unless the lease surely still holds (call before committing)."""
        margin = min(30.0, self.lease / 10)
        if self._lost is None and time.monotonic() > self._valid_until - margin:
            self._lost = "the lease could not be renewed in time"
        if self._lost is None:
            info = self._read(self.key)
            if info is None or info.get("token") != self.id:
                self._lost = "our lock object was removed by another holder"
        if self._lost is not None:
            raise LockLost(
                f"lost the repository lock during the {self.operation} ({self._lost}); "
                "nothing was committed: run it again",
                lock=self.key,
            )

    def _withdraw(self) -> None:
        try:
            self.store.delete_one(self.key)
        except SmStudioError as exc:
            log.warning("smstudio backup: could not remove lock %s: %s", self.key, exc)

    def release(self) -> None:
        _HELD.discard(self.key)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._withdraw()

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


_HELD: set[str] = set()  # lock keys this process holds right now


def _orphaned(info: dict[str, Any], key: str) -> bool:
    """A lock written in this machine + pid namespace by a process that is gone (or by us,
    no longer held). Anything else (another container, an old lock without the identity) is
    left to expire."""
    here = machine_identity()
    if not here["boot_id"] or not here["pidns"]:
        return False
    if info.get("boot_id") != here["boot_id"] or info.get("pidns") != here["pidns"]:
        return False
    if not isinstance(info.get("pid"), int):
        return False
    pid = info["pid"]
    if pid == os.getpid():
        return key not in _HELD
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
