"""Registering lifecycle configs against the emulator: create, versions, attach, detach, dry run."""

from __future__ import annotations

import base64

import pytest

from smstudio_ext.admin import lcc
from smstudio_ext.admin.lcc import LccSettings, render
from smstudio_ext.aws import AwsClients
from smstudio_ext.cli import main
from smstudio_ext.errors import AccessDenied, BadInput, Conflict, NotFound

MUTATING = {
    "CreateStudioLifecycleConfig",
    "DeleteStudioLifecycleConfig",
    "UpdateDomain",
    "UpdateUserProfile",
    "UpdateSpace",
}


@pytest.fixture
def clients(aws):
    return AwsClients(aws.region, endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)


WHEELHOUSE = "s3://corp-wheels/smstudio"  # a render needs a source (never a public index)


def script(app_type="JupyterLab", timeout=60):
    return render(LccSettings(app_type=app_type, idle_timeout=timeout, wheelhouse=WHEELHOUSE))


def domain_app_settings(aws, world, key):
    out = aws.client("sagemaker").describe_domain(DomainId=world.domain_id)
    return out["DefaultUserSettings"].get(key) or {}


def other_config(aws, name="corp-proxy", app_type="JupyterLab"):
    content = base64.b64encode(b"#!/usr/bin/env bash\necho corp\n").decode()
    return aws.client("sagemaker").create_studio_lifecycle_config(
        StudioLifecycleConfigName=name,
        StudioLifecycleConfigContent=content,
        StudioLifecycleConfigAppType=app_type,
    )["StudioLifecycleConfigArn"]


def test_register_on_the_domain_keeps_configs_already_attached(aws, world, clients):
    # Given the domain already has the platform team's own JupyterLab config
    corp = other_config(aws)
    aws.client("sagemaker").update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [corp]}},
    )
    r = script()
    # When ours is registered on the domain
    plan = lcc.register(clients, r, domain=world.domain_id, name="smstudio")
    # Then it exists under a content-versioned name with our content, next to the other one
    assert plan.name == f"smstudio-{r.digest[:8]}"
    described = aws.client("sagemaker").describe_studio_lifecycle_config(
        StudioLifecycleConfigName=plan.name
    )
    assert described["StudioLifecycleConfigContent"] == r.content_b64
    assert described["StudioLifecycleConfigAppType"] == "JupyterLab"
    settings = domain_app_settings(aws, world, "JupyterLabAppSettings")
    assert settings["LifecycleConfigArns"] == [corp, plan.arn]
    assert [c.operation for c in plan.calls] == ["CreateStudioLifecycleConfig", "UpdateDomain"]


def test_registering_the_same_content_again_changes_nothing(aws, world, clients):
    r = script()
    first = lcc.register(clients, r, domain=world.domain_id, name="smstudio")
    aws.reset_counts()
    again = lcc.register(clients, r, domain=world.domain_id, name="smstudio")
    assert again.name == first.name and again.arn == first.arn
    assert again.calls == []
    assert not [c for c in aws.calls if c.operation in MUTATING]
    assert any("already attached" in n for n in again.notes)


def test_new_content_replaces_the_older_version_of_ours_and_keeps_the_rest(aws, world, clients):
    corp = other_config(aws)
    a = lcc.register(clients, script(timeout=60), domain=world.domain_id, name="smstudio")
    aws.client("sagemaker").update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [corp, a.arn]}},
    )
    b = lcc.register(clients, script(timeout=30), domain=world.domain_id, name="smstudio")
    assert a.name != b.name and b.name.startswith("smstudio-")
    arns = domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"]
    assert arns == [corp, b.arn]
    assert any(a.name in n and "replaced older versions of ours" in n for n in b.notes)


def test_register_35_times_keeps_exactly_one_version_of_ours(aws, world, clients):
    # Given the platform team's config and another base name of ours are attached
    corp = other_config(aws)
    gpu = lcc.register(clients, script(), domain=world.domain_id, name="smstudio-gpu")
    sm = aws.client("sagemaker")
    settings = domain_app_settings(aws, world, "JupyterLabAppSettings")
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={
            "JupyterLabAppSettings": {**settings, "LifecycleConfigArns": [corp, gpu.arn]}
        },
    )
    # When ours is registered 35 times in a row, each time with other content
    plans = [
        lcc.register(clients, script(timeout=10 + i), domain=world.domain_id, name="smstudio")
        for i in range(35)
    ]
    # Then exactly the newest version of ours is attached, next to everyone else's
    arns = domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"]
    assert arns == [corp, gpu.arn, plans[-1].arn]
    assert len({p.arn for p in plans}) == 35  # 35 configs were created (immutable)


