"""The emulator refuses what the service refuses (docs/emulator.md lists each rule and its source).

Every test drives the emulator over HTTP with boto3 and expects the service's error code.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from smstudio_ext import clock
from smstudio_ext.testing import Emulator, World
from smstudio_ext.testing.studio import SMD_DEFAULT_ALIAS, smd_account
from smstudio_ext.testing.studio.rules import MAX_LCC_ARNS

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole"


def strict(aws: Emulator, **config):
    return aws.client("sagemaker", retries={"total_max_attempts": 1}, **config)


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def message_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Message"]


def lcc(sm, name: str, app_type: str = "JupyterLab") -> str:
    content = base64.b64encode(b"#!/usr/bin/env bash\necho hi\n").decode()
    return sm.create_studio_lifecycle_config(
        StudioLifecycleConfigName=name,
        StudioLifecycleConfigContent=content,
        StudioLifecycleConfigAppType=app_type,
    )["StudioLifecycleConfigArn"]


def refused(call, code: str = "ValidationException", hint: str | None = None) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    assert code_of(exc) == code, message_of(exc)
    if hint:
        assert hint in message_of(exc)
    return message_of(exc)


def new_domain(sm, name: str = "rules") -> str:
    return sm.create_domain(
        DomainName=name,
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": ROLE},
        SubnetIds=["subnet-1", "subnet-2"],
        VpcId="vpc-1",
    )["DomainId"]


# -- tags -------------------------------------------------------------------------------------


def test_tag_keys_and_values_follow_the_models_unicode_patterns(world: World, aws: Emulator):
    sm = strict(aws)
    arn = sm.describe_user_profile(DomainId=world.domain_id, UserProfileName="bob")[
        "UserProfileArn"
    ]
    # \p{L} and \p{N} accept any script's letters and digits, \p{Z} spaces
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "équipe", "Value": "données 2026 +@:/=._-"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "smstudio:version", "Value": "0.1.0+local"}])
    for key, value in (("bad*key", "v"), ("k", "semi;colon"), ("k", "quote'"), ("k", "a#b")):
        refused(
            lambda k=key, v=value: sm.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v}]),
            hint="regular expression pattern",
        )
    refused(
        lambda: sm.create_user_profile(
            DomainId=world.domain_id, UserProfileName="dave", Tags=[{"Key": "x!", "Value": "1"}]
        )
    )
    refused(
        lambda: sm.add_tags(ResourceArn=arn, Tags=[{"Key": "aws:owner", "Value": "me"}]),
        hint="reserved",
    )
    keys = {t["Key"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert {"équipe", "smstudio:version"} <= keys and "bad*key" not in keys


# -- spaces -----------------------------------------------------------------------------------


def test_update_space_refuses_an_app_type(world: World, aws: Emulator):
    sm = strict(aws)
    for app_type in ("CodeEditor", "JupyterLab"):  # even the same value (stricter)
        refused(
            lambda t=app_type: sm.update_space(
                DomainId=world.domain_id, SpaceName="alice-space", SpaceSettings={"AppType": t}
            ),
            hint="AppType",
        )
    space = sm.describe_space(DomainId=world.domain_id, SpaceName="alice-space")
    assert space["SpaceSettings"]["AppType"] == "JupyterLab"


def test_code_repositories_are_refused_in_space_jupyter_server_settings(
    world: World, aws: Emulator
):
    sm = strict(aws)
    repos = {"CodeRepositories": [{"RepositoryUrl": "https://github.com/org/repo.git"}]}
    refused(
        lambda: sm.create_space(
            DomainId=world.domain_id,
            SpaceName="classic-shared",
            SpaceSettings={"JupyterServerAppSettings": repos},
        ),
        hint="CodeRepositories",
    )
    refused(
        lambda: sm.update_space(
            DomainId=world.domain_id,
            SpaceName="team-space",
            SpaceSettings={"JupyterServerAppSettings": repos},
        ),
        hint="CodeRepositories",
    )
    refused(
        lambda: sm.update_domain(
            DomainId=world.domain_id,
            DefaultSpaceSettings={"JupyterServerAppSettings": repos},
        ),
        hint="CodeRepositories",
    )
    # where the model and CloudFormation have them, they are fine
    sm.update_user_profile(
        DomainId=world.domain_id,
        UserProfileName="bob",
        UserSettings={"JupyterServerAppSettings": repos},
    )
    sm.update_space(
        DomainId=world.domain_id,
        SpaceName="team-space",
        SpaceSettings={"JupyterLabAppSettings": repos},
    )


# -- lifecycle configs ------------------------------------------------------------------------


def test_a_lifecycle_config_attaches_only_under_its_own_app_type(world: World, aws: Emulator):
    sm = strict(aws)
    server = lcc(sm, "classic-only", "JupyterServer")
    lab = lcc(sm, "lab-only", "JupyterLab")
    attempts = {
        "LifecycleConfigArns": {"JupyterLabAppSettings": {"LifecycleConfigArns": [server]}},
        "default": {
            "JupyterLabAppSettings": {"DefaultResourceSpec": {"LifecycleConfigArn": server}}
        },
        "built-in": {"JupyterLabAppSettings": {"BuiltInLifecycleConfigArn": server}},
        "kernel gateway": {"KernelGatewayAppSettings": {"LifecycleConfigArns": [lab]}},
    }
    for where, settings in attempts.items():
        message = refused(
            lambda s=settings: sm.update_domain(DomainId=world.domain_id, DefaultUserSettings=s)
        )
        assert "app type" in message, where
    refused(
        lambda: sm.update_user_profile(
            DomainId=world.domain_id,
            UserProfileName="bob",
            UserSettings={"CodeEditorAppSettings": {"BuiltInLifecycleConfigArn": lab}},
        ),
        hint="app type JupyterLab",
    )
    refused(
        lambda: sm.create_app(
            DomainId=world.domain_id,
            UserProfileName="bob",
            AppType="KernelGateway",
            AppName="kg-wrong-lcc",
            ResourceSpec={"InstanceType": "ml.t3.medium", "LifecycleConfigArn": lab},
        ),
        hint="cannot run it",
    )
    missing = server.replace("classic-only", "never-created")
    refused(
        lambda: sm.update_domain(
            DomainId=world.domain_id,
            DefaultUserSettings={"JupyterLabAppSettings": {"BuiltInLifecycleConfigArn": missing}},
        ),
        code="ResourceNotFound",
    )
    # the right app type is accepted everywhere
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={
            "JupyterLabAppSettings": {
                "LifecycleConfigArns": [lab],
                "BuiltInLifecycleConfigArn": lab,
                "DefaultResourceSpec": {"LifecycleConfigArn": lab},
            }
        },
    )


def test_lifecycle_config_arns_hold_at_most_thirty(aws: Emulator):
    sm = strict(aws)
    domain_id = new_domain(sm)
    arns = [lcc(sm, f"lab-{i:02d}") for i in range(MAX_LCC_ARNS + 1)]
    sm.update_domain(
        DomainId=domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": arns[:30]}},
    )
    refused(
        lambda: sm.update_domain(
            DomainId=domain_id,
            DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": arns}},
        ),
        hint="less than or equal to 30",
    )
    refused(
        lambda: sm.create_user_profile(
            DomainId=domain_id,
            UserProfileName="many",
            UserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": arns}},
        ),
        hint="less than or equal to 30",
    )


def test_built_in_lifecycle_config_lives_where_the_model_has_it(world: World, aws: Emulator):
    sm = strict(aws)
    lab = lcc(sm, "lab-built-in")
    editor = lcc(sm, "editor-built-in", "CodeEditor")
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={
            "JupyterLabAppSettings": {"BuiltInLifecycleConfigArn": lab},
            "CodeEditorAppSettings": {"BuiltInLifecycleConfigArn": editor},
        },
        DefaultSpaceSettings={"JupyterLabAppSettings": {"BuiltInLifecycleConfigArn": lab}},
    )
    sm.update_user_profile(
        DomainId=world.domain_id,
        UserProfileName="carol",
        UserSettings={"JupyterLabAppSettings": {"BuiltInLifecycleConfigArn": lab}},
    )
    # a space's own JupyterLab settings (SpaceJupyterLabAppSettings) have no such member:
    # boto3 refuses it before sending, and so does the emulator when it arrives anyway (here
    # written into the body after serialisation, as a client with another model would send it)
    with pytest.raises(ParamValidationError):
        sm.update_space(
            DomainId=world.domain_id,
            SpaceName="alice-space",
            SpaceSettings={"JupyterLabAppSettings": {"BuiltInLifecycleConfigArn": lab}},
        )
    raw = strict(aws)

    def add_member(request, **_):
        body = json.loads(request.data)
        body["SpaceSettings"] = {"JupyterLabAppSettings": {"BuiltInLifecycleConfigArn": lab}}
        request.data = json.dumps(body).encode()

    raw.meta.events.register("before-sign.sagemaker.UpdateSpace", add_member)
    refused(
        lambda: raw.update_space(DomainId=world.domain_id, SpaceName="alice-space"),
        hint="Unknown member 'BuiltInLifecycleConfigArn'",
    )
    # it resolves at launch: a new app of alice's private space reports it
    sm.delete_app(
        DomainId=world.domain_id, SpaceName="alice-space", AppType="JupyterLab", AppName="default"
    )
    with clock.travelling():
        clock.travel(5)
        sm.create_app(
            DomainId=world.domain_id,
            SpaceName="alice-space",
            AppType="JupyterLab",
            AppName="default",
        )
        app = sm.describe_app(
            DomainId=world.domain_id,
            SpaceName="alice-space",
            AppType="JupyterLab",
            AppName="default",
        )
    assert app["BuiltInLifecycleConfigArn"] == lab


def test_a_new_space_keeps_the_default_it_was_created_with(world: World, aws: Emulator):
    """A default LCC is pre-selected per space and persists: a newer default set on the domain
    later does not reach the space (AWS docs, "Lifecycle configurations within Studio")."""
    sm = strict(aws)
    v1, v2 = lcc(sm, "team-v1"), lcc(sm, "team-v2")

    def set_default(arn: str) -> None:
        sm.update_domain(
            DomainId=world.domain_id,
            DefaultUserSettings={
                "JupyterLabAppSettings": {
                    "LifecycleConfigArns": [arn],
                    "DefaultResourceSpec": {"LifecycleConfigArn": arn},
                }
            },
        )

    set_default(v1)
    sm.create_space(
        DomainId=world.domain_id,
        SpaceName="carol-space",
        OwnershipSettings={"OwnerUserProfileName": "carol"},
        SpaceSharingSettings={"SharingType": "Private"},
        SpaceSettings={"AppType": "JupyterLab"},
    )
    set_default(v2)
    space = sm.describe_space(DomainId=world.domain_id, SpaceName="carol-space")
    jl = space["SpaceSettings"]["JupyterLabAppSettings"]
    assert jl["DefaultResourceSpec"]["LifecycleConfigArn"] == v1


# -- domains ----------------------------------------------------------------------------------


def test_network_changes_wait_until_no_app_runs(aws: Emulator):
    sm = strict(aws)
    aws.set_app_delete_delay(0)
    domain_id = new_domain(sm)
    sm.create_user_profile(DomainId=domain_id, UserProfileName="u1")
    app = {
        "DomainId": domain_id,
        "UserProfileName": "u1",
        "AppType": "JupyterServer",
        "AppName": "default",
    }
    sm.create_app(**app)
    for change in (
        {"AppNetworkAccessType": "VpcOnly"},
        {"SubnetIds": ["subnet-1"]},  # removes subnet-2
    ):
        refused(lambda c=change: sm.update_domain(DomainId=domain_id, **c), hint="InService")
    refused(
        lambda: sm.update_domain(
            DomainId=domain_id,
            DomainSettingsForUpdate={"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"},
        ),
        hint="ExecutionRoleIdentityConfig",
    )
    refused(lambda: sm.update_domain(DomainId=domain_id, VpcId="vpc-2"), hint="VpcId")
    # adding a subnet is not a removal; the same network type is no change
    sm.update_domain(DomainId=domain_id, SubnetIds=["subnet-1", "subnet-2", "subnet-3"])
    sm.update_domain(DomainId=domain_id, AppNetworkAccessType="PublicInternetOnly")
    # once the app is Deleted, the network may change
    sm.delete_app(**app)
    assert sm.describe_app(**app)["Status"] == "Deleted"
    sm.update_domain(DomainId=domain_id, AppNetworkAccessType="VpcOnly", SubnetIds=["subnet-3"])
    sm.update_domain(
        DomainId=domain_id,
        DomainSettingsForUpdate={"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"},
    )
    d = sm.describe_domain(DomainId=domain_id)
    assert d["AppNetworkAccessType"] == "VpcOnly" and d["SubnetIds"] == ["subnet-3"]


# -- images -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["JupyterLabAppImageConfig", "CodeEditorAppImageConfig"])
def test_file_system_config_is_refused_in_jupyterlab_and_code_editor_images(
    aws: Emulator, key: str
):
    sm = strict(aws)
    fs = {"MountPath": "/home/sagemaker-user", "DefaultUid": 1000, "DefaultGid": 100}
    refused(
        lambda: sm.create_app_image_config(
            AppImageConfigName="with-fs", **{key: {"FileSystemConfig": fs}}
        ),
        hint="FileSystemConfig is not supported",
    )
    container = {"ContainerConfig": {"ContainerEntrypoint": ["entrypoint-jupyter-server"]}}
    sm.create_app_image_config(AppImageConfigName="no-fs", **{key: container})
    refused(
        lambda: sm.update_app_image_config(
            AppImageConfigName="no-fs", **{key: {**container, "FileSystemConfig": fs}}
        ),
        hint="FileSystemConfig is not supported",
    )
    assert "FileSystemConfig" not in sm.describe_app_image_config(AppImageConfigName="no-fs")[key]
    # KernelGateway images keep theirs
    sm.create_app_image_config(
        AppImageConfigName="kg",
        KernelGatewayImageConfig={
            "KernelSpecs": [{"Name": "python3"}],
            "FileSystemConfig": fs,
        },
    )


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_platform_images_come_from_their_own_accounts(region: str):
    with Emulator(region=region) as aws:
        sm = strict(aws)
        domain_id = new_domain(sm, name=f"images-{region}")
        sm.create_user_profile(DomainId=domain_id, UserProfileName="u1")
        sm.create_space(
            DomainId=domain_id,
            SpaceName="s1",
            OwnershipSettings={"OwnerUserProfileName": "u1"},
            SpaceSharingSettings={"SharingType": "Private"},
            SpaceSettings={"AppType": "JupyterLab"},
        )
        key = {"DomainId": domain_id, "AppName": "default"}
        sm.create_app(**key, SpaceName="s1", AppType="JupyterLab")
        sm.create_app(**key, UserProfileName="u1", AppType="JupyterServer")
        sm.create_app(**key, UserProfileName="u1", AppType="KernelGateway")
        lab = sm.describe_app(**key, SpaceName="s1", AppType="JupyterLab")["ResourceSpec"]
        assert lab["SageMakerImageArn"] == (
            f"arn:aws:sagemaker:{region}:{smd_account(region)}:image/sagemaker-distribution-cpu"
        )
        assert lab["SageMakerImageVersionAlias"] == SMD_DEFAULT_ALIAS
        assert "SageMakerImageVersionArn" not in lab
        server = sm.describe_app(**key, UserProfileName="u1", AppType="JupyterServer")
        image = server["ResourceSpec"]["SageMakerImageArn"]
        assert image.startswith(f"arn:aws:ecr:{region}:") and image.endswith(
            ":repository/looseleaf-jupyter-server-3"
        )
        kernel = sm.describe_app(**key, UserProfileName="u1", AppType="KernelGateway")
        assert kernel["ResourceSpec"]["SageMakerImageArn"].endswith(":image/datascience-1.0")
        assert "SageMakerImageVersionArn" not in kernel["ResourceSpec"]
        aws.reset()


def test_user_activity_is_the_health_check(world: World, aws: Emulator):
    sm = strict(aws)
    key = world.app_key(world.find_app(app_type="JupyterLab", owner="team-space"))
    app = world.find_app(app_type="JupyterLab", owner="team-space")
    aws.set_app_last_activity(app["arn"], datetime.now(timezone.utc) - timedelta(hours=3))
    aws.set_health_check_interval(3600)
    first = sm.describe_app(**key)
    assert first["LastUserActivityTimestamp"] == first["LastHealthCheckTimestamp"]
    assert datetime.now(timezone.utc) - first["LastHealthCheckTimestamp"] < timedelta(minutes=5)
    with clock.travelling():
        clock.travel(3 * 3600)  # nobody touched the app: the platform still checked it
        later = sm.describe_app(**key)
    assert later["LastUserActivityTimestamp"] == later["LastHealthCheckTimestamp"]
    assert later["LastHealthCheckTimestamp"] > first["LastHealthCheckTimestamp"]
