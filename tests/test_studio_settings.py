"""Effective Studio settings, resolved once (``studio_settings``): the service's rules, the
guardrails and the audit agreeing on every owner of a seeded world, and an old botocore that
silently drops ``AppLifecycleManagement`` reported as such instead of as "not set"."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import botocore.loaders
import botocore.session
import pytest

from smstudio_ext.admin.audit import AuditOptions, run_audit
from smstudio_ext.aws import AwsClients
from smstudio_ext.insights.config import Insights
from smstudio_ext.insights.engine import InsightsEngine
from smstudio_ext.studio_settings import (
    IDLE_DISABLED,
    IDLE_ENABLED,
    IDLE_NOT_APPLICABLE,
    IDLE_NOT_SET,
    IDLE_UNKNOWN,
    load,
    missing_member,
    resolve,
)
from smstudio_ext.testing.guardrails import evaluate_owner, list_owners

SERVICES = ("s3", "sagemaker", "iam", "sts", "pricing")


def _idle(state="ENABLED", timeout=60, **more):
    settings = {"LifecycleManagement": state, "IdleTimeoutInMinutes": timeout, **more}
    return {"AppLifecycleManagement": {"IdleSettings": settings}}


# -- the rules ----------------------------------------------------------------------------------


def test_present_members_override_even_when_empty_absent_ones_inherit_groups_add_up():
    domain = {
        "DefaultUserSettings": {
            "SecurityGroups": ["sg-domain"],
            "SharingSettings": {"NotebookOutputOption": "Allowed", "S3KmsKeyId": "k"},
            "JupyterLabAppSettings": {
                "LifecycleConfigArns": ["arn:lcc/a"],
                "CustomImages": [{"ImageName": "x", "AppImageConfigName": "x"}],
                **_idle(timeout=60, MaxIdleTimeoutInMinutes=240),
            },
        }
    }
    profile = {
        "UserProfileName": "alice",
        "UserSettings": {
            "SecurityGroups": ["sg-alice"],
            "JupyterLabAppSettings": {
                "LifecycleConfigArns": [],  # "to remove a lifecycle config, set an empty list"
                "AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": 120}},
            },
        },
    }
    eff = resolve(domain, owner_kind="user-profile", owner=profile)
    assert eff.get("JupyterLabAppSettings", "LifecycleConfigArns") == []
    assert eff.get("JupyterLabAppSettings", "CustomImages")[0]["ImageName"] == "x"
    assert eff.get("SecurityGroups") == ["sg-domain", "sg-alice"]  # aggregated, not replaced
    assert eff.get("SharingSettings", "S3KmsKeyId") == "k"
    # objects merge member by member: the profile's timeout, the domain's switch and maximum
    idle = eff.platform_idle()
    assert (idle.state, idle.timeout_minutes, idle.max_timeout_minutes) == (IDLE_ENABLED, 120, 240)
    assert idle.source == "domain DefaultUserSettings"
    assert eff.source("JupyterLabAppSettings", "LifecycleConfigArns") == "user profile alice"


def _space(name, sharing, owner="alice", app_type="JupyterLab", settings=None):
    own = {"AppType": app_type, **(settings or {})} if app_type else dict(settings or {})
    space = {"SpaceName": name, "SpaceSettings": own}
    if sharing:
        space["SpaceSharingSettings"] = {"SharingType": sharing}
        space["OwnershipSettings"] = {"OwnerUserProfileName": owner}
    return space


def test_private_space_takes_its_defaults_from_the_owner_profile():
    domain = {"DefaultUserSettings": {"JupyterLabAppSettings": _idle("ENABLED", 60)}}
    owner = {"UserSettings": {"JupyterLabAppSettings": _idle("DISABLED", 60)}}
    space = _space(
        "s",
        "Private",
        settings={
            "JupyterLabAppSettings": {
                "AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": 30}}
            }
        },  # fmt: skip
    )
    eff = resolve(domain, owner_kind="space", owner=space, owner_profile=owner)
    idle = eff.platform_idle()
    assert idle.state == IDLE_DISABLED and idle.timeout_minutes == 30
    assert idle.source == "user profile alice (owner)"
    assert [layer.where for layer in eff.layers] == [
        "domain DefaultUserSettings",
        "user profile alice (owner)",
        "space s",
    ]
    # without the owner's profile the view says what it lacks
    partial = resolve(domain, owner_kind="space", owner=space)
    assert partial.notes and "alice" in partial.notes[0]


def test_shared_space_takes_default_space_settings_not_the_users():
    domain = {
        "DefaultUserSettings": {
            "ExecutionRole": "arn:aws:iam::123456789012:role/users",
            "SharingSettings": {"NotebookOutputOption": "Disabled"},
            "JupyterLabAppSettings": _idle("ENABLED", 60),
        },
        "DefaultSpaceSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/spaces"},
    }
    eff = resolve(domain, owner_kind="space", owner=_space("team", "Shared"))
    assert eff.sharing == "Shared"
    assert eff.get("ExecutionRole").endswith("role/spaces")
    assert eff.get("SharingSettings") == {"NotebookOutputOption": "Disabled"}  # not private-only
    assert eff.platform_idle().state == IDLE_NOT_SET  # DefaultUserSettings' idle: private only
    domain["DefaultSpaceSettings"]["JupyterLabAppSettings"] = _idle("ENABLED", 45)
    idle = resolve(domain, owner_kind="space", owner=_space("team", "Shared")).platform_idle()
    assert (idle.state, idle.timeout_minutes) == (IDLE_ENABLED, 45)
    # a space without sharing settings (from before private spaces) is a shared one
    assert resolve(domain, owner_kind="space", owner=_space("old", None)).sharing == "Shared"


def test_the_app_settings_key_follows_the_space_app_type():
    domain = {"DefaultUserSettings": {"JupyterLabAppSettings": _idle("ENABLED", 60)}}
    owner = {"UserSettings": {}}
    code = _space("c", "Private", app_type="CodeEditor")
    idle = resolve(domain, owner_kind="space", owner=code, owner_profile=owner).platform_idle()
    assert idle.settings_key == "CodeEditorAppSettings" and idle.state == IDLE_NOT_SET
    owner = {"UserSettings": {"CodeEditorAppSettings": _idle("ENABLED", 90)}}
    idle = resolve(domain, owner_kind="space", owner=code, owner_profile=owner).platform_idle()
    assert (idle.state, idle.timeout_minutes, idle.app_type) == (IDLE_ENABLED, 90, "CodeEditor")
    # Studio Classic apps have no platform idle shutdown at all
    classic = resolve(domain, owner_kind="user-profile", owner={}, app_type="KernelGateway")
    assert classic.platform_idle().state == IDLE_NOT_APPLICABLE


# -- an old botocore ---------------------------------------------------------------------------

TRIMMED = {
    "JupyterLabAppSettings": "AppLifecycleManagement",
    "CodeEditorAppSettings": "AppLifecycleManagement",
    "SpaceJupyterLabAppSettings": "AppLifecycleManagement",
    "SpaceCodeEditorAppSettings": "AppLifecycleManagement",
    "ResourceSpec": "SageMakerImageVersionAlias",
}


@pytest.fixture(scope="module")
def old_botocore_data(tmp_path_factory) -> Path:
    """botocore's own SageMaker model without the members botocore 1.34.131 (SageMaker
    Distribution 2.0.0) lacks, as a data path searched before botocore's."""
    loader = botocore.loaders.Loader()
    version = loader.determine_latest_version("sagemaker", "service-2")
    model = copy.deepcopy(loader.load_service_model("sagemaker", "service-2", version))
    for shape, member in TRIMMED.items():
        del model["shapes"][shape]["members"][member]
    root = tmp_path_factory.mktemp("old-botocore")
    target = root / "sagemaker" / version
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    return root