def test_the_31st_entry_is_refused_before_anything_is_created(aws, world, clients):
    sm = aws.client("sagemaker")
    others = [other_config(aws, name=f"team-{i:02d}") for i in range(lcc.MAX_LCC_ARNS)]
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": others}},
    )
    aws.reset_counts()
    with pytest.raises(Conflict, match="already lists 30 lifecycle configs.*more than the 30"):
        lcc.register(clients, script(), domain=world.domain_id, name="smstudio")
    assert aws.count("sagemaker", "CreateStudioLifecycleConfig") == 0
    # with one detached, there is room again
    lcc.detach(clients, domain=world.domain_id, app_type="JupyterLab", name=others[0])
    plan = lcc.register(clients, script(), domain=world.domain_id, name="smstudio")
    arns = domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"]
    assert len(arns) == 30 and arns[-1] == plan.arn


def test_an_older_default_of_ours_is_replaced_in_the_default_too(aws, world, clients):
    a = lcc.register(clients, script(timeout=60), domain=world.domain_id, name="smstudio",
                     default=True)  # fmt: skip
    b = lcc.register(clients, script(timeout=30), domain=world.domain_id, name="smstudio")
    settings = domain_app_settings(aws, world, "JupyterLabAppSettings")
    assert settings["DefaultResourceSpec"]["LifecycleConfigArn"] == b.arn
    assert settings["LifecycleConfigArns"] == [b.arn]
    assert a.arn not in str(settings)
    # the instance type and image of the default resource spec are kept
    assert settings["DefaultResourceSpec"]["InstanceType"] == "ml.t3.medium"


def test_what_is_not_proven_ours_is_never_replaced(aws, world, clients):
    # Given a config that merely looks like a version of ours (no tag, no marker) ...
    lookalike = other_config(aws, name="smstudio-0badc0de")
    a = lcc.register(clients, script(timeout=60), domain=world.domain_id, name="smstudio")
    settings = domain_app_settings(aws, world, "JupyterLabAppSettings")
    aws.client("sagemaker").update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={
            "JupyterLabAppSettings": {**settings, "LifecycleConfigArns": [lookalike, a.arn]}
        },
    )
    # ... and, while the next version registers, neither can be read (denied twice each: the
    # look-alike's and ours' ownership checks; creating the new one still works)
    aws.deny("ListTags", times=2)
    aws.deny("DescribeStudioLifecycleConfig", times=2)
    b = lcc.register(clients, script(timeout=30), domain=world.domain_id, name="smstudio")
    arns = domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"]
    assert arns == [lookalike, a.arn, b.arn]  # nothing replaced on a guess
    assert any(n.startswith(f"kept {a.name}: can't tell whether it is ours") for n in b.notes)
    aws.clear_faults()
    c = lcc.register(clients, script(timeout=20), domain=world.domain_id, name="smstudio")
    arns = domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"]
    assert arns == [lookalike, c.arn]


# -- built-in ---------------------------------------------------------------------------------


def test_built_in_on_the_domain_replaces_older_ours_and_is_not_listed(aws, world, clients):
    sm = aws.client("sagemaker")
    corp = other_config(aws)
    old = lcc.register(clients, script(timeout=60), domain=world.domain_id, name="smstudio",
                       default=True)  # fmt: skip
    settings = domain_app_settings(aws, world, "JupyterLabAppSettings")
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={
            "JupyterLabAppSettings": {
                **settings,
                "LifecycleConfigArns": [corp, *settings["LifecycleConfigArns"]],
            }
        },
    )
    plan = lcc.register(clients, script(timeout=30), domain=world.domain_id, name="smstudio",
                        built_in=True)  # fmt: skip
    settings = domain_app_settings(aws, world, "JupyterLabAppSettings")
    assert settings["BuiltInLifecycleConfigArn"] == plan.arn
    assert settings["LifecycleConfigArns"] == [corp]  # ours is not listed: it would run twice
    assert "LifecycleConfigArn" not in settings["DefaultResourceSpec"]  # nor the default
    assert old.arn not in str(settings)
    # an app started afterwards resolves it at launch
    key = dict(DomainId=world.domain_id, SpaceName="alice-space", AppType="JupyterLab",
               AppName="default")  # fmt: skip
    aws.set_app_delete_delay(0)
    sm.delete_app(**key)
    sm.create_app(**key)
    assert sm.describe_app(**key)["BuiltInLifecycleConfigArn"] == plan.arn
    # registering again the same content changes nothing
    again = lcc.register(clients, script(timeout=30), domain=world.domain_id, name="smstudio",
                         built_in=True)  # fmt: skip
    assert again.calls == []


