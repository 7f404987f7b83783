"""The backup engine against the moto emulator: round trips, change detection, faults."""

from __future__ import annotations

import errno
import gzip
import json
import os
from datetime import timedelta

import pytest
from backup_support import (
    BUCKET,
    age_s3_objects,
    disk_fills_after,
    excluded_view,
    leftovers,
    make_home,
    tree,
)

from smstudio_ext import clock
from smstudio_ext.backup import readers as readers_mod
from smstudio_ext.backup import run as run_mod
from smstudio_ext.backup.lock import Lease
from smstudio_ext.backup.packer import Packer
from smstudio_ext.backup.repo import CorruptBackup
from smstudio_ext.backup.restore import DiskFull, RestoreOptions
from smstudio_ext.cli import main as cli_main
from smstudio_ext.errors import AccessDenied, BadInput, Conflict, NotConfigured, NotFound


def test_round_trip_is_byte_and_metadata_equal(make_service, bucket, home, tmp_path):
    # Given a home with odd names, modes, links (inside, outside, dangling), empty files and dirs
    make_home(home, big=True)
    svc = make_service()
    # When it is backed up and restored into a fresh directory
    result = svc.backup()
    assert result["snapshot_id"] and not result["skipped"]
    assert result["packs"] <= 3  # packed, not a PUT per file
    assert result["blobs_dedup"] >= 1  # copy.ipynb == a.ipynb
    out = tmp_path / "restored"
    restored = svc.restore("latest", target=str(out))
    # Then everything but the default excludes comes back identical
    assert restored["restored"] is True
    assert tree(out) == excluded_view(tree(home))
    assert os.readlink(out / "link-outside") == "/etc/hostname"  # a link, never followed
    assert (out / "notebooks" / "scratch").is_dir()
    assert summary_ok(svc.summary(), result["snapshot_id"])


def summary_ok(summary, snap_id):
    return (
        summary["configured"] is True
        and summary["bucket"] == f"s3://{BUCKET}/backups"
        and summary["last_snapshot_id"] == snap_id
        and summary["last_success"].endswith("Z")
    )


def test_no_change_reads_nothing_and_one_change_reads_one(make_service, bucket, home, aws):
    make_home(home)
    svc = make_service()
    svc.backup()
    aws.reset_counts()
    again = svc.backup()
    assert again["files_read"] == 0 and again["bytes_uploaded"] == 0
    assert aws.count("s3", "PutObject") == 2  # the lock and the snapshot: one manifest write
    assert aws.count("s3", "GetObject") == 1  # only the lease check before the commit
    (home / "notebooks" / "a.ipynb").write_text("changed")
    third = svc.backup()
    assert third["files_read"] == 1
    assert third["packs"] == 1


def test_rename_and_duplicate_are_not_uploaded_again(make_service, bucket, home):
    make_home(home)
    (home / "data.bin").write_bytes(os.urandom(300_000))
    svc = make_service()
    svc.backup()
    os.rename(home / "data.bin", home / "moved.bin")
    result = svc.backup()
    assert result["files_read"] == 1
    assert result["blobs_dedup"] == 1 and result["bytes_uploaded"] == 0


def test_append_to_large_file_uploads_about_the_change(make_service, bucket, home):
    big = home / "ckpt.pt"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    svc = make_service()
    svc.backup()
    with open(big, "ab") as fh:
        fh.write(os.urandom(100_000))
    result = svc.backup()
    assert result["bytes_uploaded"] < 9 * 1024 * 1024  # not the whole 12 MB


def test_state_rebuilt_from_remote_when_missing(make_service, bucket, home, tmp_path):
    make_home(home)
    svc = make_service()
    svc.backup()
    import shutil

    shutil.rmtree(tmp_path / "state")  # a new app on the same home / a fresh state dir
    result = make_service().backup()
    assert result["files_read"] == 0  # size + mtime matched the downloaded snapshot


