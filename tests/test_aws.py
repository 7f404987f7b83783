"""The AWS client factory and its error translation, over real HTTP."""

from __future__ import annotations

import socket
import time

import pytest

from smstudio_ext.aws import AwsClients, call, iam_action, validate_region
from smstudio_ext.errors import AccessDenied, AwsUnavailable, BadInput, NotFound


def test_validate_region():
    assert validate_region("eu-west-1") == "eu-west-1"
    with pytest.raises(BadInput, match="unknown AWS region 'mars-east-1'"):
        validate_region("mars-east-1")
    with pytest.raises(BadInput, match="invalid AWS region"):
        validate_region("us_east_1")
    with pytest.raises(BadInput):
        AwsClients("xx-nowhere-9")


def test_iam_action_names():
    assert iam_action("sagemaker", "DeleteApp") == "sagemaker:DeleteApp"
    assert iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("ce", "GetCostAndUsage") == "ce:GetCostAndUsage"


def test_endpoint_env_var_is_honoured_as_boto3_does(monkeypatch, aws):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", aws.endpoint_url)
    sm = AwsClients("us-east-1").client("sagemaker")
    assert sm.meta.endpoint_url == aws.endpoint_url
    assert "Domains" in call(sm, "ListDomains")


def test_explicit_endpoint_and_user_agent(aws):
    clients = AwsClients("us-east-1", endpoint_urls={"s3": aws.endpoint_url})
    s3 = clients.client("s3")
    assert s3.meta.endpoint_url == aws.endpoint_url
    assert "smstudio-ext/" in s3.meta.config.user_agent_extra
    assert s3.meta.config.retries["mode"] == "adaptive"
    assert clients.client("s3") is s3  # cached


def test_unreachable_endpoint_fails_fast():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening, closed below: refused
    clients = AwsClients(
        "us-east-1", endpoint_urls={"sagemaker": f"http://127.0.0.1:{port}"}, max_attempts=2
    )
    start = time.monotonic()
    with pytest.raises(AwsUnavailable, match="cannot reach AWS for sagemaker:ListApps"):
        call(clients.client("sagemaker"), "ListApps", DomainIdEquals="d-x")
    assert time.monotonic() - start < 10


def test_denied_call_names_the_action(aws):
    aws.fail("ListApps", code="AccessDeniedException", status=400)
    clients = AwsClients("us-east-1", endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)
    with pytest.raises(AccessDenied) as info:
        call(clients.client("sagemaker"), "ListApps", DomainIdEquals="d-x")
    assert info.value.action == "sagemaker:ListApps"
    assert "Grant sagemaker:ListApps" in info.value.message
    assert info.value.to_dict()["action"] == "sagemaker:ListApps"


def test_not_found_is_typed(aws):
    clients = AwsClients("us-east-1", endpoint_urls={"s3": aws.endpoint_url}, max_attempts=1)
    with pytest.raises(NotFound):
        call(clients.client("s3"), "HeadBucket", Bucket="no-such-bucket-here")


def test_request_hook_sees_every_http_request_including_retries(aws):
    # Given clients with a hook and an operation that fails twice with a 500 (retried)
    seen = []
    base = AwsClients("us-east-1", endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=3)
    hooked = base.with_request_hook(lambda service, op: seen.append((service, op)))
    aws.fail("ListDomains", code="InternalFailure", status=500, times=2)
    # When the hooked client calls it
    call(hooked.client("sagemaker"), "ListDomains")
    # Then the hook saw all three attempts; the base clients are untouched
    assert seen == [("sagemaker", "ListDomains")] * 3
    call(base.client("sagemaker"), "ListDomains")
    assert len(seen) == 3


@pytest.mark.parametrize("how", ["argument", "env"])
def test_unknown_aws_profile_is_a_clear_error(monkeypatch, tmp_path, how):
    from smstudio_ext.errors import NotConfigured

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))  # no profiles at all
    if how == "env":
        monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    with pytest.raises(NotConfigured, match="does-not-exist.*~/.aws/config"):
        # (from the environment it already fails where the region is checked)
        kwargs = {"profile": "does-not-exist"} if how == "argument" else {}
        AwsClients("us-east-1", **kwargs).client("s3")


def test_unknown_aws_profile_from_the_cli_exits_6_with_one_line(monkeypatch, tmp_path, capsys):
    from smstudio_ext.cli import main

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["snapshots", "--bucket", "s3://some-bucket/x"]) == 6
    err = capsys.readouterr().err
    assert "does-not-exist" in err and "Traceback" not in err