def test_built_in_on_a_profile_and_for_shared_spaces(aws, world, clients):
    sm = aws.client("sagemaker")
    on_bob = lcc.register(clients, script(), domain=world.domain_id, name="smstudio",
                          profile="bob", built_in=True)  # fmt: skip
    bob = sm.describe_user_profile(DomainId=world.domain_id, UserProfileName="bob")
    assert bob["UserSettings"]["JupyterLabAppSettings"]["BuiltInLifecycleConfigArn"] == on_bob.arn
    shared = lcc.register(clients, script(), domain=world.domain_id, name="smstudio",
                          shared_spaces=True, built_in=True)  # fmt: skip
    d = sm.describe_domain(DomainId=world.domain_id)
    jl = d["DefaultSpaceSettings"]["JupyterLabAppSettings"]
    assert jl["BuiltInLifecycleConfigArn"] == shared.arn
    assert d["DefaultSpaceSettings"]["ExecutionRole"] == world.execution_role_arn  # kept
    assert "BuiltInLifecycleConfigArn" not in (d["DefaultUserSettings"]["JupyterLabAppSettings"])
    # detach clears it (sent as "None", which the service reads as "no config")
    plan = lcc.detach(clients, domain=world.domain_id, app_type="JupyterLab", name="smstudio",
                      shared_spaces=True)  # fmt: skip
    sent = plan.calls[0].params["DefaultSpaceSettings"]["JupyterLabAppSettings"]
    assert sent["BuiltInLifecycleConfigArn"] == "None"
    d = sm.describe_domain(DomainId=world.domain_id)
    assert "BuiltInLifecycleConfigArn" not in d["DefaultSpaceSettings"]["JupyterLabAppSettings"]


def test_built_in_is_refused_where_the_service_has_none(aws, world, clients):
    space = world.primary_space or world.spaces[0]
    cases = [
        (dict(space=space), script(), "a space's own settings have no BuiltInLifecycleConfigArn"),
        ({}, script("JupyterServer"), "not JupyterServer"),
        ({}, script("KernelGateway"), "not KernelGateway"),
    ]
    for target, rendered, message in cases:
        with pytest.raises(BadInput, match=message):
            lcc.register(clients, rendered, domain=world.domain_id, name="smstudio",
                         built_in=True, **target)  # fmt: skip
    with pytest.raises(BadInput, match="--built-in or --default, not both"):
        lcc.register(clients, script(), domain=world.domain_id, name="smstudio", built_in=True,
                     default=True)  # fmt: skip
    assert not aws.client("sagemaker").list_studio_lifecycle_configs()["StudioLifecycleConfigs"]


def test_a_name_taken_by_other_content_gets_the_next_version(aws, world, clients):
    # Given someone created a config under the exact name ours would take (ResourceInUse)
    r = script()
    taken = lcc.versioned_name("smstudio", r.script)
    other_config(aws, name=taken)
    plan = lcc.register(clients, r, domain=world.domain_id, name="smstudio")
    assert plan.name == taken + "-v2"
    assert any("other content" in n for n in plan.notes)


def test_classic_jupyterserver_gets_the_default_resource_spec_it_requires(aws, world, clients):
    r = script("JupyterServer")
    plan = lcc.register(clients, r, domain=world.domain_id, name="smstudio")
    settings = domain_app_settings(aws, world, "JupyterServerAppSettings")
    assert plan.arn in settings["LifecycleConfigArns"]
    assert settings["DefaultResourceSpec"]["LifecycleConfigArn"] == plan.arn
    assert settings["DefaultResourceSpec"]["InstanceType"] == "system"
    assert any("Classic JupyterServer runs only its default" in n for n in plan.notes)


def test_default_on_a_profile_keeps_its_other_resource_spec_fields(aws, world, clients):
    sm = aws.client("sagemaker")
    profile = world.profiles[0]
    sm.update_user_profile(
        DomainId=world.domain_id,
        UserProfileName=profile,
        UserSettings={
            "KernelGatewayAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}}
        },
    )
    r = script("KernelGateway")
    plan = lcc.register(
        clients, r, domain=world.domain_id, profile=profile, name="smstudio", default=True
    )
    assert plan.calls[-1].operation == "UpdateUserProfile"
    out = sm.describe_user_profile(DomainId=world.domain_id, UserProfileName=profile)
    kg = out["UserSettings"]["KernelGatewayAppSettings"]
    assert kg["LifecycleConfigArns"] == [plan.arn]
    assert kg["DefaultResourceSpec"] == {
        "InstanceType": "ml.t3.medium",
        "LifecycleConfigArn": plan.arn,
    }


