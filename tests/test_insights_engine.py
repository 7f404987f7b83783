"""The insights engine against the emulator: seeded worlds, faults, Cost Explorer, pricing, caches."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from datetime import timedelta

import pytest

from smstudio_ext import clock
from smstudio_ext.aws import AwsClients
from smstudio_ext.context import load_context
from smstudio_ext.insights import pricing
from smstudio_ext.insights.config import Insights
from smstudio_ext.insights.costs import billed_periods
from smstudio_ext.insights.engine import InsightsEngine
from smstudio_ext.insights.guardrails import BUILTIN, image_name
from smstudio_ext.testing import pricing as emu_pricing
from smstudio_ext.testing.guardrails import evaluate_domain, evaluate_owner
from smstudio_ext.testing.seed import seed_world

SERVICES = ("s3", "sagemaker", "ce", "pricing", "sts", "iam", "logs")


def clients_for(emu) -> AwsClients:
    return AwsClients(
        emu.region, endpoint_urls={s: emu.endpoint_url for s in SERVICES}, max_attempts=1
    )


def idle_ok():
    return {"enabled": True, "timeout_minutes": 60, "dry_run": False, "max_timeout_minutes": 120}


def backup_ok():
    when = clock.utcnow() - timedelta(hours=1)
    return {"configured": True, "bucket": "b", "last_success": when.isoformat(), "last_snapshot_id": "s1"}  # fmt: skip


def compliant_config(world, tmp_path, **extra) -> Insights:
    """Allow exactly what the seeded world runs (computed from the world, not hard-coded)."""
    return Insights(
        allowed_instance_types=sorted({a["instance_type"] for a in world.apps}),
        approved_images=sorted({image_name(a["image_arn"]) for a in world.apps}),
        price_cache_path=str(tmp_path / "prices.json"),
        **extra,
    )


@pytest.fixture
def engines(tmp_path):
    made = []

    def make(emu, world, app_type="JupyterLab", config=None, providers=None, app=None):
        app = app or world.find_app(app_type=app_type)
        path = world.write_metadata(tmp_path / f"meta-{len(made)}.json", app)
        ctx = load_context(path)
        engine = InsightsEngine(
            clients_for(emu),
            config or Insights(price_cache_path=str(tmp_path / "prices.json")),
            ctx,
            providers=providers,
        )
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close(wait=True)  # no call of this test may land in the next one


def by_id(data):
    return {g["id"]: g for g in data["guardrails"]}


# -- compliant and non-compliant worlds -------------------------------------------------------------


@pytest.mark.parametrize("app_type", ["JupyterLab", "JupyterServer"])
def test_compliant_domain_all_pass(aws, engines, tmp_path, app_type):
    # Given a compliant domain, an admin config matching it, and healthy idle/backup engines
    world = seed_world(aws, compliant=True)
    engine = engines(
        aws,
        world,
        app_type,
        compliant_config(world, tmp_path),
        providers={"idle": idle_ok, "backup": backup_ok},
    )
    # When the panel asks
    data = engine.collect()
    # Then every built-in check passes, every part is ok
    results = by_id(data)
    assert set(results) == set(BUILTIN)
    assert {g["id"]: g["status"] for g in data["guardrails"]} == {i: "pass" for i in BUILTIN}
    assert all(
        data["parts"][p]["status"] == "ok" for p in ("context", "tags", "costs", "guardrails")
    )
    assert data["parts"]["guardrails"]["summary"] == {"pass": len(BUILTIN), "fail": 0, "unknown": 0}
    for g in data["guardrails"]:
        assert g["why"] and g["fix"] and g["title"] and g["level"] in ("domain", "owner", "app")


def test_platform_idle_settings_count_when_smstudio_idle_is_absent(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    data = engines(aws, world, "JupyterLab", compliant_config(world, tmp_path)).collect()
    idle = by_id(data)["idle-shutdown"]
    assert idle["status"] == "pass" and idle["evidence"]["source"] == "platform"
    assert by_id(data)["backup-recent"]["status"] == "unknown"  # no backup engine here


def _attach_root_image(aws, world):
    sm = aws.client("sagemaker")
    sm.create_image(ImageName="team-root", RoleArn=world.execution_role_arn)
    sm.create_app_image_config(
        AppImageConfigName="team-root-config",
        KernelGatewayImageConfig={
            "KernelSpecs": [{"Name": "python3"}],
            "FileSystemConfig": {"MountPath": "/root", "DefaultUid": 0, "DefaultGid": 0},
        },
    )
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={
            "KernelGatewayAppSettings": {
                "CustomImages": [
                    {"ImageName": "team-root", "AppImageConfigName": "team-root-config"}
                ]
            }
        },
    )


def test_non_compliant_domain_each_check_fails_for_its_reason(aws, engines, tmp_path):
    # Given a non-compliant domain with a root custom image, an admin allowing only the small
    # instance and the CPU image, idle off, an old backup, and a caller who is not alice
    world = seed_world(aws, compliant=False)
    _attach_root_image(aws, world)
    kg = world.find_app(app_type="KernelGateway")
    allowed = sorted({kg["instance_type"]})
    config = Insights(
        allowed_instance_types=allowed,
        approved_images=["sagemaker-distribution-cpu"],
        caller_user_id="mallory",
        price_cache_path=str(tmp_path / "p.json"),
        max_idle_timeout_minutes=120,
        backup_rpo_hours=24,
    )
    old = (clock.utcnow() - timedelta(hours=48)).isoformat()
    providers = {
        "idle": lambda: {**idle_ok(), "enabled": False},
        "backup": lambda: {**backup_ok(), "last_success": old},
    }
    data = engines(aws, world, "JupyterServer", config, providers).collect()
    results = by_id(data)
    # Then every check fails, each for its own reason
    assert {i: r["status"] for i, r in results.items()} == {i: "fail" for i in BUILTIN}
    assert "PublicInternetOnly" in results["network-vpc-only"]["reason"]
    assert results["domain-volume-kms"]["evidence"]["KmsKeyId"] is None
    assert "without S3KmsKeyId" in results["sharing-bucket-kms"]["reason"]
    others = {a["instance_type"] for a in world.apps if a["owner"] == "alice"} - set(allowed)
    others.discard("system")
    assert others and all(t in results["instance-type-allowed"]["reason"] for t in others)
    assert "datascience-1.0" in results["image-approved"]["reason"]
    assert "'mallory'" in results["user-id-tag"]["reason"]
    assert "DISABLED" in results["execution-role-identity"]["reason"]
    assert "team-root (0/0)" in results["custom-image-uid"]["reason"]
    assert "idle shutdown is off" in results["idle-shutdown"]["reason"]
    assert (
        "48." in results["backup-recent"]["reason"] or "h old" in results["backup-recent"]["reason"]
    )


def test_missing_user_id_tag_and_platform_idle_off(aws, engines, tmp_path):
    world = seed_world(aws, compliant=False)
    engine = engines(aws, world, "JupyterLab")
    carol = evaluate_owner(engine.clients, world.domain_id, "user-profile", "carol", engine=engine)
    tag = {r["id"]: r for r in carol}["user-id-tag"]
    assert tag["status"] == "fail" and "no studiouserid tag" in tag["reason"]
    space = by_id(engine.collect())
    assert space["idle-shutdown"]["status"] == "fail"
    assert "neither smstudio's nor the platform's" in space["idle-shutdown"]["reason"]
    assert space["user-id-tag"]["status"] == "pass"  # found on the space owner's profile
    assert space["user-id-tag"]["evidence"]["on"] == "user-profile"


def test_idle_timeout_above_the_admin_maximum_fails(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    config = Insights(max_idle_timeout_minutes=30, price_cache_path=str(tmp_path / "p.json"))
    platform = by_id(engines(aws, world, "JupyterLab", config).collect())["idle-shutdown"]
    assert platform["status"] == "fail" and "exceeds the maximum 30 min" in platform["reason"]
    ours = by_id(
        engines(aws, world, "JupyterLab", config, {"idle": lambda: {**idle_ok(), "dry_run": True}})
        .collect()
    )["idle-shutdown"]  # fmt: skip
    assert ours["status"] == "fail" and "dry-run" in ours["reason"]


def test_idle_guardrail_follows_the_mode_smstudio_off_platform_on(aws, engines, tmp_path):
    # Given the compliant world (the platform's IdleSettings on, 60 min) and smstudio's own idle
    # shutdown turned off or in dry-run on this space (platform mode: we only feed the platform)
    world = seed_world(aws, compliant=True)
    config = Insights(max_idle_timeout_minutes=120, price_cache_path=str(tmp_path / "p.json"))
    for own in ({**idle_ok(), "enabled": False}, {**idle_ok(), "dry_run": True}):
        result = by_id(
            engines(aws, world, "JupyterLab", config, {"idle": lambda own=own: own}).collect()
        )["idle-shutdown"]
        # Then the guardrail passes on the platform's shutdown, as the panel's mode says
        assert result["status"] == "pass", result
        assert result["evidence"]["mode"]["mode"] == "platform"
        assert "the platform stops idle" in result["reason"]
    # and with both on, the shorter timeout is the one judged
    both = by_id(
        engines(
            aws,
            world,
            "JupyterLab",
            config,
            {"idle": lambda: {**idle_ok(), "timeout_minutes": 500}},
        ).collect()
    )["idle-shutdown"]
    assert both["status"] == "pass" and both["evidence"]["mode"]["mode"] == "both"
    assert both["evidence"]["mode"]["effective_timeout_minutes"] == 60


# -- permissions and partial failures ----------------------------------------------------------------


def test_caller_without_permissions_gets_unknown_with_the_action(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    for op in ("DescribeDomain", "DescribeSpace", "ListApps", "ListTags"):
        aws.deny(op)
    data = engines(aws, world, "JupyterLab", compliant_config(world, tmp_path)).collect()
    results = by_id(data)
    expect = {
        "network-vpc-only": "sagemaker:DescribeDomain",
        "domain-volume-kms": "sagemaker:DescribeDomain",
        "execution-role-identity": "sagemaker:DescribeDomain",
        "sharing-bucket-kms": "sagemaker:DescribeSpace",
        "instance-type-allowed": "sagemaker:ListApps",
        "image-approved": "sagemaker:ListApps",
        "user-id-tag": "sagemaker:DescribeSpace",
    }
    for check_id, action in expect.items():
        assert results[check_id]["status"] == "unknown", check_id
        assert results[check_id]["action"] == action and action in results[check_id]["reason"]
    # the other parts say why they are empty, and the answer is still an answer
    assert data["parts"]["tags"]["status"] == "partial"
    assert {e["action"] for e in data["parts"]["tags"]["errors"]} >= {"sagemaker:ListTags"}
    assert data["costs"]["estimate"]["status"] == "error"
    assert data["costs"]["estimate"]["action"] == "sagemaker:ListApps"
    actions = {e["action"] for e in data["parts"]["guardrails"]["errors"]}
    assert {"sagemaker:DescribeDomain", "sagemaker:ListApps"} <= actions


def test_one_failing_call_spoils_only_its_part(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    aws.fail("ListTags", code="InternalFailure", status=500)
    data = engines(aws, world, "JupyterLab", compliant_config(world, tmp_path)).collect()
    assert data["parts"]["tags"]["status"] == "partial" and data["tags"] == []
    assert data["parts"]["costs"]["status"] == "ok"
    assert data["costs"]["estimate"]["per_hour"] > 0
    results = by_id(data)
    assert results["user-id-tag"]["status"] == "unknown"
    assert results["network-vpc-only"]["status"] == "pass"
    assert results["instance-type-allowed"]["status"] == "pass"


# -- costs: pricing and Cost Explorer ----------------------------------------------------------------


def test_estimate_uses_the_pricing_api_and_caches_prices_on_disk(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    config = Insights(price_cache_path=str(tmp_path / "prices.json"))
    est = engines(aws, world, "JupyterServer", config).collect()["costs"]["estimate"]
    alice = [
        a for a in world.apps if a["owner"] == "alice" and a["owner_type"] == "UserProfileName"
    ]
    expected = sum(
        emu_pricing.hourly_price(a["instance_type"], world.region) or 0
        for a in alice
        if a["instance_type"] != "system"
    )
    assert est["per_hour"] == pytest.approx(expected, abs=1e-4)
    rows = {a["app_name"]: a for a in est["apps"]}
    assert {rows[a["app_name"]]["instance_type"] for a in alice} == {
        a["instance_type"] for a in alice
    }
    assert {r["price_source"] for r in rows.values()} == {pricing.PRICING_API, pricing.FREE}
    for row in rows.values():
        if row["per_hour"]:
            assert row["since_start"] == pytest.approx(row["per_hour"] * 2, rel=0.02)  # 2 h ago
    # A new engine (a restarted server) reads prices from disk: no Pricing API call
    assert (tmp_path / "prices.json").exists()
    aws.reset_counts()
    again = engines(aws, world, "JupyterServer", config).collect()["costs"]["estimate"]
    assert aws.count("pricing") == 0
    assert pricing.DISK_CACHE in again["price_source"]


def test_estimate_falls_back_to_the_bundled_table(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    aws.deny("GetProducts", service="pricing")
    est = engines(aws, world, "JupyterLab").collect()["costs"]["estimate"]
    app = world.find_app(app_type="JupyterLab")
    assert est["per_hour"] == pricing.FALLBACK_PRICES[app["instance_type"]]
    assert est["price_source"] == pricing.FALLBACK
    assert any("pricing:GetProducts" in n for n in est["notes"])


def test_admin_price_file_overrides(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    app = world.find_app(app_type="JupyterLab")
    price_file = tmp_path / "negotiated.json"
    price_file.write_text(json.dumps({"prices": {app["instance_type"]: 0.01}}))
    config = Insights(price_file=str(price_file), price_cache_path=str(tmp_path / "p.json"))
    est = engines(aws, world, "JupyterLab", config).collect()["costs"]["estimate"]
    assert est["per_hour"] == 0.01 and est["price_source"] == pricing.PRICE_FILE
    assert aws.count("pricing") == 0


def _ce_result(start, amount):
    return {"TimePeriod": {"Start": start.isoformat()}, "Total": {"UnblendedCost": {"Amount": str(amount), "Unit": "USD"}}, "Estimated": False}  # fmt: skip


def test_billed_costs_from_cost_explorer(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    last, this, _ = billed_periods(clock.utcnow())
    aws.inject_cost_and_usage([{"ResultsByTime": [_ce_result(last, 41.5), _ce_result(this, 3.25)]}])
    config = Insights(billed_costs=True, price_cache_path=str(tmp_path / "p.json"))
    engine = engines(aws, world, "JupyterLab", config)
    billed = engine.collect()["costs"]["billed"]
    assert billed["status"] == "ok" and billed["source"] == "billed" and billed["as_of"]
    assert (billed["last_month"], billed["month_to_date"]) == (41.5, 3.25)
    assert billed["tag_key"] == "sagemaker:space-arn"
    # each request is billed: neither a poll nor a refresh asks again
    engine.collect()
    engine.collect(refresh=True)
    assert aws.count("ce", "GetCostAndUsage") == 1


def test_billed_costs_denied_or_not_activated_or_disabled(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    on = Insights(billed_costs=True, price_cache_path=str(tmp_path / "p.json"))
    aws.deny("GetCostAndUsage", service="ce")
    denied = engines(aws, world, "JupyterLab", on).collect()
    assert denied["costs"]["billed"]["status"] == "not_available"
    assert "ce:GetCostAndUsage" in denied["costs"]["billed"]["reason"]
    assert denied["parts"]["costs"]["status"] == "ok"  # not an error page
    aws.clear_faults()
    nodata = engines(aws, world, "JupyterLab", on).collect()["costs"]["billed"]
    assert nodata["status"] == "not_available" and "cost-allocation tag" in nodata["reason"]
    aws.reset_counts()
    off = engines(aws, world, "JupyterLab").collect()["costs"]["billed"]
    assert off["status"] == "disabled" and aws.count("ce") == 0


# -- caches ------------------------------------------------------------------------------------------


def test_second_call_makes_no_aws_request(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    engine = engines(
        aws, world, "JupyterServer", compliant_config(world, tmp_path, billed_costs=True)
    )
    first = engine.collect()
    assert aws.count("sagemaker") > 0
    aws.reset_counts()
    second = engine.collect()
    assert aws.calls == []
    assert second["guardrails"] == first["guardrails"] and second["tags"] == first["tags"]


def test_concurrent_requests_never_multiply_aws_calls(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    config = compliant_config(world, tmp_path)
    warm = engines(aws, world, "JupyterServer", config)
    warm.collect()  # warms the disk price cache
    warm.close(wait=True)
    aws.reset_counts()
    one = engines(aws, world, "JupyterServer", config)
    one.collect()
    one.close(wait=True)  # nothing of it may still be on the wire
    single = Counter((c.service, c.operation) for c in aws.calls)
    aws.reset_counts()
    engine = engines(aws, world, "JupyterServer", config)
    barrier = threading.Barrier(6)

    def poll():
        barrier.wait(5)
        return engine.collect()

    threads = [threading.Thread(target=poll) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    engine.close(wait=True)
    assert not any(t.is_alive() for t in threads)
    assert Counter((c.service, c.operation) for c in aws.calls) == single, aws.calls


def test_refresh_bypasses_caches_within_a_floor(aws, engines, tmp_path):
    world = seed_world(aws, compliant=True)
    floor = compliant_config(world, tmp_path, refresh_floor_seconds=60)
    engine = engines(aws, world, "JupyterLab", floor)
    engine.collect()
    aws.reset_counts()
    engine.collect(refresh=True)  # everything is younger than the floor
    assert aws.calls == []
    no_floor = compliant_config(world, tmp_path, refresh_floor_seconds=0)
    engine = engines(aws, world, "JupyterLab", no_floor)
    engine.collect()
    aws.reset_counts()
    engine.collect(refresh=True)
    assert aws.count("sagemaker", "DescribeDomain") == 1 and aws.count("sagemaker", "ListApps") == 1


# -- the admin's view ----------------------------------------------------------------------------------


def test_evaluate_domain_without_a_server(aws, tmp_path):
    world = seed_world(aws, compliant=False)
    report = evaluate_domain(
        clients_for(aws), world.domain_id, config=Insights(price_cache_path=str(tmp_path / "p"))
    )
    assert {r["id"]: r["status"] for r in report["domain"]} == {
        "network-vpc-only": "fail",
        "domain-volume-kms": "fail",
        "execution-role-identity": "fail",
    }
    owners = {(o["owner_kind"], o["owner_name"]): o for o in report["owners"]}
    assert set(owners) == {("user-profile", p) for p in world.profiles} | {
        ("space", s) for s in world.spaces
    }
    tag = {
        o: {r["id"]: r for r in v["guardrails"]}["user-id-tag"]["status"] for o, v in owners.items()
    }
    assert tag[("user-profile", "carol")] == "fail" and tag[("user-profile", "bob")] == "pass"
    assert all(r["level"] != "domain" for v in owners.values() for r in v["guardrails"])


def test_sso_domain_compares_the_tag_with_the_idp_user(aws, tmp_path):
    # Given an SSO domain whose profiles carry their IdP user name
    sm = aws.client("sagemaker")
    domain = sm.create_domain(
        DomainName="sso",
        AuthMode="SSO",
        DefaultUserSettings={"ExecutionRole": "arn:aws:iam::123456789012:role/x"},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )["DomainId"]
    for name, tag in (("dana", "dana@corp.example"), ("erik", "someone-else")):
        sm.create_user_profile(
            DomainId=domain,
            UserProfileName=name,
            SingleSignOnUserIdentifier="UserName",
            SingleSignOnUserValue=f"{name}@corp.example",
            Tags=[{"Key": "studiouserid", "Value": tag}],
        )
    config = Insights(price_cache_path=str(tmp_path / "p.json"))
    # When each profile's user-id tag is checked
    results = {
        name: {
            r["id"]: r
            for r in evaluate_owner(clients_for(aws), domain, "user-profile", name, config=config)
        }["user-id-tag"]  # fmt: skip
        for name in ("dana", "erik")
    }
    # Then the tag must equal the IdP user name
    assert (
        results["dana"]["status"] == "pass"
        and results["dana"]["evidence"]["caller_source"] == "sso"
    )
    assert results["erik"]["status"] == "fail"
    assert "'erik@corp.example'" in results["erik"]["reason"]


def test_cold_answer_waits_for_the_slowest_chain_not_the_sum(aws, tmp_path):
    # Given every SageMaker call taking 150 ms more (a botocore hook delays the real request)
    import time

    world = seed_world(aws, compliant=True)
    clients = clients_for(aws)
    latency, durations = 0.15, []

    def before_call(context, **_):
        context["t0"] = time.perf_counter()

    def after_call(context, **_):
        durations.append(time.perf_counter() - context["t0"])

    events = clients.client("sagemaker").meta.events
    events.register("before-call", before_call)
    events.register("before-send", lambda **_: time.sleep(latency))
    events.register("after-call", after_call)
    meta = world.write_metadata(tmp_path / "m.json", world.find_app(app_type="JupyterLab"))
    engine = InsightsEngine(clients, compliant_config(world, tmp_path), load_context(meta))
    try:
        engine.collect(parts=["costs"])  # warm the prices on disk; then start cold again
        engine.cache.clear()
        durations.clear()
        # When a cold answer is computed
        t0 = time.perf_counter()
        data = engine.collect()
        total = time.perf_counter() - t0
    finally:
        engine.close(wait=True)
    # Then it took about the longest chain of dependent calls, far less than their sum
    assert data["parts"]["guardrails"]["status"] == "ok"
    assert len(durations) >= 6 and sum(durations) >= 6 * latency
    assert total < 0.5 * sum(durations) and total < 4 * max(durations), (total, durations)


# -- review findings (B1-B5, Classic image) against the emulator ---------------------------------


def test_space_own_idle_timeout_keeps_the_domains_idle_shutdown(aws, engines, tmp_path):
    # Given a domain with idle shutdown ENABLED, and a space setting only its own timeout
    # (SpaceIdleSettings has nothing but IdleTimeoutInMinutes)
    world = seed_world(aws, kind="spaces", compliant=True)
    sm = aws.client("sagemaker")

    def space_timeout(minutes):
        idle = {"IdleSettings": {"IdleTimeoutInMinutes": minutes}}
        sm.update_space(
            DomainId=world.domain_id,
            SpaceName=world.primary_space,
            SpaceSettings={"JupyterLabAppSettings": {"AppLifecycleManagement": idle}},
        )

    space_timeout(90)
    config = compliant_config(world, tmp_path, max_idle_timeout_minutes=120)
    idle = by_id(engines(aws, world, "JupyterLab", config).collect())["idle-shutdown"]
    # Then the domain's switch and the space's timeout both count
    assert idle["status"] == "pass", idle["reason"]
    assert "after 90 min" in idle["reason"]
    assert idle["evidence"]["IdleSettings"]["LifecycleManagement"] == "ENABLED"
    # and a space timeout above the admin maximum still fails
    space_timeout(200)
    idle = by_id(engines(aws, world, "JupyterLab", config).collect())["idle-shutdown"]
    assert idle["status"] == "fail" and "timeout 200 min exceeds" in idle["reason"]


def test_estimate_in_two_currencies_is_never_summed(aws, engines, tmp_path):
    # Given an admin price file in EUR for one instance type, the Pricing API (USD) for others
    world = seed_world(aws, kind="classic", compliant=True)
    alice = [a for a in world.apps if a["owner"] == "alice"]
    kinds = sorted({a["instance_type"] for a in alice} - {"system"})
    assert len(kinds) >= 2
    in_eur, in_usd = kinds[0], kinds[1:]
    price_file = tmp_path / "negotiated.json"
    price_file.write_text(json.dumps({"currency": "EUR", "prices": {in_eur: 0.07}}))
    config = Insights(price_file=str(price_file), price_cache_path=str(tmp_path / "p.json"))
    est = engines(aws, world, "JupyterServer", config).collect()["costs"]["estimate"]
    # Then each currency has its own total, and the headline is in EUR only
    usd = sum(emu_pricing.hourly_price(t, world.region) for t in in_usd)
    assert est["currency"] == "EUR" and est["per_hour"] == pytest.approx(0.07)
    assert est["totals"]["EUR"]["per_hour"] == pytest.approx(0.07)
    assert est["totals"]["USD"]["per_hour"] == pytest.approx(usd, abs=1e-4)
    assert est["status"] == "partial" and "several currencies" in est["reason"]
    assert {r["instance_type"]: r["currency"] for r in est["apps"] if r["per_hour"]} == {
        in_eur: "EUR",
        **{t: "USD" for t in in_usd},
    }


def test_user_id_tag_on_the_space_does_not_stand_for_the_profiles(aws, engines, tmp_path):
    # Given a space owner whose profile lost the user-id tag, and a user who tagged the space
    world = seed_world(aws, kind="spaces", compliant=True)
    sm = aws.client("sagemaker")
    space = sm.describe_space(DomainId=world.domain_id, SpaceName=world.primary_space)
    owner = space["OwnershipSettings"]["OwnerUserProfileName"]
    profile = sm.describe_user_profile(DomainId=world.domain_id, UserProfileName=owner)
    key = Insights().user_id_tag_key
    sm.delete_tags(ResourceArn=profile["UserProfileArn"], TagKeys=[key])
    sm.add_tags(ResourceArn=space["SpaceArn"], Tags=[{"Key": key, "Value": owner}])
    tag = by_id(engines(aws, world, "JupyterLab").collect())["user-id-tag"]
    # Then the check fails on the profile, showing the space's tag as evidence only
    assert tag["status"] == "fail", tag["reason"]
    assert "no studiouserid tag on the user profile" in tag["reason"]
    assert "does not count" in tag["reason"]
    assert tag["evidence"]["space_value"] == owner
    assert tag["evidence"]["resource_arn"] == profile["UserProfileArn"]
    # and once the profile is tagged again it passes, whatever the space says
    sm.add_tags(ResourceArn=profile["UserProfileArn"], Tags=[{"Key": key, "Value": owner}])
    sm.delete_tags(ResourceArn=space["SpaceArn"], TagKeys=[key])
    tag = by_id(engines(aws, world, "JupyterLab").collect())["user-id-tag"]
    assert tag["status"] == "pass" and tag["evidence"]["on"] == "user-profile"


def test_admin_price_file_edit_is_seen_by_a_running_engine(aws, engines, tmp_path):
    world = seed_world(aws, kind="spaces", compliant=True)
    app = world.find_app(app_type="JupyterLab")
    price_file = tmp_path / "negotiated.json"
    price_file.write_text(json.dumps({"prices": {app["instance_type"]: 0.02}}))
    config = Insights(price_file=str(price_file), price_cache_path=str(tmp_path / "p.json"))
    engine = engines(aws, world, "JupyterLab", config)
    assert engine.collect()["costs"]["estimate"]["per_hour"] == 0.02
    # When the admin edits the file (the next response, no restart)
    price_file.write_text(json.dumps({"prices": {app["instance_type"]: 0.03}}))
    os.utime(price_file, (1, 1))
    est = engine.collect()["costs"]["estimate"]
    assert est["per_hour"] == 0.03 and est["price_source"] == pricing.PRICE_FILE
    assert aws.count("pricing") == 0


def test_classic_jupyter_server_platform_image_is_exempt(aws, engines, tmp_path):
    # Given an admin approving only the kernel image, not Classic's jupyter-server-3
    world = seed_world(aws, kind="classic", compliant=True)
    kernels = {image_name(a["image_arn"]) for a in world.apps if a["app_type"] == "KernelGateway"}
    server = world.find_app(app_type="JupyterServer")
    assert image_name(server["image_arn"]) not in kernels and server["instance_type"] == "system"
    config = Insights(
        allowed_instance_types=sorted({a["instance_type"] for a in world.apps}),
        approved_images=sorted(kernels),
        price_cache_path=str(tmp_path / "prices.json"),
    )
    image = by_id(engines(aws, world, "JupyterServer", config).collect())["image-approved"]
    # Then the platform's own server is exempt, and says so
    assert image["status"] == "pass", image["reason"]
    assert "JupyterServer on 'system'" in image["reason"] and "exempt" in image["reason"]
    assert f"JupyterServer/{server['app_name']}" in image["evidence"]["exempt"]
    assert all(not k.startswith("JupyterServer/") for k in image["evidence"]["apps"])
