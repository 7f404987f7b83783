"""Backup building blocks without S3: excludes, manifest checks, scan order, config."""

from __future__ import annotations

import os

import pytest
from traitlets import TraitError

from smstudio_ext.backup import manifest as mf
from smstudio_ext.backup.config import HomeBackup
from smstudio_ext.backup.excludes import Excludes, load_excludes
from smstudio_ext.backup.prune import select_kept
from smstudio_ext.backup.scan import ScanReport, walk
from smstudio_ext.backup.store import parse_bucket_url
from smstudio_ext.errors import BadInput, NotConfigured


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "excluded"),
    [
        (".cache/", ".cache", True, True),
        (".cache/", "a/.cache", True, True),
        (".cache/", ".cache", False, False),  # dir-only rule, a file of that name stays
        ("*.log", "x/y/run.log", False, True),
        ("*.log", "run.log.txt", False, False),
        ("/build", "build", True, True),
        ("/build", "src/build", True, False),  # anchored at the root
        ("data/*.csv", "data/a.csv", False, True),
        ("data/*.csv", "data/sub/a.csv", False, False),  # * never crosses /
        ("data/**/*.csv", "data/sub/deep/a.csv", False, True),
        ("**/tmp", "a/b/tmp", True, True),
        ("file?.txt", "file1.txt", False, True),
        ("[ab].txt", "b.txt", False, True),
        ("[!ab].txt", "b.txt", False, False),
    ],
)
def test_gitignore_patterns(pattern, path, is_dir, excluded):
    assert Excludes([pattern]).excluded(path, is_dir) is excluded


def test_negation_and_comments_and_ignore_file(tmp_path):
    (tmp_path / ".smstudioignore").write_text("# big outputs\n*.bin\n!keep.bin\n\n")
    exc = load_excludes(str(tmp_path), default_excludes=True, extra=["scratch/"])
    assert exc.excluded("out/a.bin", False)
    assert not exc.excluded("out/keep.bin", False)
    assert exc.excluded("scratch", True)
    assert exc.excluded("__pycache__", True)
    assert exc.excluded(".ipynb_checkpoints", True)
    assert exc.excluded(".conda/pkgs", True)
    assert not exc.excluded(".conda/envs", True)
    assert not exc.excluded("notebook.ipynb", False)
    bare = load_excludes(str(tmp_path), default_excludes=False)
    assert not bare.excluded(".cache", True)


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../x", "a/../../x", "a//b", "./a", "", "a/./b", "a/\x00b", 5]
)
def test_hostile_paths_refused(path):
    with pytest.raises(BadInput):
        mf.check_path(path)


def test_entry_shape_checked():
    good = ["a.txt", "f", 0o644, 1, 3, 0, 0, [["0" * 64, "ab12", 0, 3, 3]]]
    assert list(mf.check_entry(good)) == good[:7] + [[mf.Ref(*good[7][0])]]
    for bad in (
        ["a.txt", "f", 0o644, 1, 5, 0, 0, [["0" * 64, "ab12", 0, 3, 3]]],  # sizes disagree
        ["a.txt", "x", 0o644, 1, 0, 0, 0, None],
        ["a.txt", "f", 0o644, 1, 3, 0, 0, [["0" * 64, "../p", 0, 3, 3]]],
        ["l", "l", 0o777, 1, 0, 0, 0, ""],
        ["d", "d", 0o40755, 1, 0, 0, 0, None],
        "not a list",
    ):
        with pytest.raises(BadInput):
            mf.check_entry(bad)


def test_scan_order_is_sort_key_order(tmp_path):
    for rel in ("a/x", "a.txt", "a b/c", "ab", "a-/z", "Z", "é/1", "a/x.d/y"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("1")
    os.symlink("nowhere", tmp_path / "dangling")
    (tmp_path / "empty").mkdir()
    rels = [r for r, *_ in walk(str(tmp_path), Excludes([]), ScanReport())]
    assert rels == sorted(rels, key=mf.sort_key)
    assert "dangling" in rels and "empty" in rels


def test_unreadable_directory_is_reported(tmp_path, monkeypatch):
    from smstudio_ext.backup import scan as scan_mod

    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "f").write_text("x")
    real_scandir = os.scandir

    def scandir(path):  # root reads everything: refuse this one directory as chmod 0 would
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(scan_mod.os, "scandir", scandir)
    report = ScanReport()
    rels = [r for r, *_ in walk(str(tmp_path), Excludes([]), report)]
    assert "locked" in rels and "locked/f" not in rels  # restored as an empty directory
    assert report.skipped == [
        {"path": "locked", "reason": "cannot list directory: Permission denied"}
    ]


def test_bucket_urls():
    assert parse_bucket_url("s3://my-bucket/a/b/") == ("my-bucket", "a/b")
    assert parse_bucket_url("s3://my-bucket") == ("my-bucket", "")
    with pytest.raises(NotConfigured):
        parse_bucket_url("")
    for bad in ("my-bucket", "s3://UPPER", "s3://b/../x", "http://x/y"):
        with pytest.raises(BadInput):
            parse_bucket_url(bad)


def test_config_validation(monkeypatch):
    monkeypatch.setenv("SMSTUDIO_BACKUP_BUCKET", "s3://env-bucket/p")
    monkeypatch.setenv("SMSTUDIO_BACKUP_INTERVAL_HOURS", "6")
    cfg = HomeBackup()
    assert cfg.bucket == "s3://env-bucket/p"
    assert cfg.interval_hours == 6
    with pytest.raises(TraitError):
        HomeBackup(bucket="my-bucket")
    with pytest.raises(TraitError):
        HomeBackup(expected_bucket_owner="12345")
    with pytest.raises(TraitError):
        HomeBackup(keep_last=0)
    with pytest.raises(TraitError):
        HomeBackup(interval_hours=-1)


def test_retention_policy_keeps_last_n_and_recent(monkeypatch):
    from smstudio_ext import clock

    ids = [
        "20261101T000000.000000Z-aaaa",
        "20261120T000000.000000Z-bbbb",
        "20261128T000000.000000Z-cccc",
        "20261129T000000.000000Z-dddd",
    ]
    with clock.travelling():
        now = clock.utcnow()
        # Freeze "now" at 2026-11-30 by travelling from the real clock.
        from datetime import datetime, timezone

        clock.travel(datetime(2026, 11, 30, tzinfo=timezone.utc) - now)
        assert select_kept(ids, keep_last=1, keep_days=5) == ids[2:]
        assert select_kept(ids, keep_last=3, keep_days=0) == ids[1:]
        assert select_kept(ids, keep_last=1, keep_days=0) == ids[3:]


def test_progress_line_shows_files_bytes_rate_eta(capsys):
    from smstudio_ext.backup.repo import Progress
    from smstudio_ext.cli.backup_progress import EngineProgress

    progress = Progress()
    progress.phase = "upload"
    progress.files_total, progress.bytes_total = 10, 10_000_000
    progress.add(4, 2_000_000)
    EngineProgress(progress, enabled=True).say(force=True)
    line = capsys.readouterr().err
    assert "files 4/10" in line and "1.9 MiB/9.5 MiB" in line and "/s" in line
    assert "ETA" in line and "ETA -" not in line