def test_a_space_jupyterlab_takes_it_as_its_default(aws, world, clients):
    space = world.primary_space or world.spaces[0]
    plan = lcc.register(clients, script(), domain=world.domain_id, space=space, name="smstudio")
    out = aws.client("sagemaker").describe_space(DomainId=world.domain_id, SpaceName=space)
    jl = out["SpaceSettings"]["JupyterLabAppSettings"]
    assert jl["DefaultResourceSpec"]["LifecycleConfigArn"] == plan.arn
    assert "LifecycleConfigArns" not in jl
    assert any("no LifecycleConfigArns" in n for n in plan.notes)


def test_dry_run_reads_but_changes_nothing(aws, world, clients):
    aws.reset_counts()
    plan = lcc.register(
        clients, script("JupyterServer"), domain=world.domain_id, name="smstudio", dry_run=True
    )
    assert [c.operation for c in plan.calls] == ["CreateStudioLifecycleConfig", "UpdateDomain"]
    assert all(not c.done for c in plan.calls)
    for op in MUTATING:
        assert aws.count("sagemaker", op) == 0, op
    update = plan.calls[1].params["DefaultUserSettings"]["JupyterServerAppSettings"]
    assert update["DefaultResourceSpec"]["InstanceType"] == "system"
    assert not aws.client("sagemaker").list_studio_lifecycle_configs()["StudioLifecycleConfigs"]


def test_detach_removes_only_ours_and_can_delete_it(aws, world, clients):
    corp = other_config(aws, app_type="JupyterServer")
    sm = aws.client("sagemaker")
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={
            "JupyterServerAppSettings": {
                "LifecycleConfigArns": [corp],
                "DefaultResourceSpec": {"InstanceType": "system"},
            }
        },
    )
    ours = lcc.register(clients, script("JupyterServer"), domain=world.domain_id, name="smstudio")
    plan = lcc.detach(
        clients, domain=world.domain_id, app_type="JupyterServer", name="smstudio", delete=True
    )
    assert [c.operation for c in plan.calls] == ["UpdateDomain", "DeleteStudioLifecycleConfig"]
    settings = domain_app_settings(aws, world, "JupyterServerAppSettings")
    assert settings["LifecycleConfigArns"] == [corp]
    assert "LifecycleConfigArn" not in settings["DefaultResourceSpec"]
    names = [
        c["StudioLifecycleConfigName"]
        for c in sm.list_studio_lifecycle_configs()["StudioLifecycleConfigs"]
    ]
    assert ours.name not in names and "corp-proxy" in names
    with pytest.raises(NotFound, match="no lifecycle config matching 'smstudio'"):
        lcc.detach(clients, domain=world.domain_id, app_type="JupyterServer", name="smstudio")


def test_denied_attach_names_the_action_and_a_rerun_finishes_the_job(aws, world, clients):
    r = script()
    aws.deny("UpdateDomain", times=1)
    with pytest.raises(AccessDenied) as err:
        lcc.register(clients, r, domain=world.domain_id, name="smstudio")
    assert err.value.action == "sagemaker:UpdateDomain"
    plan = lcc.register(clients, r, domain=world.domain_id, name="smstudio")
    assert [c.operation for c in plan.calls] == ["UpdateDomain"]  # the config is reused
    assert (
        plan.arn in domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"]
    )


def test_bad_targets_are_refused_before_any_change(aws, world, clients):
    with pytest.raises(BadInput, match="invalid domain id"):
        lcc.register(clients, script(), domain="d-$(id)", name="smstudio")
    with pytest.raises(BadInput, match="invalid lifecycle config name"):
        lcc.register(clients, script(), domain=world.domain_id, name="smstudio;x")
    with pytest.raises(NotFound):
        lcc.register(clients, script(), domain="d-000000000000", name="smstudio")
    with pytest.raises(NotFound):
        lcc.register(clients, script(), domain=world.domain_id, profile="nobody", name="smstudio")
    assert not aws.client("sagemaker").list_studio_lifecycle_configs()["StudioLifecycleConfigs"]


