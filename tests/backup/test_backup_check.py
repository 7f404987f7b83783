"""`smstudio backup check [--read-data]`: every snapshot restorable, or what is not and where."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from backup_support import BUCKET, make_home, snapshot_data

from smstudio_ext.cli import main as cli_main


@pytest.fixture
def backed_up(make_service, bucket, home):
    make_home(home, big=True)  # small files, odd names, a chunked 9 MB file
    svc = make_service()
    svc.backup()
    (home / "notebooks" / "a.ipynb").write_text('{"cells": [1]}\n' * 50)
    svc.backup()
    return svc


def _data_keys(aws):
    s3 = aws.client("s3")
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"] if "/data/" in o["Key"]]


def test_a_sound_repository_checks_ok_with_and_without_data(backed_up):
    quick = backed_up.check()
    assert quick["ok"] and quick["problems"] == [] and quick["snapshots"] == 2
    assert quick["files"] > 10 and quick["bytes_read"] == 0
    full = backed_up.check(read_data=True)
    assert full["ok"] and full["bytes_read"] > 9 * 1024 * 1024


def test_missing_pack_is_reported_with_the_files_it_breaks(backed_up, aws):
    s3 = aws.client("s3")
    victim = max(
        _data_keys(aws), key=lambda k: s3.head_object(Bucket=BUCKET, Key=k)["ContentLength"]
    )
    s3.delete_object(Bucket=BUCKET, Key=victim)
    result = backed_up.check()
    assert not result["ok"]
    pack = victim.rsplit("/", 1)[-1]
    assert all(p["problem"].startswith(f"pack {pack} is missing") for p in result["problems"])
    # one line per snapshot and pack, naming a file it breaks and how many more
    assert len(result["problems"]) == 2
    assert {p["snapshot"] for p in result["problems"]} == {s["id"] for s in backed_up.snapshots()}


def test_truncated_pack_is_reported(backed_up, aws):
    s3 = aws.client("s3")
    key = backed_up.store().pack_key(_any_pack(backed_up))
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body[: len(body) // 2])
    result = backed_up.check()
    assert not result["ok"] and "a blob ends at" in result["problems"][0]["problem"]


def test_flipped_byte_found_only_when_reading_data_and_names_the_file(
    make_service, bucket, home, aws
):
    (home / "only.txt").write_bytes(os.urandom(5000))  # incompressible: stored as is
    svc = make_service()
    svc.backup()
    s3 = aws.client("s3")
    key = svc.store().pack_key(_any_pack(svc))  # the file's pack (not the manifest's)
    body = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[100] ^= 0xFF
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(body))
    assert svc.check()["ok"]  # sizes and references are fine
    result = svc.check(read_data=True)
    assert not result["ok"]
    (problem,) = result["problems"]
    assert problem["path"] == "only.txt" and "checksum mismatch" in problem["problem"]


def test_hostile_snapshot_is_a_problem_not_a_crash(backed_up):
    store = backed_up.store()
    snap_id = "20991231T000000.000000Z-evil0000"
    header = {"format": 1, "id": snap_id, "stats": {}}
    line = json.dumps(["../escape", "f", 0o644, 1, 0, 0, 0, []]).encode()
    store.put(
        store.snapshot_key(snap_id), gzip.compress(json.dumps(header).encode() + b"\n" + line)
    )
    result = backed_up.check(read_data=True)
    assert not result["ok"] and result["snapshots"] == 3
    (problem,) = result["problems"]
    assert problem["snapshot"] == snap_id and "hostile" in problem["problem"]


def test_cli_exit_codes_and_messages(backed_up, aws, capsys, monkeypatch):
    ep = ["--endpoint-url", aws.endpoint_url]
    loc = ["--bucket", f"s3://{BUCKET}/backups"]
    monkeypatch.setenv("HOME", backed_up.home)
    assert cli_main([*ep, "backup", "check", *loc, "--read-data"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 2 snapshot(s)") and "of data verified" in out
    aws.client("s3").delete_object(Bucket=BUCKET, Key=_data_keys(aws)[0])
    assert cli_main([*ep, "backup", "check", *loc, "--json"]) == 10
    assert json.loads(capsys.readouterr().out)["ok"] is False


def _put(svc, lines, snap_id="20991231T000000.000000Z-evil0000", codecs=None):
    store = svc.store()
    header = {"format": 1, "id": snap_id, "stats": {}}
    if codecs is not None:
        header["codecs"] = codecs
    body = b"\n".join(json.dumps(x).encode() for x in lines)
    store.put(
        store.snapshot_key(snap_id), gzip.compress(json.dumps(header).encode() + b"\n" + body)
    )


def test_check_refuses_what_restore_refuses(backed_up):
    # an entry below a link of the same manifest, and an empty blob reference
    pack = _any_pack(backed_up)
    _put(backed_up, [
        ["a", "l", 0o777, 1, 0, 0, 0, "/etc"],
        ["a/x", "f", 0o644, 1, 0, 0, 0, []],
    ])  # fmt: skip
    _put(backed_up, [["b", "f", 0o644, 1, 0, 0, 0, [["0" * 64, pack, 0, 0, 0]]]],
         snap_id="20991231T000001.000000Z-evil0001")  # fmt: skip
    result = backed_up.check(read_data=True)
    problems = {p["snapshot"][-4:]: p["problem"] for p in result["problems"]}
    assert "under the symlink 'a'" in problems["0000"] and "empty blob" in problems["0001"]


def _any_pack(svc):
    from smstudio_ext.backup.manifest import SnapshotReader

    with SnapshotReader(snapshot_data(svc, svc.snapshots()[0]["id"])) as r:
        return next(e[7][0][1] for e in r.entries() if e[1] == "f" and e[7])


def test_read_data_verifies_every_location_of_a_blob(make_service, bucket, home):
    # the same content referenced at a wrong offset by another entry is caught
    (home / "a.bin").write_bytes(os.urandom(3000))
    (home / "b.bin").write_bytes(os.urandom(3000))
    svc = make_service()
    svc.backup()
    from smstudio_ext.backup.manifest import SnapshotReader

    with SnapshotReader(snapshot_data(svc, svc.snapshots()[0]["id"])) as r:
        entries = [e for e in r.entries() if e[1] == "f"]
    a, b = entries
    wrong = [a[7][0][0], *b[7][0][1:]]  # a's checksum at b's place
    _put(svc, [["x", "f", 0o644, 1, 3000, 0, 0, a[7]], ["y", "f", 0o644, 1, 3000, 0, 0, [wrong]]])
    result = svc.check(read_data=True)
    bad = [p for p in result["problems"] if p["snapshot"].endswith("evil0000")]
    assert [p["path"] for p in bad] == ["y"] and "checksum mismatch" in bad[0]["problem"]


def test_zstd_snapshot_without_a_decoder_is_a_problem_not_a_crash(backed_up, monkeypatch):
    from smstudio_ext.backup import packer

    monkeypatch.setattr(packer, "_ZSTD", None)
    _put(backed_up, [], codecs=["zstd"])
    result = backed_up.check(read_data=True)
    assert not result["ok"]
    assert any("pip install zstandard" in p["problem"] for p in result["problems"])


def test_a_snapshot_pruned_during_the_check_is_skipped(backed_up, monkeypatch):
    from smstudio_ext.backup import check as check_mod

    real = check_mod.list_snapshot_ids

    def listed_then_pruned(store):
        ids = real(store)
        store.delete([store.snapshot_key(ids[0])])
        return ids

    monkeypatch.setattr(check_mod, "list_snapshot_ids", listed_then_pruned)
    result = backed_up.check()
    assert result["ok"] and result["snapshots"] == 1 and result["snapshots_vanished"] == 1
