"""smstudio audit, per space: our config built-in, default or listed; the version last seen
running next to the configured one; Studio Classic use as migration items."""

from __future__ import annotations

import json

import pytest

from smstudio_ext._version import __version__
from smstudio_ext.admin import lcc
from smstudio_ext.admin.audit import AuditOptions, run_audit
from smstudio_ext.admin.lcc import LccSettings, render
from smstudio_ext.aws import AwsClients
from smstudio_ext.cli import main
from smstudio_ext.context import load_context
from smstudio_ext.insights.config import Insights
from smstudio_ext.rollout import record_version, tag_value
from smstudio_ext.testing import seed_world

SERVICES = ("s3", "sagemaker", "iam", "sts", "pricing")


@pytest.fixture
def clients(aws):
    return AwsClients(
        aws.region, endpoint_urls={s: aws.endpoint_url for s in SERVICES}, max_attempts=3
    )


def script(app_type="JupyterLab", timeout=60):
    return render(
        LccSettings(app_type=app_type, idle_timeout=timeout, wheelhouse="s3://corp-wheels/smstudio")
    )


def audit(clients, world, tmp_path):
    config = Insights(price_cache_path=str(tmp_path / "prices.json"))
    report = run_audit(
        clients, AuditOptions(world.domain_id, max_rps=500, include_prices=False, insights=config)
    )
    return report, {(o.kind, o.name): o for o in report.owners}


def new_private_space(aws, world, name, owner):
    aws.client("sagemaker").create_space(
        DomainId=world.domain_id,
        SpaceName=name,
        OwnershipSettings={"OwnerUserProfileName": owner},
        SpaceSharingSettings={"SharingType": "Private"},
        SpaceSettings={"AppType": "JupyterLab"},
    )


def test_built_in_default_listed_and_the_version_last_seen(aws, world, clients, tmp_path):
    # Given ours is the domain's built-in (private spaces of every profile) ...
    built_in = lcc.register(clients, script(), domain=world.domain_id, name="smstudio",
                            built_in=True)  # fmt: skip
    # ... only listed for shared spaces ...
    lcc.register(clients, script(), domain=world.domain_id, name="smstudio", shared_spaces=True)
    # ... and carol's own default, which a space created then keeps after an upgrade
    old = lcc.register(clients, script(timeout=30), domain=world.domain_id, name="smstudio-carol",
                       profile="carol", default=True)  # fmt: skip
    new_private_space(aws, world, "carol-space", "carol")
    new = lcc.register(clients, script(timeout=20), domain=world.domain_id, name="smstudio-carol",
                       profile="carol", default=True)  # fmt: skip
    assert old.arn != new.arn
    # and the extension in alice's space recorded the version it runs
    meta = world.write_metadata(tmp_path / "meta.json", world.find_app(app_type="JupyterLab"))
    assert record_version(clients, load_context(meta), __version__).status == "recorded"

    report, owners = audit(clients, world, tmp_path)
    alice_space = owners[("space", "alice-space")].rollout
    assert alice_space["mode"] == "built-in" and alice_space["runs"]["name"] == built_in.name
    assert alice_space["configured_version"] == __version__
    assert alice_space["seen_version"] == tag_value(__version__)
    assert alice_space["seen_at"] and alice_space["state"] == "current"
    team = owners[("space", "team-space")].rollout
    assert team["mode"] == "listed" and team["state"] == "not seen"
    assert any("runs only when the user picks it" in n for n in team["notes"])
    carol = owners[("space", "carol-space")].rollout
    # carol's built-in profile settings are not set: the domain's built-in still wins
    assert carol["mode"] == "built-in"
    assert carol["default"]["name"] == old.name  # kept from its creation, not the new one
    assert any(f"also pre-selects {old.name}" in n and "may undo it" in n for n in carol["notes"])
    s = report.summary()
    assert s["rollout_modes"]["built-in"] >= 2 and s["rollout_modes"]["listed"] == 1
    assert s["rollout_states"]["current"] == 1


def test_a_stale_default_is_named_when_ours_is_only_the_default(aws, world, clients, tmp_path):
    old = lcc.register(clients, script(timeout=30), domain=world.domain_id, name="smstudio",
                       profile="carol", default=True)  # fmt: skip
    new_private_space(aws, world, "carol-space", "carol")
    new = lcc.register(clients, script(timeout=20), domain=world.domain_id, name="smstudio",
                       profile="carol", default=True)  # fmt: skip
    _, owners = audit(clients, world, tmp_path)
    carol = owners[("space", "carol-space")].rollout
    assert carol["mode"] == "default" and carol["runs"]["name"] == old.name
    assert any(
        f"the current default is {new.name}" in n and "--built-in" in n for n in carol["notes"]
    )
    profile = owners[("user-profile", "carol")].rollout
    assert profile["app_type"] == "JupyterLab" and profile["mode"] == "default"
    assert profile["runs"]["name"] == new.name


def test_classic_is_reported_as_a_migration_item(aws, clients, tmp_path):
    world = seed_world(aws, kind="classic")
    lcc.register(clients, script("JupyterServer"), domain=world.domain_id, name="smstudio")
    report, owners = audit(clients, world, tmp_path)
    alice = owners[("user-profile", "alice")]
    assert alice.rollout["app_type"] == "JupyterServer" and alice.rollout["mode"] == "default"
    assert any("3 Studio Classic app(s) running" in m for m in alice.migration)
    assert report.domain_migration and "DefaultLandingUri" in report.domain_migration[0]
    s = report.summary()
    assert s["classic_apps"] == 3 and s["migration_items"] >= 2
    # a migration item is not a failing check: the exit code is the checks' alone
    assert not [f for f in report.failing("fail") if "Classic" in f["reason"]]


def test_cli_prints_rollout_and_migration(aws, world, clients, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    lcc.register(clients, script(), domain=world.domain_id, name="smstudio", built_in=True)
    base = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
    main([*base, "audit", "--domain", world.domain_id, "--max-rps", "500", "--no-prices"])
    out = capsys.readouterr().out
    assert "rollout: our lifecycle config" in out
    assert "space:alice-space" in out and "built-in" in out and "not seen" in out
    assert "migration: Studio Classic is legacy" in out and "user-profile:alice:" in out
    main([*base, "audit", "--domain", world.domain_id, "--max-rps", "500", "--no-prices",
          "--json"])  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    spaces = {o["name"]: o["rollout"] for o in data["owners"] if o["kind"] == "space"}
    assert spaces["alice-space"]["mode"] == "built-in"
    assert "classic_apps" in data["summary"]


def test_unreadable_tags_make_the_last_seen_version_unknown(aws, world, clients, tmp_path):
    aws.deny("ListTags")
    _, owners = audit(clients, world, tmp_path)
    space = owners[("space", "alice-space")].rollout
    assert space["state"] == "unknown" and "sagemaker:ListTags" in space["seen_error"]