def test_no_bucket_configured(make_service, home):
    svc = make_service(bucket="")
    with pytest.raises(NotConfigured, match="no backup bucket"):
        svc.backup()
    assert svc.summary() == {
        "configured": False,
        "bucket": None,
        "last_success": None,
        "last_snapshot_id": None,
    }
    assert svc.final_backup(5)["ran"] is False


def test_bucket_missing(make_service, aws, home):
    svc = make_service(bucket="s3://no-such-bucket/x")
    with pytest.raises(NotFound):
        svc.backup()


def test_access_denied_names_action_and_prefix(make_service, bucket, home, aws):
    make_home(home)
    aws.deny("PutObject", service="s3")
    with pytest.raises(AccessDenied) as info:
        make_service().backup()
    assert info.value.action == "s3:PutObject"
    assert "s3://home-backups/backups/local/" in info.value.message


def test_wrong_kms_key_is_a_clear_error(make_service, bucket, home, aws):
    make_home(home)
    aws.fail(
        "PutObject",
        code="KMS.NotFoundException",
        status=400,
        service="s3",
        message="Invalid keyId arn:aws:kms:us-east-1:123456789012:key/nope",
    )
    svc = make_service(kms_key_id="arn:aws:kms:us-east-1:123456789012:key/nope")
    with pytest.raises(Exception) as info:
        svc.backup()
    assert "KMS.NotFoundException" in str(info.value) or "keyId" in str(info.value)
    assert svc.snapshots() == []  # nothing half-written counts as a snapshot


def test_kms_and_owner_sent_on_every_put(make_service, bucket, home, aws):
    make_home(home)
    aws.client("kms")
    key = aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
    svc = make_service(kms_key_id=key, expected_bucket_owner="123456789012")
    svc.backup()
    s3 = aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    for k in keys:
        head = s3.head_object(Bucket=BUCKET, Key=k)
        assert head.get("ServerSideEncryption") == "aws:kms"


def test_throttling_and_5xx_are_retried(make_service, bucket, home, aws):
    make_home(home)
    aws.fail("PutObject", code="SlowDown", status=503, times=2, service="s3")
    aws.fail("ListObjectsV2", code="InternalError", status=500, times=1, service="s3")
    result = make_service().backup()
    assert result["snapshot_id"]


def test_hostile_manifest_refused(make_service, bucket, home, aws, tmp_path):
    make_home(home)
    svc = make_service()
    svc.backup()
    store = svc.store()
    header = {"format": 1, "id": "20991231T000000.000000Z-evil0000", "stats": {}}
    for evil in (
        ["../escape.txt", "f", 0o644, 1, 0, 0, 0, []],
        ["/abs.txt", "f", 0o644, 1, 0, 0, 0, []],
        ["sub/../../x", "d", 0o755, 1, 0, 0, 0, None],
    ):
        body = gzip.compress(json.dumps(header).encode() + b"\n" + json.dumps(evil).encode())
        store.put(store.snapshot_key(header["id"]), body)
        with pytest.raises(BadInput, match="hostile"):
            svc.restore("latest", target=str(tmp_path / "out"))
    # A file below a symlink of the same manifest would be written through the link.
    lines = [
        ["escape", "l", 0o777, 1, 0, 0, 0, str(tmp_path / "outside")],
        ["escape/pwned", "f", 0o644, 1, 0, 0, 0, []],
    ]
    body = gzip.compress(
        json.dumps(header).encode() + b"\n" + b"\n".join(json.dumps(x).encode() for x in lines)
    )
    store.put(store.snapshot_key(header["id"]), body)
    with pytest.raises(BadInput, match="hostile"):
        svc.restore("latest", target=str(tmp_path / "out2"))
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "outside").exists()