def old_clients(aws, data_path: Path) -> AwsClients:
    session = botocore.session.Session()
    session.set_config_variable("data_path", str(data_path))
    return AwsClients(
        aws.region,
        endpoint_urls={s: aws.endpoint_url for s in SERVICES},
        max_attempts=2,
        session=session,
    )


def clients_for(aws) -> AwsClients:
    return AwsClients(
        aws.region, endpoint_urls={s: aws.endpoint_url for s in SERVICES}, max_attempts=2
    )


def test_an_old_botocore_makes_platform_idle_unknown_not_absent(aws, world, old_botocore_data):
    # Given the compliant world (the domain enables idle shutdown) read with an old model
    old = old_clients(aws, old_botocore_data)
    model = old.client("sagemaker").meta.service_model
    assert missing_member(
        model, "UserSettings", ("JupyterLabAppSettings", "AppLifecycleManagement")
    )
    # Then the effective settings can't tell, and say why, instead of "no idle shutdown"
    eff = load(old, world.domain_id, "space", world.primary_space)
    assert eff.get("JupyterLabAppSettings", "AppLifecycleManagement") is None  # dropped
    idle = eff.platform_idle()
    assert idle.state == IDLE_UNKNOWN
    assert "too old to read JupyterLabAppSettings.AppLifecycleManagement" in idle.reason
    assert f"botocore {botocore.__version__} is too old" in idle.reason
    results = {
        r["id"]: r for r in evaluate_owner(old, world.domain_id, "space", world.primary_space)
    }
    check = results["idle-shutdown"]
    assert check["status"] == "unknown", check["reason"]
    assert "too old to read" in check["reason"]
    # and the audit says the same (active: unknown, not False)
    report = run_audit(old, AuditOptions(world.domain_id, include_prices=False, max_rps=200))
    space = next(o for o in report.owners if o.name == world.primary_space)
    assert space.idle["active"] is None and space.idle["platform"] == IDLE_UNKNOWN
    audit_check = next(c for c in space.checks if c.id == "idle-shutdown")
    assert audit_check.status == "unknown" and "too old to read" in audit_check.reason
    # With the installed botocore the same world reads as enabled
    fresh = load(clients_for(aws), world.domain_id, "space", world.primary_space)
    assert fresh.platform_idle().state == IDLE_ENABLED


