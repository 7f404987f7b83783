"""Reviewer's failing tests for the backup engine (issue 9)."""
from __future__ import annotations

import os
import time

import pytest
from datetime import timedelta

from smstudio_ext import clock

from smstudio_ext.backup import backup as backup_mod
from smstudio_ext.backup import lock as lock_mod
from smstudio_ext.backup.packer import Packer
from smstudio_ext.errors import SmStudioError

from test_backup_engine import BUCKET, make_service, bucket, home  # noqa: F401  (fixtures)


def test_failed_overwrite_restore_deletes_local_files_it_never_touched(
    make_service, bucket, home, tmp_path, aws
):
    # A home backed up, then edited locally.
    (home / "notes.txt").write_text("old version\n" * 10)
    svc = make_service()
    svc.backup()
    (home / "notes.txt").write_text("today's work, not yet backed up\n")
    # In-place restore with --overwrite; S3 GETs fail (throttled past the retries).
    from smstudio_ext.backup.store import Store
    from smstudio_ext.errors import AwsUnavailable as Throttled

    real_get = Store.get

    def get(self, key, range_=None):
        if "/data/" in key:
            raise Throttled("SlowDown after retries")
        return real_get(self, key, range_)

    store_cls = Store
    import pytest as _p
    mp = _p.MonkeyPatch()
    mp.setattr(store_cls, "get", get)
    try:
        with pytest.raises(SmStudioError):
            svc.restore("latest", target=str(home), overwrite=True)
    finally:
        mp.undo()
    # The restore failed before writing notes.txt, yet the local file is gone.
    assert (home / "notes.txt").exists(), "failed restore deleted a file it never wrote"


def test_backup_commits_after_its_lease_expired_and_prune_deleted_its_packs(
    make_service, bucket, home, tmp_path, monkeypatch
):
    (home / "a.txt").write_text("precious " * 1000)
    svc = make_service(lease_seconds=10)
    other_app = make_service(state_dir=str(tmp_path / "state2"), keep_last=1, keep_days=0)
    real_put = svc.store().__class__.put

    def put(self, key, body):  # lease renewals throttled (only logged as a warning)
        if "/locks/" in key and getattr(put, "armed", False) and (
            __import__("threading").current_thread().name == "smstudio-lease"
        ):
            raise SmStudioError("SlowDown")
        return real_put(self, key, body)

    monkeypatch.setattr(svc.store().__class__, "put", put)
    real_finish = Packer.finish

    def finish(self):
        real_finish(self)  # packs of this run are in S3, snapshot not written yet
        put.armed = True
        time.sleep(4)  # one renewal attempt happens (10/3 s) and is throttled
        with clock.travelling():
            clock.travel(timedelta(seconds=15))  # ... and so do the next ones: lease lapsed
            other_app.prune()  # another app sharing the home: sees an expired lock
        put.armed = False

    monkeypatch.setattr(Packer, "finish", finish)
    result = svc.backup()  # does not notice it lost the lock: commits anyway
    monkeypatch.setattr(Packer, "finish", real_finish)
    assert result["snapshot_id"]
    svc.restore("latest", target=str(tmp_path / "out"))  # NotFound: the pack is gone
    assert (tmp_path / "out" / "a.txt").read_text() == "precious " * 1000


def test_parent_pruned_between_snapshot_listing_and_lock(
    make_service, bucket, home, tmp_path, monkeypatch
):
    f = home / "model.py"
    f.write_text("version one\n" * 100)
    app_a = make_service()
    app_a.backup()  # S1, A's state = S1
    app_b = make_service(state_dir=str(tmp_path / "state-b"), keep_last=1, keep_days=0)
    real_acquire = lock_mod.Lease.acquire
    fired = {"done": False}

    def acquire(self):
        if not fired["done"] and self.operation == "backup":
            fired["done"] = True
            # Between A's LIST of snapshots/ and A's lock PUT, the other app backs up and prunes.
            f.write_text("version two\n" * 100)
            app_b.backup()  # S2 (v2, new pack)
            app_b.prune()  # keep_last=1: S1 and its pack are deleted
            f.write_text("version one\n" * 100)  # user reverts the edit
        return real_acquire(self)

    monkeypatch.setattr(lock_mod.Lease, "acquire", acquire)
    monkeypatch.setattr(backup_mod.Lease, "acquire", acquire)
    res = app_a.backup()  # parent = S1 (stale listing): dedups v1 against S1's deleted pack
    assert res["bytes_uploaded"] > 0, "snapshot references a pack prune already deleted"
    out = tmp_path / "out"
    app_a.restore("latest", target=str(out))
    assert (out / "model.py").read_text() == "version one\n" * 100
