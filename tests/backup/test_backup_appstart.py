"""Restore at app start (issue 16): a killed restore resumes, no backup runs while a restore
of the same home runs or is unfinished (in any process), a shrinking snapshot on a fresh app
is held back, prune keeps the last snapshot that held data; temporaries that cannot collide
with entries; setuid/setgid bits dropped as root."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from backup_support import BUCKET, cli, leftovers, tree
from tornado.httpclient import HTTPClientError

from smstudio_ext import clock
from smstudio_ext.backup import journal
from smstudio_ext.backup.holdback import HeldBack
from smstudio_ext.backup.restore import RestoreOptions
from smstudio_ext.errors import BadInput, Conflict

URL = f"s3://{BUCKET}/backups"

# A real `smstudio restore` process held at its third pack download (windows of 5 files):
# the test kills it there with SIGKILL.
HELD_RESTORE = """
import os, sys, threading
from smstudio_ext.backup import restore, store
restore.WINDOW_FILES = 5
real_get, calls, lock = store.Store.get, [0], threading.Lock()
def get(self, key, range_=None, **kw):
    if "/data/" in key:
        with lock:
            calls[0] += 1
            n = calls[0]
        if n > 2:
            open(os.environ["HELD"], "w").close()
            threading.Event().wait()  # until killed
    return real_get(self, key, range_, **kw)