def test_an_old_botocore_loses_the_image_alias_only(aws, world, old_botocore_data):
    sm = aws.client("sagemaker")
    image = world.find_app(app_type="JupyterLab")["image_arn"]
    sm.create_space(
        DomainId=world.domain_id, SpaceName="alias-space", SpaceSettings={"AppType": "JupyterLab"}
    )
    sm.create_app(
        DomainId=world.domain_id,
        SpaceName="alias-space",
        AppType="JupyterLab",
        AppName="aliased",
        ResourceSpec={
            "InstanceType": "ml.t3.medium",
            "SageMakerImageArn": image,
            "SageMakerImageVersionAlias": "1.6.0",
        },
    )
    from smstudio_ext.apps import describe_app

    new = describe_app(clients_for(aws), world.domain_id, "JupyterLab", "aliased", space_name="alias-space")  # fmt: skip
    old = describe_app(old_clients(aws, old_botocore_data), world.domain_id, "JupyterLab", "aliased", space_name="alias-space")  # fmt: skip
    assert new.image_version_alias == "1.6.0" and old.image_version_alias is None
    assert "sagemaker-distribution-cpu@1.6.0" in new.image_ids()
    assert new.image_name == old.image_name == "sagemaker-distribution-cpu"
    # an allow-list pinning the alias: approved when the alias is read, "can't tell" when an
    # old botocore drops it (never "not approved")
    config = Insights(approved_images=["Sagemaker-Distribution-CPU@1.6.0"])

    def verdict(clients):
        rows = evaluate_owner(clients, world.domain_id, "space", "alias-space", config=config)
        return {r["id"]: r for r in rows}["image-approved"]

    assert verdict(clients_for(aws))["status"] == "pass"
    stale = verdict(old_clients(aws, old_botocore_data))
    assert stale["status"] == "unknown", stale["reason"]
    assert "too old to read ResourceSpec.SageMakerImageVersionAlias" in stale["reason"]


