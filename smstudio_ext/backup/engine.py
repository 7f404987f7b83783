"""``BackupService``: the backup engine as the doors see it (CLI, REST, schedule, idle shutdown).

No tornado here: everything is blocking and thread-safe, drivable from a plain script.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace
from typing import Any

from .. import clock
from ..aws import AwsClients
from ..context import StudioContext
from ..errors import BadInput, Conflict, SmStudioError
from . import manifest as mf
from . import repo
from .config import HomeBackup
from .excludes import LeaveOut, load_excludes
from .holdback import ShrinkGuard
from .journal import unfinished_restore
from .prune import run_prune
from .restore import RestoreOptions, run_restore
from .run import BackupRun, RunOptions
from .state import LocalState
from .store import Location, Store, s3_client

log = logging.getLogger("smstudio_ext.backup")


class BackupService:
    def __init__(
        self,
        config: HomeBackup,
        context: StudioContext,
        aws: AwsClients,
        home: str | None = None,
    ) -> None:
        """``aws`` makes no client (nor loads botocore) until a request needs one."""
        self.config = config
        self.context = context
        self.aws = aws
        self.home = home or context.home
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._restoring = threading.Lock()
        self._cancel = threading.Event()
        self.progress: repo.Progress | None = None
        self.last_result: dict[str, Any] | None = None
        self.last_error: dict[str, Any] | None = None

    # -- locations
    @property
    def configured(self) -> bool:
        return bool(self.config.bucket)

    def location(self, bucket: str | None = None) -> Location:
        return repo.location(bucket or self.config.bucket, self.context)

    def s3_client(self) -> Any:
        """The S3 client every backup request goes through."""
        return s3_client(self.aws)

    def store(self, bucket: str | None = None) -> Store:
        return Store(
            self.aws,
            self.location(bucket),
            kms_key_id=self.config.kms_key_id,
            expected_owner=self.config.expected_bucket_owner,
        )

    def source(self, source: str | None = None) -> str:
        return os.path.abspath(os.path.expanduser(source or self.config.source or self.home))

    def state(self, store: Store, source: str) -> LocalState:
        base = self.config.state_dir or os.path.join(self.home, ".cache", "smstudio", "backup")
        return LocalState.for_location(base, store.loc.url, source)

    # -- operations
    def backup_run(
        self,
        *,
        bucket: str | None = None,
        source: str | None = None,
        dry_run: bool = False,
        leave_out: LeaveOut | None = None,
        background: bool = False,
        allow_shrink: bool = False,
    ) -> BackupRun:
        """A run, ready to go: nothing read or sent yet (the CLI forks its no-change check on
        it, ``BackupRun.speculate``, before it starts its progress bar). ``leave_out``: the
        door's exclude choices over the config's. ``background``: scheduled and final runs
        (few threads, all at low priority). ``allow_shrink``: commit even a snapshot that
        drops most of the parent's files on a fresh app (``holdback``). Exclude patterns that
        do not compile are reported in the result and skipped."""
        cfg = self.config
        src = self.source(source)
        asked = leave_out or LeaveOut()
        exc = load_excludes(
            src,
            default_excludes=cfg.default_excludes
            if asked.default_excludes is None
            else asked.default_excludes,
            extra=[(p, "HomeBackup.excludes") for p in cfg.excludes]
            + [(p, "--exclude") for p in asked.excludes],
            include_secrets=cfg.include_secrets
            if asked.include_secrets is None
            else asked.include_secrets,
            secret_excludes=cfg.secret_excludes,
        )
        guard = ShrinkGuard(cfg.hold_back_ratio, cfg.hold_back_min_files, cfg.hold_back_hours)
        options = RunOptions(
            dry_run=dry_run,
            concurrency=cfg.background_concurrency if background else cfg.concurrency,
            uploads=cfg.background_concurrency if background else cfg.uploads,
            pack_size=cfg.pack_size_mb * 1024 * 1024,
            compression=cfg.compression,
            lease_seconds=cfg.lease_seconds,
            racy_seconds=cfg.racy_seconds,
            background=background,
            shrink_guard=None if allow_shrink else guard,
        )
        store = self.store(bucket)
        return BackupRun(store, self.state(store, src), src, exc, options)

    def execute(self, run: BackupRun) -> dict[str, Any]:
        """Run ``run``; its result (or error) becomes this service's last one."""
        try:
            result = run.run()
        except SmStudioError as err:
            if not run.options.dry_run:
                self.last_error = {**err.to_dict(), "time": clock.isoformat_z(clock.utcnow())}
            raise
        result["location"] = run.store.loc.url
        result["source"] = run.source
        if not run.options.dry_run:
            self.last_result = result
            self.last_error = None
            run.state.save_result(result)
        return result

    def backup(self, **request: Any) -> dict[str, Any]:
        """One backup, now, in this thread (``backup_run``'s arguments)."""
        return self.execute(self.backup_run(**request))

    def start_backup(self, **request: Any) -> dict[str, Any]:
        """Start a backup in a thread (``backup_run``'s arguments); ``Conflict`` if one is
        running. Bad input (a bucket URL, a source) is raised here, before the thread."""
        if not self.configured and not request.get("bucket"):
            self.location()  # raises NotConfigured
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise Conflict("a backup is already running", progress=self._progress_dict())
            if self._restoring.locked():
                raise Conflict("a restore is running; back up when it has finished")
            run = self.backup_run(**request)
            if not run.options.dry_run:
                # another process's restore (the LCC's, the CLI's): refused here, with the
                # reason, rather than in the thread
                reason = unfinished_restore(run.source)
                if reason is not None:
                    raise Conflict(reason)
            self.progress, self._cancel = run.progress, run.cancel

            def work() -> None:
                try:
                    self.execute(run)
                except SmStudioError as exc:
                    log.warning("smstudio backup failed: %s", exc.message)
                except Exception:
                    log.exception("smstudio backup crashed")
                    self.last_error = {"error": "internal_error", "detail": "see the server log"}

            self._thread = threading.Thread(target=work, name="smstudio-backup", daemon=True)
            self._thread.start()
        return {"started": True, "progress": self._progress_dict()}

    def wait(self, timeout: float | None = None) -> bool:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _progress_dict(self) -> dict[str, Any] | None:
        return self.progress.to_dict() if self.progress is not None else None

    def _last_result(self) -> dict[str, Any] | None:
        if self.last_result is None and self.configured:
            try:
                store = self.store()
                self.last_result = self.state(store, self.source()).load_result()
            except SmStudioError:
                return None
        return self.last_result

    def status(self) -> dict[str, Any]:
        cfg = self.config
        location = None
        if self.configured:
            try:
                location = self.location().url
            except SmStudioError:
                location = None
        return {
            "configured": self.configured,
            "config": {
                "bucket": cfg.bucket or None,
                "location": location,
                "source": self.source(),
                "interval_hours": cfg.interval_hours,
                "keep_last": cfg.keep_last,
                "keep_days": cfg.keep_days,
                "kms": bool(cfg.kms_key_id),
                "excludes": list(cfg.excludes),
                "default_excludes": cfg.default_excludes,
                "include_secrets": cfg.include_secrets,
            },
            "running": self.running,
            "progress": self._progress_dict() if self.running else None,
            "last_result": self._last_result(),
            "last_error": self.last_error,
            "next_run": self.next_run(),
        }

    def snapshots(self, bucket: str | None = None) -> list[dict[str, Any]]:
        store = self.store(bucket)
        out: list[dict[str, Any]] = []
        for snap_id in repo.list_snapshot_ids(store):
            try:
                header = repo.snapshot_header(store, snap_id)
            except SmStudioError as exc:
                out.append({"id": snap_id, "error": exc.message})
                continue
            out.append({"id": snap_id, **_listing(header)})
        return out

    def default_restore_target(self) -> str:
        stamp = clock.utcnow().strftime("%Y%m%d-%H%M%S")
        return os.path.join(self.home, f"smstudio-restore-{stamp}")

    def restore(
        self,
        snapshot: str = "latest",
        *,
        target: str | None = None,
        options: RestoreOptions | None = None,
        bucket: str | None = None,
        within_home: bool = False,
        progress: repo.Progress | None = None,
    ) -> dict[str, Any]:
        """Restore a snapshot. A relative ``target`` is taken relative to the home;
        ``within_home`` (the REST door) refuses a target outside it. One restore at a time,
        and none while this service's backup runs (it would back up half-restored files)."""
        if target:
            mf.fs_bytes(target, "restore target")  # NUL, a lone surrogate: one line, not a 500
            dest = os.path.normpath(os.path.join(self.home, os.path.expanduser(target)))
        else:
            dest = self.default_restore_target()
        if within_home:
            home = os.path.realpath(self.home)
            real = os.path.realpath(dest)
            if real != home and not real.startswith(home + os.sep):
                raise BadInput(f"restore target {target!r} is outside the home {self.home}")
        if self.running:
            raise Conflict("a backup is running; restore when it has finished")
        if not self._restoring.acquire(blocking=False):
            raise Conflict("a restore is already running")
        try:
            options = replace(
                options or RestoreOptions(), concurrency=self.config.restore_concurrency
            )
            return run_restore(self.store(bucket), snapshot, dest, options, progress)
        finally:
            self._restoring.release()

    def prune(self, *, bucket: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        return run_prune(
            self.store(bucket),
            keep_last=self.config.keep_last,
            keep_days=self.config.keep_days,
            dry_run=dry_run,
            lease_seconds=self.config.lease_seconds,
            data_min_files=self.config.hold_back_min_files,
        )

    def check(
        self,
        *,
        bucket: str | None = None,
        read_data: bool = False,
        progress: repo.Progress | None = None,
    ) -> dict[str, Any]:
        from .check import run_check

        return run_check(
            self.store(bucket), read_data=read_data,
            concurrency=self.config.restore_concurrency, progress=progress,
        )  # fmt: skip

    def open_snapshot(self, snapshot: str, *, bucket: str | None = None) -> Any:
        """A snapshot's manifest to browse (``browse.OpenSnapshot``, a context manager)."""
        from .browse import OpenSnapshot

        return OpenSnapshot(self.store(bucket), snapshot)

    # -- schedule and shutdown
    def next_run(self) -> str | None:
        if not self.configured or self.config.interval_hours <= 0:
            return None
        last = (self._last_result() or {}).get("finished")
        if not last:
            return clock.isoformat_z(clock.utcnow())
        from datetime import datetime, timedelta

        when = datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ")
        when = when.replace(tzinfo=clock.utcnow().tzinfo)
        return clock.isoformat_z(when + timedelta(hours=self.config.interval_hours))

    def due(self) -> bool:
        nxt = self.next_run()
        return nxt is not None and nxt <= clock.isoformat_z(clock.utcnow()) and not self.running

    def tick(self) -> bool:
        """One schedule step: start a background backup when due. True if one started."""
        if not self.due():
            return False
        try:
            self.start_backup(background=True)
        except SmStudioError as exc:
            log.info("smstudio backup: scheduled run not started: %s", exc.message)
            return False
        return True

    async def schedule_loop(self, poll_seconds: float = 60.0) -> None:
        import asyncio

        while True:
            try:
                self.tick()
            except Exception:
                log.exception("smstudio backup: schedule step failed")
            await asyncio.sleep(poll_seconds)

    def final_backup(self, timeout_seconds: float) -> dict[str, Any]:
        """A bounded backup before shutdown; never raises. Cancelled (no snapshot) on timeout."""
        deadline = time.monotonic() + max(float(timeout_seconds), 0.0)
        try:
            if not self.configured or not self.config.final_backup:
                return {"ran": False, "reason": "backup not configured"}
            if self.running:
                self.wait(max(deadline - time.monotonic(), 0))
                if self.running:
                    self._cancel.set()
                    return {"ran": False, "reason": "a backup was still running; cancelled"}
            self.start_backup(background=True)  # scheduled and final runs: one priority
            if self.wait(max(deadline - time.monotonic(), 0)):
                ok = self.last_error is None
                return {"ran": True, "ok": ok, "result": self.last_result, "error": self.last_error}
            self._cancel.set()
            self.wait(5)
            return {"ran": True, "ok": False, "reason": "timed out; cancelled, no snapshot written"}
        except Exception as exc:  # never raise into the shutdown path
            log.warning("smstudio backup: final backup failed: %s", exc)
            return {"ran": False, "ok": False, "reason": str(exc)}

    def summary(self) -> dict[str, Any]:
        last = None
        try:
            last = self._last_result()
        except Exception:
            last = None
        return {
            "configured": self.configured,
            "bucket": self.config.bucket or None,
            "last_success": (last or {}).get("finished"),
            "last_snapshot_id": (last or {}).get("snapshot_id"),
        }


def _listing(header: dict[str, Any]) -> dict[str, Any]:
    """What the snapshot list shows of a header, each field of its type or None (a header is
    data from the bucket: a damaged one must not break the list)."""
    stats = header.get("stats")
    stats = stats if isinstance(stats, dict) else {}
    report = header.get("report")
    report = report if isinstance(report, dict) else {}

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    def number(value: Any) -> int | None:
        return value if type(value) is int else None

    def count(value: Any) -> int:
        return len(value) if isinstance(value, list) else 0

    return {
        "time": text(header.get("time")),
        "host": text(header.get("host")),
        "source": text(header.get("source")),
        "parent": text(header.get("parent")),
        "files": number(stats.get("files")),
        "dirs": number(stats.get("dirs")),
        "links": number(stats.get("links")),
        "bytes": number(stats.get("bytes")),
        "skipped": count(report.get("skipped")),
        "changed_during_read": count(report.get("changed_during_read")),
    }