def test_cli_render_register_detach(aws, world, capsys, tmp_path):
    base = ["--endpoint-url", aws.endpoint_url, "--region", aws.region, "lcc"]
    out_file = tmp_path / "lcc.sh"
    assert main([*base[4:], "render", "--app-type", "JupyterLab", "--idle-timeout", "30",
                 "--wheelhouse", WHEELHOUSE, "--out", str(out_file)]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert (
        "base64" in err
        and "headroom" in err
        and out_file.read_text().startswith("#!/usr/bin/env bash\n")
    )

    flags = ["--domain", world.domain_id, "--app-type", "JupyterLab", "--idle-timeout", "30",
             "--wheelhouse", WHEELHOUSE]  # fmt: skip
    assert main([*base, "register", *flags, "--name", "smstudio", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: would call CreateStudioLifecycleConfig" in out and "<base64, " in out
    assert aws.count("sagemaker", "CreateStudioLifecycleConfig") == 0

    assert main([*base, "register", *flags, "--name", "smstudio", "--default"]) == 0
    out = capsys.readouterr().out
    assert "called UpdateDomain" in out and "lifecycle config: smstudio-" in out

    assert main([*base, "detach", "--domain", world.domain_id, "--app-type", "JupyterLab",
                 "--name", "smstudio"]) == 0  # fmt: skip
    assert "detached: arn:" in capsys.readouterr().out
    assert main([*base, "register", *flags, "--name", "smstudio", "--kms-key", "x`id`"]) == 2
    assert "invalid KMS key 'x`id`'" in capsys.readouterr().err

    assert main([*base, "register", *flags, "--name", "smstudio", "--built-in"]) == 0
    out = capsys.readouterr().out
    assert "called UpdateDomain" in out and '"BuiltInLifecycleConfigArn"' in out
    settings = domain_app_settings(aws, world, "JupyterLabAppSettings")
    assert settings["BuiltInLifecycleConfigArn"].split("/")[-1].startswith("smstudio-")
    # --built-in and --default exclude each other (argparse: exit 2)
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "register", *flags, "--name", "smstudio", "--built-in", "--default"])
    assert exit_info.value.code == 2
    assert main([*base, "register", "--domain", world.domain_id, "--app-type", "JupyterServer",
                 "--wheelhouse", WHEELHOUSE, "--name", "smstudio", "--built-in"]) == 2  # fmt: skip
    assert "--built-in is for JupyterLab and CodeEditor" in capsys.readouterr().err


# --- detach by base name touches only our configs -------------------------------------------------
def test_detach_by_base_name_leaves_someone_elses_date_versioned_config(aws, world, clients):
    corp = other_config(aws, name="jupyter-20240115", app_type="JupyterLab")
    sm = aws.client("sagemaker")
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [corp]}},
    )
    ours = lcc.register(clients, script(), domain=world.domain_id, name="jupyter")
    plan = lcc.detach(
        clients, domain=world.domain_id, app_type="JupyterLab", name="jupyter", delete=True
    )
    assert domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"] == [corp]
    deleted = [
        c.params["StudioLifecycleConfigName"]
        for c in plan.calls
        if c.operation == "DeleteStudioLifecycleConfig"
    ]
    assert deleted == [ours.name]
    sm.describe_studio_lifecycle_config(StudioLifecycleConfigName="jupyter-20240115")  # kept


def test_detach_by_exact_name_still_detaches_an_untagged_config(aws, world, clients):
    corp = other_config(aws, name="jupyter-20240115", app_type="JupyterLab")
    aws.client("sagemaker").update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [corp]}},
    )
    lcc.detach(clients, domain=world.domain_id, app_type="JupyterLab", name="jupyter-20240115")
    assert domain_app_settings(aws, world, "JupyterLabAppSettings")["LifecycleConfigArns"] == []


def test_detach_by_base_name_when_tags_cannot_be_read_changes_nothing(aws, world, clients):
    plan = lcc.register(clients, script(), domain=world.domain_id, name="jupyter")
    before = domain_app_settings(aws, world, "JupyterLabAppSettings")
    # the tags can't be read and neither can the content: nothing proves it ours
    aws.deny("ListTags")
    aws.deny("DescribeStudioLifecycleConfig")
    with pytest.raises(AccessDenied) as err:
        lcc.detach(clients, domain=world.domain_id, app_type="JupyterLab", name="jupyter")
    assert "sagemaker:DescribeStudioLifecycleConfig" in str(err.value)
    assert domain_app_settings(aws, world, "JupyterLabAppSettings") == before
    # the content alone (our marker line) proves it ours when only the tags are denied
    aws.clear_faults()
    aws.deny("ListTags")
    lcc.detach(clients, domain=world.domain_id, app_type="JupyterLab", name="jupyter")
    after = domain_app_settings(aws, world, "JupyterLabAppSettings")
    assert plan.arn not in after["LifecycleConfigArns"]
