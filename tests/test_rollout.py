"""Proof of rollout: a real server records the version it runs as tags on its space (or Classic
profile), once per start; denied is one log line and never fatal; local mode does nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from smstudio_ext import __version__
from smstudio_ext.aws import AwsClients
from smstudio_ext.context import load_context
from smstudio_ext.rollout import (
    TAG_SEEN,
    TAG_VERSION,
    read_rollout,
    record_version,
    tag_value,
    target,
)
from smstudio_ext.testing.validation import validation_errors


async def start(serverapp):
    """What the real server does once its IOLoop runs (pytest-jupyter does not): start the
    extensions, which runs our start hook."""
    await serverapp.extension_manager.start_all_extensions()


async def wait_for(predicate, timeout=30.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(step)
    raise AssertionError("condition not reached in time")


def tags_of(aws, arn):
    return aws.client("sagemaker").list_tags(ResourceArn=arn)["Tags"]


def owner_arn(aws, world, kind):
    sm = aws.client("sagemaker")
    if kind == "space":
        return sm.describe_space(DomainId=world.domain_id, SpaceName=world.primary_space)[
            "SpaceArn"
        ]
    return sm.describe_user_profile(DomainId=world.domain_id, UserProfileName="alice")[
        "UserProfileArn"
    ]


@pytest.fixture
def clients(aws):
    return AwsClients(aws.region, endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)


@pytest.mark.parametrize(
    ("studio_app", "kind"), [("JupyterLab", "space"), ("JupyterServer", "profile")],
    indirect=["studio_app"],
)  # fmt: skip
async def test_the_running_version_is_recorded_on_the_owner(
    aws, world, jp_serverapp, jp_fetch, kind
):
    # Given a server started as a seeded Studio app
    arn = owner_arn(aws, world, kind)
    await start(jp_serverapp)
    await jp_fetch("smstudio", "context")
    # Then, once started, it has tagged its owner (the space; the profile in Classic)
    await wait_for(lambda: read_rollout(tags_of(aws, arn))["version"] is not None)
    seen = read_rollout(tags_of(aws, arn))
    assert seen["version"] == tag_value(__version__)
    when = datetime.strptime(seen["seen"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - when) < timedelta(minutes=5)
    # the app itself is not tagged (it is gone 24 h after it stops), and it was done once
    app = world.find_app(app_type="JupyterLab" if kind == "space" else "JupyterServer")
    assert TAG_VERSION not in {t["Key"] for t in tags_of(aws, app["arn"])}
    assert aws.count("sagemaker", "AddTags") == 1


@pytest.fixture
def add_tags_denied(aws, world):
    aws.deny("AddTags")


@pytest.mark.parametrize("studio_app", ["JupyterLab"], indirect=True)
async def test_a_denied_add_tags_is_one_log_line_and_the_server_runs(
    add_tags_denied, aws, world, jp_serverapp, jp_fetch, caplog
):
    caplog.set_level(logging.INFO, logger="smstudio_ext")
    await start(jp_serverapp)
    data = json.loads((await jp_fetch("smstudio", "context")).body)
    assert data["kind"] == "spaces"
    await wait_for(lambda: aws.count("sagemaker", "AddTags") >= 1)
    await wait_for(lambda: any("could not record" in r.getMessage() for r in caplog.records))
    lines = [r for r in caplog.records if "could not record the running version" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "sagemaker:AddTags" in lines[0].getMessage()
    # still serving
    assert json.loads((await jp_fetch("smstudio", "context")).body)["kind"] == "spaces"
    assert aws.count("sagemaker", "AddTags") == 1


async def test_local_mode_records_nothing(aws, jp_serverapp, jp_fetch):
    await start(jp_serverapp)
    data = json.loads((await jp_fetch("smstudio", "context")).body)
    assert data["kind"] == "local"
    services = jp_serverapp.web_app.settings["smstudio"]
    await wait_for(lambda: services.rollout is not None)  # the hook ran, and skipped
    assert services.rollout.status == "skipped"
    assert aws.count("sagemaker", "AddTags") == 0


def test_record_version_against_the_emulator(aws, world, clients, tmp_path):
    path = world.write_metadata(tmp_path / "meta.json", world.find_app(app_type="JupyterLab"))
    ctx = load_context(path)
    kind, arn = target(ctx)
    assert kind == "space" and arn.endswith(f":space/{world.domain_id}/{world.primary_space}")
    now = datetime(2026, 11, 30, 2, 17, 30, 123456, tzinfo=timezone.utc)
    record = record_version(clients, ctx, "0.2.0+g1a2b3c", now)
    assert record.status == "recorded"
    assert read_rollout(tags_of(aws, arn)) == {
        "version": "0.2.0+g1a2b3c",
        "seen": "2026-11-30T02:17:30Z",
    }
    # a second start overwrites both tags (no pile-up)
    record_version(clients, ctx, "0.3.0", now + timedelta(days=1))
    keys = [t["Key"] for t in tags_of(aws, arn)]
    assert keys.count(TAG_VERSION) == 1 and keys.count(TAG_SEEN) == 1
    # failures are reported, not raised
    aws.fail("AddTags", code="ThrottlingException", status=400)
    assert record_version(clients, ctx, "0.3.0").status == "failed"
    aws.clear_faults()
    aws.deny("AddTags")
    denied = record_version(clients, ctx, "0.3.0")
    assert denied.status == "denied" and "sagemaker:AddTags" in denied.message
    assert record_version(clients, load_context(tmp_path / "none.json"), "0.3.0").status == (
        "skipped"
    )


@pytest.mark.parametrize(
    "version", ["0.1.0", "1.2.3rc1+local.dirty", "0.1.0 (patched; by ops!)", "v" * 300]
)
def test_tag_values_always_fit_the_models_pattern(version):
    tags = [{"Key": TAG_VERSION, "Value": tag_value(version)}, {"Key": TAG_SEEN, "Value": "x"}]
    arn = "arn:aws:sagemaker:us-east-1:123456789012:space/d-abc/s"
    assert validation_errors("sagemaker", "AddTags", {"ResourceArn": arn, "Tags": tags}) == []
