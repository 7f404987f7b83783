"""The emulator's CloudTrail ``LookupEvents``: what the report reads, as the API reference says."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from report_support import clients_for

from smstudio_ext import clock
from smstudio_ext.admin.report.trail import TrailReader, parse
from smstudio_ext.aws import USER_AGENT
from smstudio_ext.testing import cloudtrail, seed_world


def _lookup(ct, **params):
    return ct.lookup_events(**params)


@pytest.fixture
def ct(aws):
    # botocore's own retries off: the emulator's throttling must be visible
    return aws.client("cloudtrail", retries={"max_attempts": 0, "mode": "standard"})


def _events(aws, world, n, name="DeleteApp", hours=1):
    now = clock.utcnow()
    cloudtrail.put_events(
        aws.account_id,
        aws.region,
        [
            cloudtrail.app_event(
                name, now - timedelta(hours=hours * (i + 1)), account_id=aws.account_id,
                region=aws.region, domain_id=world.domain_id, app_type="JupyterLab",
                app_name="default", space_name="alice-space",
            )
            for i in range(n)
        ],
    )  # fmt: skip


def test_calls_through_the_emulator_are_recorded_with_the_callers_user_agent(aws):
    world = seed_world(aws, kind="spaces")
    clients = clients_for(aws)
    clients.client("sagemaker").delete_app(**world.app_key())
    page = aws.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteApp"}]
    )
    assert len(page["Events"]) == 1
    item = page["Events"][0]
    record = json.loads(item["CloudTrailEvent"])
    assert USER_AGENT in record["userAgent"]  # smstudio-ext/<version> on every client we make
    assert record["eventSource"] == "sagemaker.amazonaws.com"
    assert record["requestParameters"] == {
        "domainId": world.domain_id,
        "spaceName": "alice-space",
        "appType": "JupyterLab",
        "appName": "default",
    }
    event = parse(item)
    assert event is not None and event.ours and event.owner == "alice-space"
    # the seeding CreateApp calls were recorded too, with their ResourceSpec
    creates = aws.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateApp"}]
    )["Events"]
    types = {parse(e).instance_type for e in creates}
    assert types == {a["instance_type"] for a in world.apps}
    # a failed call is recorded with its errorCode and is no event for the report
    with pytest.raises(ClientError):
        clients.client("sagemaker").delete_app(**{**world.app_key(), "AppName": "nope"})
    failed = [
        e
        for e in aws.client("cloudtrail").lookup_events()["Events"]
        if json.loads(e["CloudTrailEvent"]).get("errorCode")
    ]
    assert len(failed) == 1 and parse(failed[0]) is None


def test_pagination_newest_first_and_tokens_bound_to_parameters(aws, ct):
    world = seed_world(aws, kind="spaces")
    _events(aws, world, 7)
    attrs = [{"AttributeKey": "EventName", "AttributeValue": "DeleteApp"}]
    seen, token = [], None
    for _ in range(5):
        params = {"LookupAttributes": attrs, "MaxResults": 3}
        if token:
            params["NextToken"] = token
        page = _lookup(ct, **params)
        seen += [e["EventTime"] for e in page["Events"]]
        token = page.get("NextToken")
        if not token:
            break
        time.sleep(0.6)  # stay under 2 requests per second
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)
    first = _lookup(ct, LookupAttributes=attrs, MaxResults=3)
    time.sleep(0.6)
    with pytest.raises(ClientError) as err:
        _lookup(ct, MaxResults=3, NextToken=first["NextToken"])  # other parameters
    assert err.value.response["Error"]["Code"] == "InvalidNextTokenException"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (
            {
                "LookupAttributes": [
                    {"AttributeKey": "EventName", "AttributeValue": "DeleteApp"},
                    {"AttributeKey": "EventName", "AttributeValue": "CreateApp"},
                ]
            },
            "InvalidLookupAttributesException",
        ),
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"StartTime": "future", "EndTime": "past"}, "InvalidTimeRangeException"),
        ({"StartTime": "91 days"}, "InvalidTimeRangeException"),
    ],
)
def test_bad_parameters_answer_as_cloudtrail_does(aws, ct, params, code):
    now = clock.utcnow()
    times = {
        "future": now + timedelta(days=1),
        "past": now - timedelta(days=1),
        "91 days": now - timedelta(days=91),
    }
    params = {k: times.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
    with pytest.raises(ClientError) as err:
        _lookup(ct, **params)
    assert err.value.response["Error"]["Code"] == code


def test_events_older_than_90_days_are_gone_and_the_rate_is_two_per_second(aws, ct):
    world = seed_world(aws, kind="spaces")
    _events(aws, world, 3, hours=24 * 40)  # 40, 80 and 120 days ago
    got = _lookup(
        ct,
        StartTime=clock.utcnow() - timedelta(days=89, hours=23),
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteApp"}],
    )["Events"]
    assert len(got) == 2
    # a burst above 2 per second is throttled
    codes = []
    for _ in range(4):
        try:
            _lookup(ct, MaxResults=1)
            codes.append("ok")
        except ClientError as exc:
            codes.append(exc.response["Error"]["Code"])
    assert "ThrottlingException" in codes


def test_the_reader_keeps_under_the_rate_and_skips_failed_calls(aws):
    world = seed_world(aws, kind="spaces")
    _events(aws, world, 60)  # two pages of DeleteApp
    reader = TrailReader(clients_for(aws, max_attempts=0))
    result = reader.read(clock.utcnow(), 30)
    assert result.status == "ok" and result.throttled == 0
    assert len([e for e in result.events if e.name == "DeleteApp"]) == 60
    assert result.requests == 5  # DeleteApp x2, CreateApp, DeleteSpace, DeleteUserProfile


def test_every_client_we_derive_keeps_our_user_agent(aws):
    base = clients_for(aws)
    variants = [
        base,
        base.derive(region="eu-west-1"),
        base.derive(credentials={"AccessKeyId": "AKIAX", "SecretAccessKey": "s"}),
        base.with_request_hook(lambda service, operation: None),
    ]
    for clients in variants:
        for service in ("sagemaker", "cloudtrail", "sts"):
            client = clients.client(service, retries={"max_attempts": 0, "mode": "standard"})
            assert USER_AGENT in client.meta.config.user_agent_extra
    assert variants[1].client("sagemaker").meta.region_name == "eu-west-1"
    # (that derived credentials reach the right account: test_admin_report_accounts.py)
