"""smstudio audit against the emulator: LCC detection and version, guardrails, idle, apps and
cost, exit codes, and a bounded request rate on a big domain."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest

from smstudio_ext.admin.audit import AuditOptions, RateLimiter, exit_code, run_audit
from smstudio_ext.aws import AwsClients
from smstudio_ext.cli import main
from smstudio_ext.errors import BadInput
from smstudio_ext.testing.pricing import hourly_price

SERVICES = ("s3", "sagemaker", "iam", "sts", "pricing")
LCC_SCRIPT = b"#!/bin/bash\n# smstudio-ext lifecycle config, version 1.4.0\necho start\n"


@pytest.fixture
def clients(aws):
    return AwsClients(
        aws.region, endpoint_urls={s: aws.endpoint_url for s in SERVICES}, max_attempts=3
    )


def make_lcc(aws, name, content=LCC_SCRIPT, app_type="JupyterLab"):
    return aws.client("sagemaker").create_studio_lifecycle_config(
        StudioLifecycleConfigName=name,
        StudioLifecycleConfigContent=base64.b64encode(content).decode(),
        StudioLifecycleConfigAppType=app_type,
    )["StudioLifecycleConfigArn"]


def attach_domain_default(aws, world, arn):
    aws.client("sagemaker").update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [arn]}},
    )


def test_compliant_domain_with_our_lcc(aws, world, clients):
    # Given our LCC (found by its marker line, whatever its name) is the domain default
    arn = make_lcc(aws, "platform-start")
    attach_domain_default(aws, world, arn)
    # When the domain is audited
    report = run_audit(clients, AuditOptions(world.domain_id, max_rps=200))
    data = report.to_dict()
    s = data["summary"]
    # Then every profile and space is listed with our LCC and its version from the marker
    assert s["profiles"] == len(world.profiles) and s["spaces"] == len(world.spaces)
    assert s["with_our_lcc"] == len(world.profiles) + len(world.spaces)
    assert s["lcc_versions"] == {"1.4.0": len(world.profiles) + len(world.spaces)}
    owners = {(o["kind"], o["name"]): o for o in data["owners"]}
    assert owners[("user-profile", "alice")]["lcc"]["source"] == "domain default"
    # domain guardrails pass in the compliant world
    assert {c["id"]: c["status"] for c in data["domain_checks"]} == {
        "network-vpc-only": "pass",
        "volume-kms": "pass",
        "sharing-kms": "pass",
        "source-identity": "pass",
    }
    # running apps: reported unreachable (honestly), cost = sum of list prices
    live = [a for a in world.apps]
    assert s["running_apps"] == len(live)
    assert s["extension_unreachable"] == len(live) and s["extension_reachable"] == 0
    expected = sum(
        0.0 if a["instance_type"] == "system" else hourly_price(a["instance_type"], aws.region)
        for a in live
    )
    assert s["estimated_cost_per_hour"] == pytest.approx(expected, abs=1e-3)
    assert s["cost_complete"] is True
    # the seeded apps were started without our LCC: those app checks fail, with a reason
    failing = report.failing("fail")
    assert failing and all(f["id"].startswith("app-lcc:") for f in failing)
    assert exit_code(report, "fail") == 1


def test_own_lcc_by_prefix_and_version_in_name(aws, world, clients):
    arn = make_lcc(aws, "smstudio-jl-v3", content=b"#!/bin/bash\necho no marker\n")
    aws.client("sagemaker").update_user_profile(
        DomainId=world.domain_id,
        UserProfileName="bob",
        UserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [arn]}},
    )
    report = run_audit(clients, AuditOptions(world.domain_id, max_rps=200, include_prices=False))
    bob = next(o for o in report.owners if o.name == "bob")
    assert bob.lcc == {
        "ours": True,
        "source": "own",
        "name": "smstudio-jl-v3",
        "version": "3",
        "arn": arn,
    }
    carol = next(o for o in report.owners if o.name == "carol")
    assert carol.lcc["ours"] is False
    assert {c.id: c.status for c in carol.checks}["smstudio-lcc"] == "fail"


def test_non_compliant_domain_fails(aws, clients):
    from smstudio_ext.testing import seed_world

    world = seed_world(aws, kind="spaces", compliant=False)
    report = run_audit(clients, AuditOptions(world.domain_id, max_rps=200, include_prices=False))
    checks = {c.id: c.status for c in report.domain_checks}
    assert checks == {
        "network-vpc-only": "fail",
        "volume-kms": "fail",
        "sharing-kms": "fail",
        "source-identity": "fail",
    }
    carol = next(o for o in report.owners if o.name == "carol")
    assert {c.id: c.status for c in carol.checks}["user-id-tag"] == "fail"
    alice = next(o for o in report.owners if o.name == "alice")
    assert {c.id: c.status for c in alice.checks}["user-id-tag"] == "pass"
    # no IdleSettings and no LCC: idle shutdown inactive everywhere
    assert all(not o.idle["active"] for o in report.owners)
    assert exit_code(report, "fail") == 1


def test_allowed_instance_types_and_unknown_severity(aws, world, clients):
    aws.deny("ListTags")  # tags unreadable: the user-id tag check becomes unknown
    opts = AuditOptions(
        world.domain_id, max_rps=200, allowed_instance_types=["ml.t3.medium"], include_prices=False
    )
    report = run_audit(clients, opts)
    statuses = {(o.name, c.id): c.status for o in report.owners for c in o.checks}
    assert statuses[("alice", "user-id-tag")] == "unknown"
    bad = [k for k, v in statuses.items() if k[1].startswith("instance-type:") and v == "fail"]
    expected_bad = {
        a["app_name"] for a in world.apps if a["instance_type"] not in ("ml.t3.medium", "system")
    }
    assert {k[1].split(":", 1)[1] for k in bad} == expected_bad
    unknown_only = [f for f in report.failing("unknown") if f["status"] == "unknown"]
    assert unknown_only and exit_code(report, "unknown") == 1


def test_describe_failure_is_reported_not_fatal(aws, world, clients):
    aws.fail("DescribeSpace", code="ValidationException", status=400, times=1)
    report = run_audit(clients, AuditOptions(world.domain_id, max_rps=200, include_prices=False))
    errored = [o for o in report.owners if o.error]
    assert len(errored) == 1 and errored[0].kind == "space"
    assert errored[0].checks[0].status == "unknown"


def test_throttling_is_retried(aws, world, clients):
    aws.fail("DescribeUserProfile", code="ThrottlingException", status=400, times=2)
    report = run_audit(clients, AuditOptions(world.domain_id, max_rps=200, include_prices=False))
    assert not [o for o in report.owners if o.error]


def test_rate_limiter_bounds_rate_with_fake_clock():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    bucket = RateLimiter(10, burst=1, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(21):
        bucket.acquire()
    assert now[0] == pytest.approx(2.0)  # 1 immediately, then 20 more at 10/s
    with pytest.raises(BadInput):
        RateLimiter(0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"domain_id": "nope"}, "invalid domain id"),
        ({"concurrency": 0}, "concurrency must be between 1 and 64"),
        ({"max_rps": 0}, "max requests per second"),
        ({"max_rps": 5000}, "max requests per second"),
    ],
)
def test_bad_options(kwargs, message):
    base = {"domain_id": "d-abc123"}
    base.update(kwargs)
    with pytest.raises(BadInput, match=message):
        AuditOptions(**base).validate()


def seed_profiles(aws, world, n):
    store = aws.store()
    with store.lock:
        for i in range(n):
            store.create_user_profile(
                {
                    "DomainId": world.domain_id,
                    "UserProfileName": f"user-{i:05d}",
                    "Tags": [{"Key": "studiouserid", "Value": f"user-{i:05d}"}],
                }
            )


def _rate_test(aws, world, clients, n, max_rps):
    seed_profiles(aws, world, n)
    aws.reset_counts()
    t0 = time.monotonic()
    report = run_audit(
        clients,
        AuditOptions(world.domain_id, concurrency=16, max_rps=max_rps, include_prices=False),
    )
    elapsed = time.monotonic() - t0
    served = aws.count("sagemaker")
    assert report.summary()["profiles"] == n + len(world.profiles)
    assert not [o for o in report.owners if o.error]
    # the emulator's own request count over the elapsed time stays within the bound (the bucket
    # allows an initial burst of 10 requests)
    assert served == sum(report.calls.values())
    assert served <= max_rps * elapsed + 10, (served, elapsed)
    # and the limit was actually the bottleneck, not something else
    assert served / elapsed > 0.5 * max_rps
    return report


def test_bounded_rate_small_domain(aws, world, clients):
    _rate_test(aws, world, clients, 200, max_rps=150)


@pytest.mark.skipif(
    not os.environ.get("SMSTUDIO_BIG_TESTS"), reason="2,000 profiles: set SMSTUDIO_BIG_TESTS=1"
)
def test_bounded_rate_2000_profiles(aws, world, clients):
    _rate_test(aws, world, clients, 2000, max_rps=250)


def test_cli_json_and_exit_codes(aws, world, capsys):
    base = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
    code = main([*base, "audit", "--domain", world.domain_id, "--json", "--max-rps", "200"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1  # seeded apps started without our LCC
    assert data["summary"]["profiles"] == len(world.profiles)
    assert data["failing"]
    code = main([*base, "audit", "--domain", world.domain_id, "--max-rps", "200"])
    out = capsys.readouterr().out
    assert code == 1 and "checks:" in out and "app-lcc:" in out and "unreachable" in out
    code = main([*base, "audit", "--domain", "d-doesnotexist", "--max-rps", "200"])
    assert code == 4 and "DescribeDomain" in capsys.readouterr().err
    code = main([*base, "audit", "--domain", world.domain_id, "--concurrency", "0"])
    assert code == 2


def test_profile_timeout_override_keeps_the_domains_idle_enabled():
    # regression: a one-level merge dropped the domain's LifecycleManagement
    from smstudio_ext.admin.audit import _idle, _merge_settings

    domain = {"JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": {
        "LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 60}}}}  # fmt: skip
    own = {"JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": {
        "IdleTimeoutInMinutes": 120}}}}  # fmt: skip
    assert _idle(_merge_settings(domain, own), False)["active"]