store.Store.get = get
from smstudio_ext.cli import main
sys.exit(main(sys.argv[1:]))
"""


def make_files(root, n=40):
    for i in range(n):
        d = root / f"project{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"notebook{i:03d}.ipynb").write_text(f'{{"cells": [{i}]}}\n' * (i + 1))
    (root / "project0" / "empty").mkdir()
    os.symlink("project0", root / "link")


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


def test_a_killed_restore_resumes_and_blocks_backups_meanwhile(
    aws, make_service, bucket, home, tmp_path
):
    # Given a snapshot of a home with 40 files
    make_files(home)
    svc = make_service()
    svc.backup()
    # When `restore --if-empty` into a new home is killed part-way (SIGKILL)
    new_home = tmp_path / "new-home"
    new_home.mkdir()
    (new_home / ".bashrc").write_text("# the image's\n")
    held = tmp_path / "held"
    env = {**os.environ, **aws.env(), "HOME": str(tmp_path / "x"), "HELD": str(held)}
    args = [
        "--endpoint-url", aws.endpoint_url, "--metadata", str(tmp_path / "none.json"),
        "restore", "latest", "--bucket", URL, "--target", str(new_home), "--if-empty", "-q",
    ]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", HELD_RESTORE, *args], env=env)
    try:
        wait_for(lambda: held.exists() or proc.poll() is not None)
        assert proc.poll() is None, "the restore ended before it was held"
        # Then while it runs, no backup of that home starts (another process: the server's)
        other = make_service(source=str(new_home), state_dir=str(tmp_path / "other-state"))
        with pytest.raises(Conflict, match="into .*new-home is running"):
            other.start_backup()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = [p for p in new_home.rglob("*.ipynb")]
    assert 0 < len(partial) < 40
    assert leftovers(new_home)[0]  # marked unfinished
    # And after it died, backups of that home are still refused, with what to do
    with pytest.raises(Conflict, match="was interrupted and is unfinished.*run the same restore"):
        other.start_backup()
    rc, out, err, _ = cli(aws, tmp_path, "backup", "--bucket", URL, "--source", str(new_home))
    assert rc == 5 and "was interrupted" in err, err
    assert sum(ln.startswith("smstudio:") for ln in err.splitlines()) == 1, err  # + progress
    # When the app starts again and runs the same restore
    rc, out, err, _ = cli(
        aws, tmp_path, "restore", "latest", "--bucket", URL, "--target", str(new_home),
        "--if-empty",
    )  # fmt: skip
    # Then it resumes (it used to say "not empty" and exit 0) and the home is complete
    assert rc == 0 and "(resumed)" in out, (out, err)
    got = tree(new_home)
    assert got.pop(".bashrc")[0] == "file"
    assert got == tree(home)
    assert leftovers(new_home) == (False, [])
    # And backups of it run again
    assert other.backup()["files"] == 41


def test_a_near_empty_home_is_held_back_on_a_fresh_app(make_service, bucket, home, tmp_path):
    # Given a snapshot of 40 files, and an app that started now (hold_back_hours is long)
    make_files(home)
    svc = make_service(hold_back_hours=1e6)
    first = svc.backup()
    # When the home holds almost nothing (not restored yet: a marker was removed by hand)
    for path in home.rglob("*.ipynb"):
        if path.name != "notebook000.ipynb":
            path.unlink()
    # Then the backup commits nothing: held back with the reason, latest unchanged
    with pytest.raises(HeldBack, match="keep 1 of the 40 files"):
        svc.backup()
    assert [s["id"] for s in svc.snapshots()] == [first["snapshot_id"]]
    assert svc.last_error["error"] == "held_back"
    dry = svc.backup(dry_run=True)
    assert dry["held_back"] and dry["snapshot_id"] is None
    # And a scheduled or final backup reports it without raising
    final = svc.final_backup(60)
    assert final["ok"] is False and final["error"]["error"] == "held_back"
    # And when the deletions are meant, --allow-shrink commits
    assert svc.backup(allow_shrink=True)["files"] == 1


def test_an_old_app_commits_a_shrinking_snapshot(make_service, bucket, home):
    make_files(home)
    svc = make_service(hold_back_hours=1e-9)  # the app started "long" ago
    svc.backup()
    for path in home.rglob("*.ipynb"):
        path.unlink()
    assert svc.backup()["files"] == 0
    off = make_service(hold_back_ratio=0.0, hold_back_hours=1e6)  # the guard switched off
    make_files(home / "again")
    off.backup()
    for path in (home / "again").rglob("*.ipynb"):
        path.unlink()
    assert off.backup()["files"] == 0


def test_prune_keeps_the_last_snapshot_that_held_data(make_service, bucket, home):
    # Given a good snapshot, then a dozen near-empty ones (the guard off: a long-lived app)
    make_files(home)
    svc = make_service(hold_back_ratio=0.0, keep_last=3, keep_days=0)
    good = svc.backup()["snapshot_id"]
    for path in home.rglob("*.ipynb"):
        path.unlink()
    for i in range(12):
        (home / f"scratch{i}.txt").write_text(str(i))
        svc.backup()
    # When prune applies keep_last=3
    result = svc.prune()
    # Then the three newest stay, and so does the last one that held the data
    assert result["kept_last_data_snapshot"] == good
    assert good in result["snapshots_kept"] and len(result["snapshots_kept"]) == 4
    out = home.parent / "out"
    svc.restore(good, target=str(out))
    assert len(list(out.rglob("*.ipynb"))) == 40
    # And a policy that keeps it anyway needs no exception
    again = svc.prune()
    assert again["snapshots_removed"] == [] and again["kept_last_data_snapshot"] == good


@pytest.mark.parametrize(
    "extra_server_config",
    [{"HomeBackup": {"bucket": f"s3://{BUCKET}/homes", "interval_hours": 6}}],
)
async def test_a_server_backup_during_an_unfinished_restore_is_refused(
    aws, jp_fetch, jp_serverapp, jp_root_dir, monkeypatch
):
    # Given a home whose restore stopped part-way (S3 gave up after the first windows)
    from smstudio_ext.backup import restore as restore_mod
    from smstudio_ext.backup.store import Store
    from smstudio_ext.errors import AwsUnavailable

    aws.client("s3").create_bucket(Bucket=BUCKET)
    make_files(jp_root_dir)
    svc = jp_serverapp.web_app.settings["smstudio"].backup
    svc.backup()
    for path in jp_root_dir.rglob("*.ipynb"):
        path.unlink()
    monkeypatch.setattr(restore_mod, "WINDOW_FILES", 5)
    real_get, calls = Store.get, [0]

    def get(self, key, range_=None, **kw):
        if "/data/" in key:
            calls[0] += 1
            if calls[0] > 2:
                raise AwsUnavailable("SlowDown after retries")
        return real_get(self, key, range_, **kw)

    with monkeypatch.context() as mp:
        mp.setattr(Store, "get", get)
        with pytest.raises(AwsUnavailable):
            svc.restore("latest", target=str(jp_root_dir), options=RestoreOptions(overwrite=True))
    # When a backup is asked for over REST, by the schedule, and before an idle shutdown
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("smstudio", "backup", method="POST", body="{}")
    # Then each is refused with the reason, and nothing is committed
    assert info.value.code == 409
    detail = json.loads(info.value.response.body)["detail"]
    assert "was interrupted and is unfinished" in detail and journal.MARKER in detail
    with clock.travelling():
        clock.travel(timedelta(hours=7))  # the schedule's run is due
        assert svc.due() and svc.tick() is False
    final = svc.final_backup(30)
    assert final["ran"] is False and "unfinished" in final["reason"]
    assert len(svc.snapshots()) == 1


def test_a_second_restore_into_the_same_target_is_refused(make_service, bucket, home, tmp_path):
    make_files(home)
    svc = make_service()
    svc.backup()
    target = tmp_path / "t"
    target.mkdir()
    running = journal.Journal(str(target))  # another process's restore, holding the lock
    running.begin({"snapshot_id": "x"})
    try:
        with pytest.raises(Conflict, match="already running"):
            svc.restore("latest", target=str(target))
    finally:
        running.close()
    # Once that one is gone (its marker left behind), a restore takes over and completes
    done = svc.restore("latest", target=str(target))
    assert done["resumed"] is True and tree(target) == tree(home)
    assert leftovers(target) == (False, [])


def test_temporaries_never_collide_with_entries(make_service, bucket, home, tmp_path):
    # Files named like the old temporaries, next to the file they were named after
    (home / "a").write_text("content of a\n")
    (home / "a.~smstudio-restore").write_text("content of the other file\n")
    (home / "d").mkdir()
    (home / "d" / "b.ipynb").write_text("b\n")
    (home / "d" / "b.ipynb.~smstudio-restore").write_text("not b\n")
    svc = make_service(default_excludes=False)
    svc.backup()
    for i in range(6):  # the issue saw a swap in 1 of 6
        out = tmp_path / f"out{i}"
        svc.restore("latest", target=str(out))
        assert tree(out) == tree(home)
    # into a target that is not empty (the other branch), with --overwrite
    out = tmp_path / "out0"
    (out / "a").write_text("changed\n")
    svc.restore("latest", target=str(out), options=RestoreOptions(overwrite=True))
    assert tree(out) == tree(home) and leftovers(out) == (False, [])


@pytest.mark.skipif(os.geteuid() != 0, reason="restoring as root")
def test_restoring_as_root_drops_setid_bits_unless_asked(make_service, bucket, home, tmp_path):
    (home / "shared").mkdir()
    (home / "shared").chmod(0o2775)
    (home / "shared" / "tool").write_text("#!/bin/sh\n")
    (home / "shared" / "tool").chmod(0o4755)
    svc = make_service()
    svc.backup()
    out = tmp_path / "out"
    svc.restore("latest", target=str(out))
    assert stat.S_IMODE((out / "shared").stat().st_mode) == 0o775
    assert stat.S_IMODE((out / "shared" / "tool").stat().st_mode) == 0o755
    kept = tmp_path / "kept"
    svc.restore("latest", target=str(kept), options=RestoreOptions(keep_setid=True))
    assert stat.S_IMODE((kept / "shared").stat().st_mode) == 0o2775
    assert stat.S_IMODE((kept / "shared" / "tool").stat().st_mode) == 0o4755


@pytest.mark.parametrize("plant", ["symlink", "hardlink"])
def test_a_link_planted_at_the_marker_is_never_written_through(
    make_service, bucket, home, tmp_path, plant
):
    make_files(home, n=3)
    svc = make_service()
    svc.backup()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = tmp_path / "t"
    target.mkdir()
    marker = target / journal.MARKER
    if plant == "symlink":
        os.symlink(victim, marker)
    else:
        os.link(victim, marker)
    with pytest.raises(BadInput, match=r"\.smstudio-restore\.json is"):
        svc.restore("latest", target=str(target), options=RestoreOptions(if_empty=True))
    assert victim.read_text() == "precious\n"