def test_file_deleted_or_grown_during_the_backup(make_service, bucket, home, monkeypatch):
    make_home(home)
    (home / "vanishing.txt").write_text("soon gone")
    growing = home / "growing.log"
    growing.write_text("start\n")
    real_walk = run_mod.walk

    def walk_then_delete(*args, **kwargs):
        yield from real_walk(*args, **kwargs)
        os.unlink(home / "vanishing.txt")  # after the scan, before the read

    real_add = Packer.add
    grown = {"done": False}

    def add_and_grow(self, data, name=""):
        if name == "growing.log" and not grown["done"]:
            grown["done"] = True
            with open(growing, "a") as fh:
                fh.write("more\n")
            os.utime(growing, ns=(1, 2_000_000_000))
        return real_add(self, data, name)

    monkeypatch.setattr(run_mod, "walk", walk_then_delete)
    monkeypatch.setattr(Packer, "add", add_and_grow)
    svc = make_service()
    result = svc.backup()
    assert {s["path"] for s in result["skipped"]} == {"vanishing.txt"}
    out = home.parent / "out"
    svc.restore("latest", target=str(out))
    assert (out / "growing.log").read_text() == "start\nmore\n"  # re-read after the change
    assert not (out / "vanishing.txt").exists()


def test_unreadable_file_is_skipped_and_reported(make_service, bucket, home, monkeypatch):
    make_home(home)
    (home / "secret.bin").write_text("x")
    real_open = os.open

    def deny(path, flags, *a, **kw):
        if str(path).endswith("secret.bin"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(readers_mod.os, "open", deny)
    svc = make_service()
    result = svc.backup()
    assert result["snapshot_id"]
    assert result["skipped"] == [{"path": "secret.bin", "reason": "cannot open: Permission denied"}]
    snaps = svc.snapshots()
    assert snaps[-1]["skipped"] == 1


def test_restore_chosen_paths_and_conflicts_and_overwrite(make_service, bucket, home, tmp_path):
    make_home(home)
    svc = make_service()
    svc.backup()
    out = tmp_path / "part"
    res = svc.restore("latest", target=str(out), options=RestoreOptions(paths=("notebooks",)))
    assert res["files"] == 2
    assert sorted(os.listdir(out / "notebooks")) == ["a.ipynb", "copy.ipynb", "scratch"]
    assert not (out / "bin").exists()
    with pytest.raises(NotFound):
        svc.restore("latest", target=str(tmp_path / "x"), options=RestoreOptions(paths=("nope",)))
    # In place: a locally changed file is a conflict unless --overwrite
    (home / "notebooks" / "a.ipynb").write_text("local edit")
    with pytest.raises(Conflict, match="overwrite"):
        svc.restore("latest", target=str(home))
    assert (home / "notebooks" / "a.ipynb").read_text() == "local edit"  # nothing lost
    svc.restore("latest", target=str(home), options=RestoreOptions(overwrite=True))
    assert (home / "notebooks" / "a.ipynb").read_text().startswith('{"cells"')
    (home / "readonly.txt").chmod(0o444)
    svc.restore(
        "latest", target=str(home), options=RestoreOptions(overwrite=True)
    )  # read-only files replaced too


def test_restore_resumes_and_if_empty(make_service, bucket, home, tmp_path):
    make_home(home, big=True)
    svc = make_service()
    svc.backup()
    out = tmp_path / "r"
    svc.restore("latest", target=str(out))
    (out / "models" / "ckpt.pt").unlink()
    again = svc.restore("latest", target=str(out))
    assert again["files_written"] == 1  # completed files are skipped
    assert tree(out) == excluded_view(tree(home))
    skipped = svc.restore("latest", target=str(out), options=RestoreOptions(if_empty=True))
    assert skipped["restored"] is False and "not empty" in skipped["reason"]
    fresh = tmp_path / "fresh-home"
    fresh.mkdir()
    (fresh / ".bashrc").write_text("# image default")
    done = svc.restore("latest", target=str(fresh), options=RestoreOptions(if_empty=True))
    assert done["restored"] is True


def test_disk_full_removes_partial_files(make_service, bucket, home, tmp_path, monkeypatch):
    make_home(home, big=True)
    svc = make_service()
    svc.backup()
    disk_fills_after(monkeypatch, 3)
    out = tmp_path / "full"
    with pytest.raises(DiskFull, match="disk full"):
        svc.restore("latest", target=str(out))
    want = excluded_view(tree(home))
    for rel, info in tree(out).items():
        if info[0] == "file" and rel != ".smstudio-restore.json":
            assert info == want[rel]  # every file left behind is complete and correct
    assert leftovers(out) == (True, [])  # unfinished (marked), no temporaries


def test_corrupt_pack_detected_on_restore(make_service, bucket, home, aws, tmp_path):
    make_home(home)
    svc = make_service()
    svc.backup()
    s3 = aws.client("s3")
    pack = next(
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"] if "/data/" in o["Key"]
    )
    body = bytearray(s3.get_object(Bucket=BUCKET, Key=pack)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    s3.put_object(Bucket=BUCKET, Key=pack, Body=bytes(body))
    with pytest.raises(CorruptBackup):
        svc.restore("latest", target=str(tmp_path / "c"))


def test_lock_excludes_concurrent_runs_and_expires(make_service, bucket, home):
    make_home(home)
    svc = make_service(lease_seconds=60)
    holder = Lease(svc.store(), "prune", lease_seconds=60).acquire()
    try:
        with pytest.raises(Conflict, match="lock"):
            svc.backup()
    finally:
        holder._stop.set()  # simulate a crashed holder: no renewal, no release
    with clock.travelling():
        clock.travel(timedelta(seconds=120))
        assert svc.backup()["snapshot_id"]  # the expired lease no longer blocks


def test_prune_applies_retention_and_keeps_restorable(make_service, bucket, home, tmp_path, aws):
    make_home(home)
    svc = make_service(keep_last=1, keep_days=0)
    svc.backup()
    (home / "notebooks" / "a.ipynb").write_text("v2" * 1000)
    svc.backup()
    (home / "notebooks" / "a.ipynb").write_text("v3" * 1000)
    last = svc.backup()
    assert len(svc.snapshots()) == 3
    age_s3_objects("/data/", 3600)  # packs older than two leases (young ones are kept)
    dry = svc.prune(dry_run=True)
    assert len(dry["snapshots_removed"]) == 2 and len(svc.snapshots()) == 3
    result = svc.prune()
    assert result["snapshots_kept"] == [last["snapshot_id"]]
    assert result["packs_removed"] >= 1
    out = tmp_path / "after-prune"
    svc.restore("latest", target=str(out))
    assert (out / "notebooks" / "a.ipynb").read_text() == "v3" * 1000


def test_cli_exit_codes(aws, bucket, home, tmp_path, monkeypatch, capsys):
    make_home(home)
    monkeypatch.setenv("HOME", str(tmp_path / "clihome"))
    common = ["--endpoint-url", aws.endpoint_url, "--metadata", str(tmp_path / "none.json")]
    assert cli_main([*common, "backup", "--source", str(home)]) == 6  # not configured
    assert cli_main([*common, "backup", "--bucket", "nope", "--source", str(home)]) == 2
    args = [*common, "backup", "--bucket", bucket, "--source", str(home), "--json"]
    assert cli_main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["snapshot_id"] and out["location"].startswith(f"{bucket}/local/")
    assert cli_main([*common, "snapshots", "--bucket", bucket, "--json"]) == 0
    snaps = json.loads(capsys.readouterr().out)
    assert [s["id"] for s in snaps] == [out["snapshot_id"]]
    target = tmp_path / "cli-restore"
    restore = [*common, "restore", "latest", "--bucket", bucket, "--target", str(target)]
    assert cli_main(restore) == 0
    (target / "empty0").write_text("edited")
    assert cli_main(restore) == 5  # conflict without --overwrite
    assert cli_main([*restore, "--overwrite"]) == 0
    assert cli_main([*common, "restore", "nosuch", "--bucket", bucket]) == 4
    assert cli_main([*common, "backup", "prune", "--bucket", bucket, "--json"]) == 0
    assert (
        cli_main([*common, "backup", "--bucket", bucket, "--source", str(home), "--dry-run"]) == 0
    )


def test_edit_inside_large_file_reuses_the_chunks_before_it(make_service, bucket, home, tmp_path):
    big = home / "ckpt.pt"
    data = bytearray(os.urandom(16 * 1024 * 1024))
    big.write_bytes(data)
    svc = make_service()
    first = svc.backup()
    data[12 * 1024 * 1024 : 12 * 1024 * 1024 + 10] = b"0123456789"  # in place, near the end
    big.write_bytes(data)
    second = svc.backup()
    assert second["bytes_uploaded"] < 10 * 1024 * 1024
    # The leading chunks were matched by hash at their offsets, not re-chunked and looked up:
    # only the edited chunk is new, and only the chunks after it go through the packer again.
    assert first["blobs_new"] >= 6
    assert second["blobs_new"] <= 2
    assert second["blobs_new"] + second["blobs_dedup"] <= first["blobs_new"] - 3
    out = tmp_path / "r"
    svc.restore("latest", target=str(out))
    assert (out / "ckpt.pt").read_bytes() == bytes(data)


def _compressible_home(home):
    (home / "notes.txt").write_text("the same words again and again\n" * 4000)
    (home / "data.csv").write_text(
        "".join(f"{i},{i * 7 % 13},label-{i % 5}\n" for i in range(20000))
    )
    (home / "tiny").write_bytes(b"x")


def test_snapshots_written_with_zlib_still_restore(
    make_service, bucket, home, tmp_path, monkeypatch
):
    # Given a snapshot written where no zstd was importable (zlib fallback)
    from smstudio_ext.backup import packer

    _compressible_home(home)
    monkeypatch.setattr(packer, "_ZSTD", None)
    svc = make_service()
    result = svc.backup()
    assert result["bytes_uploaded"] < result["bytes"] / 3  # stored compressed
    assert result["compression"] == "zlib"
    # When it is restored by a version that writes zstd
    monkeypatch.undo()
    assert packer._ZSTD is not None
    svc.restore("latest", target=str(tmp_path / "out"))
    # Then every byte comes back
    assert tree(tmp_path / "out") == tree(home)


def test_zstd_backup_without_a_decoder_is_a_clear_error(
    make_service, bucket, home, tmp_path, monkeypatch
):
    from smstudio_ext.backup import packer

    _compressible_home(home)
    svc = make_service()
    result = svc.backup()
    assert result["bytes_uploaded"] < result["bytes"] / 3
    assert result["compression"] == "zstd"
    monkeypatch.setattr(packer, "_ZSTD", None)
    with pytest.raises(NotConfigured, match="pip install zstandard"):
        svc.restore("latest", target=str(tmp_path / "out"))
    # and nothing half-written is left behind
    assert leftovers(tmp_path / "out")[1] == []


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
def test_damaged_compressed_blob_is_corrupt_backup(
    make_service, bucket, home, aws, tmp_path, monkeypatch, codec
):
    # Given a compressed blob whose stream is damaged after its first bytes (magic kept)
    from smstudio_ext.backup import packer

    if codec == "zlib":
        monkeypatch.setattr(packer, "_ZSTD", None)
    (home / "notes.txt").write_text("the same words again and again\n" * 4000)
    svc = make_service()
    svc.backup()
    monkeypatch.undo()
    s3 = aws.client("s3")
    pack = next(
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"] if "/data/" in o["Key"]
    )
    body = bytearray(s3.get_object(Bucket=BUCKET, Key=pack)["Body"].read())
    assert body[:4] == packer.ZSTD_MAGIC if codec == "zstd" else body[0] == 0x78
    body[8:40] = bytes(32)
    s3.put_object(Bucket=BUCKET, Key=pack, Body=bytes(body))
    # Then the restore refuses it as damaged, naming the blob
    with pytest.raises(CorruptBackup, match=f"blob .* invalid {codec} data"):
        svc.restore("latest", target=str(tmp_path / "c"))
