"""Context discovery: Classic, spaces, local, and every way the metadata file can be bad."""

from __future__ import annotations

import json
import logging
import os

import pytest

from smstudio_ext.context import load_context

SPACES = {
    "AppType": "JupyterLab",
    "DomainId": "d-abc123",
    "SpaceName": "alice-space",
    "UserProfileName": "",
    "ResourceArn": "arn:aws:sagemaker:eu-west-1:111122223333:app/d-abc123/alice-space/jupyterlab/default",
    "ResourceName": "default",
    "AppImageVersion": "",
}
CLASSIC = {
    "AppType": "JupyterServer",
    "DomainId": "d-abc123",
    "UserProfileName": "alice",
    "ResourceArn": "arn:aws:sagemaker:us-west-2:111122223333:app/d-abc123/alice/jupyterserver/default",
    "ResourceName": "default",
}


def write(tmp_path, content) -> str:
    path = tmp_path / "resource-metadata.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return str(path)


def test_spaces_metadata(tmp_path):
    ctx = load_context(write(tmp_path, SPACES), env={})
    assert ctx.kind == "spaces"
    assert (ctx.domain_id, ctx.space_name, ctx.app_name) == ("d-abc123", "alice-space", "default")
    assert ctx.user_profile_name is None  # empty string is treated as absent
    assert ctx.region == "eu-west-1" and ctx.account_id == "111122223333"
    assert (ctx.owner_kind, ctx.owner_name) == ("space", "alice-space")
    assert ctx.metadata_status == "ok" and ctx.warning is None


def test_classic_metadata_and_region_precedence(tmp_path):
    path = write(tmp_path, CLASSIC)
    ctx = load_context(path, env={"AWS_REGION": "ap-south-1"})
    assert ctx.kind == "classic" and ctx.app_type == "JupyterServer"
    assert ctx.region == "us-west-2"  # the ARN wins over the environment
    assert (ctx.owner_kind, ctx.owner_name) == ("user-profile", "alice")
    assert load_context(path, region="eu-central-1", env={}).region == "eu-central-1"


def test_kind_inferred_without_app_type(tmp_path):
    data = {k: v for k, v in SPACES.items() if k != "AppType"}
    assert load_context(write(tmp_path, data), env={}).kind == "spaces"


def test_missing_file_is_local_mode(tmp_path, caplog):
    ctx = load_context(str(tmp_path / "nope.json"), env={"AWS_DEFAULT_REGION": "us-east-2"})
    assert ctx.kind == "local" and ctx.metadata_status == "missing"
    assert ctx.region == "us-east-2" and not ctx.in_studio


@pytest.mark.parametrize(
    "content, status, words",
    [
        (b"", "empty", "is empty"),
        (b"   \n", "empty", "is empty"),
        (b"{not json", "malformed", "not valid JSON"),
        (b"\xff\xfe\x00", "malformed", "not valid JSON"),
        (b"[1, 2]", "malformed", "JSON list"),
        (b'{"Foo": 1}', "malformed", "names no domain"),
    ],
)
def test_bad_metadata_gives_local_mode_and_a_clear_log_line(
    tmp_path, caplog, content, status, words
):
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        ctx = load_context(write(tmp_path, content), env={})
    assert ctx.kind == "local" and ctx.metadata_status == status
    assert words in ctx.warning
    assert any(words in r.getMessage() and "local mode" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_metadata(tmp_path):
    path = write(tmp_path, SPACES)
    os.chmod(path, 0)
    ctx = load_context(path, env={})
    assert ctx.metadata_status == "unreadable"


def test_directory_instead_of_file_is_unreadable(tmp_path):
    ctx = load_context(str(tmp_path), env={})
    assert ctx.kind == "local" and ctx.metadata_status == "unreadable"


def test_unknown_app_type_warns(tmp_path):
    ctx = load_context(write(tmp_path, {**SPACES, "AppType": "RStudioServerPro"}), env={})
    assert ctx.kind == "spaces" and "unknown AppType" in ctx.warning


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "huge"])
def test_metadata_that_is_a_device_a_fifo_or_huge_is_one_clear_line(tmp_path, caplog, kind):
    # --metadata /dev/zero was read until the OOM killer came; a FIFO blocked for ever
    path = kind
    if kind == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
    elif kind == "huge":
        path = str(tmp_path / "huge.json")
        with open(path, "wb") as fh:
            fh.truncate(4 << 30)  # sparse
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        ctx = load_context(path, env={})
    assert ctx.kind == "local" and ctx.metadata_status == "unreadable"
    expected = {
        "/dev/zero": "/dev/zero is a character device, not a regular file",
        "fifo": "is a FIFO, not a regular file",
        "huge": "is larger than 64 KB",
    }[kind]
    assert expected in ctx.warning and "not read as resource metadata" in ctx.warning
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and expected in lines[0] and "\n" not in lines[0]
