"""A lease lock in S3 so backup and prune never overlap, across apps sharing one home.

Each holder writes ``locks/<uuid>.json`` with an expiry, then lists ``locks/``: if another
unexpired lock exists, it withdraws its own and the caller gets ``Conflict``. Both racing
holders see each other and both withdraw (safe; one retries later). The lease is renewed by a
thread while held, so a crashed holder blocks others for at most one lease period.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..errors import Conflict, NotFound, SmStudioError
from .store import Store

log = logging.getLogger("smstudio_ext.backup")


class Lease:
    def __init__(self, store: Store, operation: str, lease_seconds: float = 600.0) -> None:
        self.store = store
        self.operation = operation
        self.lease = float(lease_seconds)
        self.id = secrets.token_hex(8)
        self.key = store.lock_key(self.id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        expires = clock.utcnow() + timedelta(seconds=self.lease)
        return json.dumps(
            {
                "operation": self.operation,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "expires": expires.isoformat(),
            }
        ).encode()

    def acquire(self) -> Lease:
        self.store.put(self.key, self._body())
        try:
            for obj in self.store.list("locks/"):
                key = obj["Key"]
                if key == self.key:
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
            data = json.loads(self.store.get(key))
        except NotFound:
            return None
        except ValueError:
            return {"operation": "unknown", "expires": None}
        return data if isinstance(data, dict) else None

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.store.put(self.key, self._body())
            except SmStudioError as exc:
                log.warning("smstudio backup: could not renew the lock lease: %s", exc)

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
    """A lock written on this host by a process that is gone (or by us, no longer held)."""
    if info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
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
