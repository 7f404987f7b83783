"""REST doors onto the backup engine.

GET smstudio/backup (config, last result, running progress) · POST smstudio/backup (start; 409
when one runs) · GET smstudio/backup/snapshots · POST smstudio/restore.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ..backup.restore import RestoreOptions
from ..errors import BadInput
from .base import BaseHandler, handle_errors


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInput(f"{key!r} must be a string")
    return value


def _opt_bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise BadInput(f"{key!r} must be true or false")
    return value


class BackupHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def get(self) -> None:
        self.write_json(await self.run_blocking(self.services.require("backup").status))

    @web.authenticated
    @handle_errors
    async def post(self) -> None:
        body = self.json_body()
        unknown = set(body) - {"dry_run"}
        if unknown:
            raise BadInput(f"unknown field(s): {sorted(unknown)}")
        svc = self.services.require("backup")
        if _opt_bool(body, "dry_run"):
            result = await self.run_blocking(svc.backup, dry_run=True)
            self.write_json(result)
            return
        self.write_json(svc.start_backup(), status=202)


class SnapshotsHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def get(self) -> None:
        snaps = await self.run_blocking(self.services.require("backup").snapshots)
        self.write_json({"snapshots": snaps})


class RestoreHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def post(self) -> None:
        body = self.json_body()
        unknown = set(body) - {"snapshot", "target", "paths", "overwrite", "if_empty"}
        if unknown:
            raise BadInput(f"unknown field(s): {sorted(unknown)}")
        snapshot = _opt_str(body, "snapshot") or "latest"
        target = _opt_str(body, "target")
        paths = body.get("paths") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise BadInput("'paths' must be a list of strings")
        # a thread of its own: a long restore must not hold the shared executor other
        # handlers need
        options = RestoreOptions(
            paths=tuple(paths),
            overwrite=_opt_bool(body, "overwrite"),
            if_empty=_opt_bool(body, "if_empty"),
        )
        result = await self.run_in_thread(
            self.services.require("backup").restore,
            snapshot,
            target=target,
            options=options,
            within_home=True,
        )
        self.write_json(result)


ROUTES = [
    (r"backup", BackupHandler),
    (r"backup/snapshots", SnapshotsHandler),
    (r"restore", RestoreHandler),
]
