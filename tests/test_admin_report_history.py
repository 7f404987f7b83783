"""Compliance over time: each run writes a dated result (directory or S3 prefix); the report
counts owners passing/failing/unknown per guardrail per run and lists the owners who changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from report_support import clients_for, report_options

from smstudio_ext import clock
from smstudio_ext.admin.report import build_report
from smstudio_ext.admin.report.history import Store
from smstudio_ext.errors import BadInput
from smstudio_ext.testing import seed_world


def _untag_carol(aws, world):
    arn = f"arn:aws:sagemaker:{aws.region}:{aws.account_id}:user-profile/{world.domain_id}/carol"
    aws.client("sagemaker").delete_tags(ResourceArn=arn, TagKeys=["studiouserid"])


def _two_runs(aws, world, tmp_path, location):
    clients = clients_for(aws)
    opts = report_options(world, tmp_path, savings=False, history=location)
    first, _ = build_report(clients, opts)
    _untag_carol(aws, world)
    with clock.travelling():
        clock.travel(timedelta(days=1))
        second, _ = build_report(clients, opts)
    return first, second


def _check_trend(first, second, world):
    c = second["compliance"]
    assert c["status"] == "ok" and len(c["runs"]) == 2
    tags = next(g for g in c["guardrails"] if g["id"] == "user-id-tag")
    owners = len(world.profiles) + len(world.spaces)
    before, after = tags["runs"]
    assert (before["pass"], before["fail"]) == (owners, 0)
    # carol's profile lost the tag (spaces take their owner's: none of them is carol's)
    assert (after["pass"], after["fail"]) == (owners - 1, 1)
    changed = [x for x in c["changes"] if x["guardrail"] == "user-id-tag"]
    assert [(x["owner"].rsplit("/", 1)[-1], x["from"], x["to"]) for x in changed] == [
        ("user-profile:carol", "pass", "fail")
    ]
    assert c["totals"][-1]["fail"] == c["totals"][0]["fail"] + 1
    assert first["compliance"]["runs"] == [first["generated_at"]]


def test_history_in_a_directory(aws, tmp_path):
    world = seed_world(aws, kind="spaces")
    location = tmp_path / "history"
    first, second = _two_runs(aws, world, tmp_path, str(location))
    _check_trend(first, second, world)
    files = sorted(p.name for p in location.iterdir())
    assert len(files) == 2 and all(f.startswith("audit-run-") for f in files)
    # a foreign or broken file is skipped with a note, never fatal
    (location / "audit-run-20200101T000000000000Z.json").write_text("{not json")
    runs, skipped = Store(str(location)).runs(10)
    assert len(runs) == 2 and skipped and "audit-run-2020" in skipped[0]


def test_history_under_an_s3_prefix(aws, tmp_path):
    world = seed_world(aws, kind="spaces")
    location = f"s3://{world.bucket}/audits/prod"
    first, second = _two_runs(aws, world, tmp_path, location)
    _check_trend(first, second, world)
    keys = [
        o["Key"]
        for o in aws.client("s3").list_objects_v2(Bucket=world.bucket, Prefix="audits/prod/")[
            "Contents"
        ]
    ]
    assert len(keys) == 2 and second["compliance"]["written"].startswith(location + "/audit-run-")


def test_an_unwritable_store_is_stated_and_the_run_still_reports(aws, tmp_path):
    world = seed_world(aws, kind="spaces")
    aws.deny("PutObject", service="s3")
    doc, _ = build_report(
        clients_for(aws),
        report_options(world, tmp_path, savings=False, history=f"s3://{world.bucket}/audits"),
    )
    c = doc["compliance"]
    assert c["status"] == "partial" and "could not be used" in c["reason"]
    assert len(c["runs"]) == 1 and c["guardrails"]


@pytest.mark.parametrize("location", ["s3://", "s3://Bad_Bucket/x", "FILE"])
def test_bad_history_locations(tmp_path, location):
    if location == "FILE":
        (tmp_path / "f").write_text("x")
        location = str(tmp_path / "f")
    with pytest.raises(BadInput):
        Store(location)


def test_an_s3_history_object_over_the_cap_is_skipped_not_read_whole(aws, tmp_path, monkeypatch):
    # an object's size is whoever wrote it's choice: read at most the cap (+1 byte), then skip it
    from smstudio_ext.admin.report import history

    world = seed_world(aws, kind="spaces")
    location = f"s3://{world.bucket}/audits"
    _two_runs(aws, world, tmp_path, location)
    s3 = aws.client("s3")
    listed = s3.list_objects_v2(Bucket=world.bucket, Prefix="audits/")["Contents"]
    cap = max(o["Size"] for o in listed)
    monkeypatch.setattr(history, "HISTORY_CAP", cap)
    big = "audit-run-29990101T000000000000Z.json"
    s3.put_object(Bucket=world.bucket, Key=f"audits/{big}", Body=b" " * (cap + 1))
    runs, skipped = Store(location, clients_for(aws)).runs(10)
    assert len(runs) == 2
    assert len(skipped) == 1, skipped
    assert skipped[0].startswith(f"{big}: s3://{world.bucket}/audits/{big} is larger than ")
    assert skipped[0].endswith(": not read as an audit history file"), skipped
