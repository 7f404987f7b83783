"""The AWS client factory and its error translation, over real HTTP."""

from __future__ import annotations

import socket
import time

import pytest

from smstudio_ext.aws import AwsClients, call, iam_action, paginate, validate_region
from smstudio_ext.errors import (
    AccessDenied,
    AwsError,
    AwsUnavailable,
    BadInput,
    InvalidCredentials,
    NotConfigured,
    NotFound,
)


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


# -- error messages: each cause its own, checked through the emulator's fault injection ----------


def _clients(aws, *services):
    return AwsClients(
        "us-east-1", endpoint_urls={s: aws.endpoint_url for s in services}, max_attempts=1
    )


def test_denied_names_the_calling_identity_not_an_execution_role(aws):
    # the emulator's denial quotes the principal, as IAM does
    aws.deny("ListApps")
    with pytest.raises(AccessDenied) as info:
        call(_clients(aws, "sagemaker").client("sagemaker"), "ListApps", DomainIdEquals="d-x")
    message = info.value.message
    assert "Grant sagemaker:ListApps to the calling identity" in message
    assert "(arn:aws:sts::123456789012:assumed-role/SageMakerExecutionRole/SageMaker)" in message
    assert "execution role." not in message  # an admin CLI on a laptop has none


@pytest.mark.parametrize(
    "code", ["ExpiredTokenException", "UnrecognizedClientException", "InvalidSignatureException"]
)
def test_refused_credentials_are_their_own_error(aws, code):
    aws.fail("ListApps", code=code, status=400, message="The security token included is expired")
    with pytest.raises(InvalidCredentials) as info:
        call(_clients(aws, "sagemaker").client("sagemaker"), "ListApps", DomainIdEquals="d-x")
    err = info.value
    assert err.code == "credentials_invalid" and err.status == 403 and err.exit_code == 3
    assert "expired or invalid" in err.message and "Renew them" in err.message
    assert "Grant" not in err.message  # a permission would not help
    assert not isinstance(err, AccessDenied)


def test_expired_s3_token_is_a_credentials_error(aws):
    aws.fail("ListObjectsV2", code="ExpiredToken", status=400, service="s3")
    with pytest.raises(InvalidCredentials, match="s3:ListBucket"):
        call(_clients(aws, "s3").client("s3"), "ListObjectsV2", Bucket="b")


def test_kms_denial_names_the_key_action(aws):
    # Given S3 refusing a read because the caller may not use the object's KMS key
    s3 = _clients(aws, "s3").client("s3")
    aws.fail(
        "GetObject",
        code="AccessDenied",
        status=403,
        service="s3",
        times=1,
        message="User: arn:aws:sts::123456789012:assumed-role/Admin/me is not authorized to "
        "perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key/k1 because "
        "no identity-based policy allows the kms:Decrypt action",
    )
    with pytest.raises(AccessDenied) as info:
        call(s3, "GetObject", resource="s3://b/k", Bucket="b", Key="k")
    err = info.value
    assert err.action == "kms:Decrypt" and err.extra["denied_action"] == "s3:GetObject"
    assert "because of its KMS key" in err.message
    assert "Grant kms:Decrypt on the key to the calling identity" in err.message
    # a write refused by the key without naming the action: kms:GenerateDataKey
    aws.fail(
        "PutObject",
        code="AccessDenied",
        status=403,
        service="s3",
        times=1,
        message="The ciphertext refers to a customer master key that does not exist, does not "
        "exist in this region, or you are not allowed to access.",
    )
    with pytest.raises(AccessDenied) as info:
        call(s3, "PutObject", Bucket="b", Key="k", Body=b"x")
    assert info.value.action == "kms:GenerateDataKey"
    # a disabled key is not a permission problem
    aws.fail("PutObject", code="KMS.DisabledException", status=400, service="s3", message="off")
    with pytest.raises(AwsError) as info:
        call(s3, "PutObject", Bucket="b", Key="k", Body=b"x")
    assert "check that the key exists, is enabled" in info.value.message
    assert info.value.extra["action"] == "kms:GenerateDataKey"


def test_cost_explorer_not_enabled_is_not_a_missing_permission(aws):
    aws.fail(
        "GetCostAndUsage",
        code="AccessDeniedException",
        status=400,
        service="ce",
        message="User not enabled for cost explorer access",
    )
    ce = _clients(aws, "ce").client("ce")
    with pytest.raises(NotConfigured) as info:
        call(
            ce,
            "GetCostAndUsage",
            TimePeriod={"Start": "2025-01-01", "End": "2025-02-01"},
            Granularity="MONTHLY",
            Metrics=["UnblendedCost"],
        )
    assert "Cost Explorer is not enabled for this account" in info.value.message
    assert "Billing console" in info.value.message


def test_paginate_follows_next_token_and_can_be_bounded():
    pages = {None: {"Items": [1, 2], "NextToken": "a"}, "a": {"Items": [3], "NextToken": "b"}}
    pages["b"] = {"Items": None}
    seen = []

    def fetch(**params):
        seen.append(params.get("NextToken"))
        return pages[params.get("NextToken")]

    assert list(paginate(fetch, "Items", Filter="x")) == [1, 2, 3]
    assert seen == [None, "a", "b"]
    assert list(paginate(fetch, "Items", max_pages=1)) == [1, 2]