# -- the seeded world: guardrails and audit agree on every owner ------------------------------------


@pytest.fixture
def overriding_world(aws, world):
    """The compliant world (domain: idle shutdown ENABLED for users) plus owner-level overrides:
    alice's profile turns idle shutdown off, so her private space inherits that, not the
    domain's; carol gets a private Code Editor space and Code Editor idle settings of her own;
    bob's shared team space gets nothing from DefaultUserSettings."""
    sm = aws.client("sagemaker")
    sm.update_user_profile(
        DomainId=world.domain_id,
        UserProfileName="alice",
        UserSettings={"JupyterLabAppSettings": _idle("DISABLED", 60)},
    )
    sm.update_user_profile(
        DomainId=world.domain_id,
        UserProfileName="carol",
        UserSettings={"CodeEditorAppSettings": _idle("ENABLED", 75)},
    )
    sm.create_space(
        DomainId=world.domain_id,
        SpaceName="carol-code",
        OwnershipSettings={"OwnerUserProfileName": "carol"},
        SpaceSharingSettings={"SharingType": "Private"},
        SpaceSettings={"AppType": "CodeEditor"},
    )
    return world


def test_guardrails_and_audit_agree_on_every_owner(aws, overriding_world, tmp_path):
    world = overriding_world
    clients = clients_for(aws)
    config = Insights(price_cache_path=str(tmp_path / "prices.json"))
    report = run_audit(
        clients, AuditOptions(world.domain_id, insights=config, include_prices=False, max_rps=200)
    )
    engine = InsightsEngine(clients, config, use_pricing_api=False)
    try:
        owners = list_owners(clients, world.domain_id)
        assert ("space", "carol-code") in owners and len(owners) == len(report.owners)
        for kind, name in owners:
            panel = {
                r["id"]: (r["status"], r["reason"])
                for r in evaluate_owner(clients, world.domain_id, kind, name, engine=engine)
            }
            audited = next(o for o in report.owners if (o.kind, o.name) == (kind, name))
            audit = {c.id: (c.status, c.reason) for c in audited.checks if c.source == "insights"}
            assert audit == panel, (kind, name)
            # the audit's idle summary reads the same effective settings
            platform = load(clients, world.domain_id, kind, name).platform_idle()
            assert audited.idle["platform"] == platform.state, (kind, name)
    finally:
        engine.close(wait=True)
    by_owner = {o.name: o for o in report.owners}
    # alice's private space: her profile's DISABLED wins over the domain's ENABLED
    assert by_owner["alice-space"].idle["platform"] == IDLE_DISABLED
    idle = next(c for c in by_owner["alice-space"].checks if c.id == "idle-shutdown")
    assert idle.status == "fail" and "disabled" in idle.reason
    assert idle.evidence["platform"]["source"] == "user profile alice (owner)"
    # carol's Code Editor space: CodeEditorAppSettings, from her profile
    code = next(c for c in by_owner["carol-code"].checks if c.id == "idle-shutdown")
    assert code.status == "pass" and "CodeEditor apps after 75 min" in code.reason
    # bob's shared space: the domain's DefaultSpaceSettings (a compliant domain sets idle
    # shutdown there too), never DefaultUserSettings
    assert by_owner["team-space"].idle["platform"] == IDLE_ENABLED
    shared = next(c for c in by_owner["team-space"].checks if c.id == "idle-shutdown")
    assert "DefaultSpaceSettings" in shared.evidence["platform"]["source"], shared.evidence
    # bob's profile keeps the domain's
    assert by_owner["bob"].idle["platform"] == IDLE_ENABLED
