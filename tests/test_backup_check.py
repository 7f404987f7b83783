# ruff: noqa: F811  (the fixtures imported from test_backup_engine are test arguments)
"""`smstudio backup check [--read-data]`: every snapshot restorable, or what is not and where."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from test_backup_engine import (  # noqa: F401  (fixtures)
    BUCKET,
    bucket,
    home,
    make_home,
    make_service,
)

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
    assert all(p["problem"] == f"pack {pack} is missing" for p in result["problems"])
    assert "models/ckpt.pt" in {p["path"] for p in result["problems"]}
    assert {p["snapshot"] for p in result["problems"]} == {s["id"] for s in backed_up.snapshots()}


def test_truncated_pack_is_reported(backed_up, aws):
    s3 = aws.client("s3")
    key = _data_keys(aws)[0]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body[: len(body) // 2])
    result = backed_up.check()
    assert not result["ok"] and "the blob ends at" in result["problems"][0]["problem"]


def test_flipped_byte_found_only_when_reading_data_and_names_the_file(
    make_service, bucket, home, aws
):
    (home / "only.txt").write_bytes(os.urandom(5000))  # incompressible: stored as is
    svc = make_service()
    svc.backup()
    s3 = aws.client("s3")
    (key,) = _data_keys(aws)
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
