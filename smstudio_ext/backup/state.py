"""The local change-detection state: a copy of the last snapshot, kept in the home.

``<home>/.cache/smstudio/backup/<hash of location + source>/`` holds ``snapshot.jsonl.gz`` (the
last snapshot this machine wrote or downloaded) and ``meta.json`` (its id, and whether its
inode/ctime fields describe this filesystem). ``.cache`` is excluded from backups by default
and the directory is always skipped. When the state is missing or older than the newest
remote snapshot (a new app, a new domain, another app sharing the home), it is rebuilt by
downloading that snapshot; inodes and ctimes are then not trusted (they describe another
filesystem), so size + mtime decide, and the next run records trusted values again.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from ..fsutil import atomic_write
from .capped import read_capped

# What the state's JSON files may weigh: meta.json is ~100 bytes; last_result.json lists at
# most 1,000 skipped files. Larger (or not regular) files are ignored, never read whole.
META_MAX = 64 * 1024
RESULT_MAX = 16 << 20


def _read_json(path: str, limit: int) -> Any:
    """The JSON in ``path``, or None when missing, unreadable, not a regular file or larger
    than ``limit`` (``read_capped``)."""
    try:
        return json.loads(read_capped(path, limit))
    except (OSError, ValueError):  # Unfit and bad JSON are ValueErrors
        return None


class LocalState:
    def __init__(self, directory: str) -> None:
        self.dir = directory
        self.snapshot_path = os.path.join(directory, "snapshot.jsonl.gz")
        self.meta_path = os.path.join(directory, "meta.json")
        self.result_path = os.path.join(directory, "last_result.json")

    @classmethod
    def for_location(cls, base: str, url: str, source: str) -> LocalState:
        key = hashlib.sha256(f"{url}\n{os.path.realpath(source)}".encode()).hexdigest()[:16]
        return cls(os.path.join(base, key))

    def ensure(self) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)

    def meta(self) -> dict[str, Any]:
        data = _read_json(self.meta_path, META_MAX)
        if isinstance(data, dict) and os.path.exists(self.snapshot_path):
            return data
        return {}

    def install(self, snapshot_file: str, snapshot_id: str, trusted: bool) -> None:
        """Make ``snapshot_file`` (moved, not copied) the state."""
        self.ensure()
        os.replace(snapshot_file, self.snapshot_path)
        self._write_json(self.meta_path, {"snapshot_id": snapshot_id, "trusted": trusted})

    def invalidate(self) -> None:
        for path in (self.meta_path, self.snapshot_path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def save_result(self, result: dict[str, Any]) -> None:
        try:
            self.ensure()
            self._write_json(self.result_path, result)
        except OSError:
            pass

    def load_result(self) -> dict[str, Any] | None:
        data = _read_json(self.result_path, RESULT_MAX)
        return data if isinstance(data, dict) else None

    @staticmethod
    def _write_json(path: str, data: Any) -> None:
        atomic_write(path, json.dumps(data), fsync=False)
