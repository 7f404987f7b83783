"""The emulator, driven like AWS: real boto3 clients over HTTP against one started server."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from smstudio_ext import clock
from smstudio_ext.testing import Emulator, World, seed_world
from smstudio_ext.testing.pricing import hourly_price
from smstudio_ext.testing.studio import SMD_DEFAULT_ALIAS

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole"


def strict(aws: Emulator, service: str = "sagemaker", **config):
    """A client that does not retry, so an injected or expected failure surfaces at once."""
    return aws.client(service, retries={"total_max_attempts": 1}, **config)


def error_code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def make_domain(sm, name: str = "dom", **extra) -> str:
    args = {
        "DomainName": name,
        "AuthMode": "IAM",
        "DefaultUserSettings": {"ExecutionRole": ROLE},
        "SubnetIds": ["subnet-1"],
        "VpcId": "vpc-1",
    }
    args.update(extra)
    return sm.create_domain(**args)["DomainId"]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- plumbing ---------------------------------------------------------------------------------


def test_endpoint_env_and_moto_services(aws: Emulator) -> None:
    env = aws.env()
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint_url.rstrip("/")
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert aws.endpoint_url.startswith("http://127.0.0.1:")
    assert aws.client("sts").get_caller_identity()["Account"] == "123456789012"
    # an action we do not serve still reaches moto's own SageMaker backend
    assert aws.client("sagemaker").list_models()["Models"] == []


def test_start_is_idempotent_and_context_manager(aws: Emulator) -> None:
    assert aws.start() is aws
    with Emulator(region="eu-west-1") as other:
        assert other.port != aws.port
        assert other.client("sagemaker").list_domains()["Domains"] == []
    assert not other.started


def test_server_side_validation_of_required_members(aws: Emulator) -> None:
    sm = strict(aws, parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        sm.create_user_profile(DomainId="d-123")
    assert error_code(exc) == "ValidationException"
    assert "userProfileName" in exc.value.response["Error"]["Message"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- domains ----------------------------------------------------------------------------------


def test_domain_full_shape(world: World, aws: Emulator) -> None:
    d = aws.client("sagemaker").describe_domain(DomainId=world.domain_id)
    assert d["DomainArn"] == world.domain_arn
    assert d["DomainArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:domain/{world.domain_id}"
    assert d["Status"] == "InService"
    assert d["AppNetworkAccessType"] == "VpcOnly"
    assert d["VpcId"] == world.vpc_id and d["SubnetIds"] == world.subnet_ids
    assert d["KmsKeyId"] == world.kms_key_id and d["HomeEfsFileSystemId"].startswith("fs-")
    assert d["AuthMode"] == "IAM"
    settings = d["DefaultUserSettings"]
    assert settings["SecurityGroups"] == world.security_group_ids
    assert settings["SharingSettings"]["S3KmsKeyId"] == world.kms_key_id
    assert settings["JupyterServerAppSettings"]["DefaultResourceSpec"]["InstanceType"] == "system"
    idle = settings["JupyterLabAppSettings"]["AppLifecycleManagement"]["IdleSettings"]
    assert idle["LifecycleManagement"] == "ENABLED"
    assert d["DomainSettings"]["ExecutionRoleIdentityConfig"] == "USER_PROFILE_NAME"
    assert d["DefaultSpaceSettings"]["ExecutionRole"] == world.execution_role_arn
    listed = aws.client("sagemaker").list_domains()["Domains"]
    assert [x["DomainId"] for x in listed] == [world.domain_id]


def test_update_domain_merges_like_aws(world: World, aws: Emulator) -> None:
    sm = aws.client("sagemaker")
    lcc = sm.create_studio_lifecycle_config(
        StudioLifecycleConfigName="install-smstudio",
        StudioLifecycleConfigContent=b64("#!/bin/bash\necho hi\n"),
        StudioLifecycleConfigAppType="JupyterLab",
    )["StudioLifecycleConfigArn"]
    before = sm.describe_domain(DomainId=world.domain_id)
    sm.update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"LifecycleConfigArns": [lcc]}},
        DomainSettingsForUpdate={"SecurityGroupIds": ["sg-0a1b2c3d4e5f60099"]},
    )
    after = sm.describe_domain(DomainId=world.domain_id)
    # the given sub-structure replaced the old one as a whole ...
    assert after["DefaultUserSettings"]["JupyterLabAppSettings"] == {"LifecycleConfigArns": [lcc]}
    # ... the absent ones stayed
    for key in ("ExecutionRole", "SecurityGroups", "SharingSettings", "KernelGatewayAppSettings"):
        assert after["DefaultUserSettings"][key] == before["DefaultUserSettings"][key]
    assert after["DomainSettings"]["SecurityGroupIds"] == ["sg-0a1b2c3d4e5f60099"]
    assert after["DomainSettings"]["ExecutionRoleIdentityConfig"] == "USER_PROFILE_NAME"
    assert after["AppNetworkAccessType"] == "VpcOnly"
    assert after["LastModifiedTime"] >= before["LastModifiedTime"]


def test_update_domain_jupyter_server_lcc_needs_default_resource_spec(aws: Emulator) -> None:
    sm = strict(aws)
    domain_id = make_domain(sm)
    lcc = sm.create_studio_lifecycle_config(
        StudioLifecycleConfigName="classic",
        StudioLifecycleConfigContent=b64("#!/bin/bash\n"),
        StudioLifecycleConfigAppType="JupyterServer",
    )["StudioLifecycleConfigArn"]
    with pytest.raises(ClientError) as exc:
        sm.update_domain(
            DomainId=domain_id,
            DefaultUserSettings={"JupyterServerAppSettings": {"LifecycleConfigArns": [lcc]}},
        )
    assert error_code(exc) == "ValidationException"
    sm.update_domain(
        DomainId=domain_id,
        DefaultUserSettings={
            "JupyterServerAppSettings": {
                "LifecycleConfigArns": [lcc],
                "DefaultResourceSpec": {"InstanceType": "system", "LifecycleConfigArn": lcc},
            }
        },
    )
    with pytest.raises(ClientError) as exc:  # attached: cannot be deleted
        sm.delete_studio_lifecycle_config(StudioLifecycleConfigName="classic")
    assert error_code(exc) == "ResourceInUse"


def test_domain_errors_and_delete(aws: Emulator) -> None:
    sm = strict(aws)
    domain_id = make_domain(sm)
    with pytest.raises(ClientError) as exc:
        make_domain(sm)
    assert error_code(exc) == "ResourceInUse"
    with pytest.raises(ClientError) as exc:
        make_domain(sm, name="other", AppNetworkAccessType="Wrong")
    assert error_code(exc) == "ValidationException"
    sm.create_user_profile(DomainId=domain_id, UserProfileName="u1")
    with pytest.raises(ClientError) as exc:
        sm.delete_domain(DomainId=domain_id)
    assert error_code(exc) == "ResourceInUse"
    sm.delete_user_profile(DomainId=domain_id, UserProfileName="u1")
    sm.delete_domain(DomainId=domain_id)
    with pytest.raises(ClientError) as exc:
        sm.describe_domain(DomainId=domain_id)
    assert error_code(exc) == "ResourceNotFound"


# -- user profiles and spaces -----------------------------------------------------------------


def test_user_profiles_crud_uid_and_pagination(aws: Emulator) -> None:
    sm = strict(aws)
    domain_id = make_domain(sm)
    for i in range(12):
        sm.create_user_profile(DomainId=domain_id, UserProfileName=f"user-{i:02d}")
    uids = [
        sm.describe_user_profile(DomainId=domain_id, UserProfileName=f"user-{i:02d}")[
            "HomeEfsFileSystemUid"
        ]
        for i in (0, 1, 11)
    ]
    assert uids == ["200001", "200002", "200012"]

    first = sm.list_user_profiles(DomainIdEquals=domain_id)  # AWS default page size: 10
    assert len(first["UserProfiles"]) == 10 and first["NextToken"]
    second = sm.list_user_profiles(DomainIdEquals=domain_id, NextToken=first["NextToken"])
    assert len(second["UserProfiles"]) == 2 and "NextToken" not in second
    names = [p["UserProfileName"] for p in first["UserProfiles"] + second["UserProfiles"]]
    assert sorted(names) == [f"user-{i:02d}" for i in range(12)]
    paginator = sm.get_paginator("list_user_profiles")
    pages = list(paginator.paginate(DomainIdEquals=domain_id, PaginationConfig={"PageSize": 5}))
    assert [len(p["UserProfiles"]) for p in pages] == [5, 5, 2]
    contains = sm.list_user_profiles(UserProfileNameContains="user-1", SortOrder="Ascending")
    assert [p["UserProfileName"] for p in contains["UserProfiles"]] == ["user-10", "user-11"]

    with pytest.raises(ClientError) as exc:
        sm.create_user_profile(DomainId=domain_id, UserProfileName="user-00")
    assert error_code(exc) == "ResourceInUse"
    with pytest.raises(ClientError) as exc:
        sm.create_user_profile(DomainId=domain_id, UserProfileName="bad_name")
    assert error_code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        sm.create_user_profile(DomainId="d-doesnotexist", UserProfileName="x")
    assert error_code(exc) == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        sm.list_user_profiles(NextToken="garbage")
    assert error_code(exc) == "ValidationException"

    sm.update_user_profile(
        DomainId=domain_id,
        UserProfileName="user-00",
        UserSettings={
            "KernelGatewayAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.m5.large"}}
        },
    )
    profile = sm.describe_user_profile(DomainId=domain_id, UserProfileName="user-00")
    assert profile["Status"] == "InService"
    assert profile["UserSettings"]["KernelGatewayAppSettings"]["DefaultResourceSpec"] == {
        "InstanceType": "ml.m5.large"
    }
    sm.delete_user_profile(DomainId=domain_id, UserProfileName="user-00")
    with pytest.raises(ClientError) as exc:
        sm.describe_user_profile(DomainId=domain_id, UserProfileName="user-00")
    assert error_code(exc) == "ResourceNotFound"


def test_spaces_crud(world: World, aws: Emulator) -> None:
    sm = strict(aws)
    space = sm.describe_space(DomainId=world.domain_id, SpaceName="alice-space")
    assert space["SpaceArn"].endswith(f":space/{world.domain_id}/alice-space")
    assert space["OwnershipSettings"] == {"OwnerUserProfileName": "alice"}
    assert space["SpaceSharingSettings"] == {"SharingType": "Private"}
    assert space["SpaceDisplayName"] == "Alice Space"
    assert space["SpaceSettings"]["AppType"] == "JupyterLab"
    listed = sm.list_spaces(DomainIdEquals=world.domain_id, SortOrder="Ascending")["Spaces"]
    assert [s["SpaceName"] for s in listed] == ["alice-space", "team-space"]
    assert listed[1]["SpaceSharingSettingsSummary"] == {"SharingType": "Shared"}
    assert listed[1]["OwnershipSettingsSummary"] == {"OwnerUserProfileName": "bob"}
    assert listed[0]["SpaceSettingsSummary"]["SpaceStorageSettings"] == {
        "EbsStorageSettings": {"EbsVolumeSizeInGb": 50}
    }

    sm.update_space(
        DomainId=world.domain_id,
        SpaceName="alice-space",
        SpaceDisplayName="Alice's lab",
        SpaceSettings={"SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 100}}},
    )
    updated = sm.describe_space(DomainId=world.domain_id, SpaceName="alice-space")
    assert updated["SpaceDisplayName"] == "Alice's lab"
    assert updated["SpaceSettings"]["AppType"] == "JupyterLab"  # absent: kept
    assert updated["SpaceSettings"]["SpaceStorageSettings"]["EbsStorageSettings"] == {
        "EbsVolumeSizeInGb": 100
    }
    with pytest.raises(ClientError) as exc:  # running app
        sm.delete_space(DomainId=world.domain_id, SpaceName="alice-space")
    assert error_code(exc) == "ResourceInUse"
    with pytest.raises(ClientError) as exc:
        sm.create_space(
            DomainId=world.domain_id,
            SpaceName="x",
            OwnershipSettings={"OwnerUserProfileName": "nobody"},
            SpaceSharingSettings={"SharingType": "Private"},
        )
    assert error_code(exc) == "ResourceNotFound"


# -- apps -------------------------------------------------------------------------------------


def test_apps_describe_list_and_filters(world: World, aws: Emulator) -> None:
    sm = strict(aws)
    app = sm.describe_app(
        DomainId=world.domain_id, SpaceName="team-space", AppType="JupyterLab", AppName="default"
    )
    assert app["AppArn"] == (
        f"arn:aws:sagemaker:us-east-1:123456789012:app/{world.domain_id}/team-space/jupyterlab/default"
    )
    assert app["Status"] == "InService"
    assert app["ResourceSpec"]["InstanceType"] == "ml.g4dn.xlarge"
    # an SMD image from SMD's own account, named by an alias: no version ARN is invented
    assert app["ResourceSpec"]["SageMakerImageArn"] == (
        "arn:aws:sagemaker:us-east-1:885854791233:image/sagemaker-distribution-gpu"
    )
    assert app["ResourceSpec"]["SageMakerImageVersionAlias"] == SMD_DEFAULT_ALIAS
    assert "SageMakerImageVersionArn" not in app["ResourceSpec"]
    age = datetime.now(timezone.utc) - app["CreationTime"]
    assert timedelta(hours=1, minutes=55) < age < timedelta(hours=2, minutes=5)
    # the "user activity" is the last health check (botocore model): equal, and recent
    assert app["LastUserActivityTimestamp"] == app["LastHealthCheckTimestamp"]
    assert datetime.now(timezone.utc) - app["LastHealthCheckTimestamp"] < timedelta(minutes=2)

    all_apps = sm.list_apps(DomainIdEquals=world.domain_id, MaxResults=50)["Apps"]
    assert len(all_apps) == 5
    alice = sm.list_apps(DomainIdEquals=world.domain_id, UserProfileNameEquals="alice")["Apps"]
    assert {a["AppType"] for a in alice} == {"JupyterServer", "KernelGateway"}
    server = next(a for a in alice if a["AppType"] == "JupyterServer")
    assert server["ResourceSpec"]["InstanceType"] == "system"
    team = sm.list_apps(DomainIdEquals=world.domain_id, SpaceNameEquals="team-space")["Apps"]
    assert [(a["SpaceName"], a["AppName"]) for a in team] == [("team-space", "default")]

    paginator = sm.get_paginator("list_apps")
    pages = list(
        paginator.paginate(DomainIdEquals=world.domain_id, PaginationConfig={"PageSize": 2})
    )
    assert [len(p["Apps"]) for p in pages] == [2, 2, 1]
    sm.create_app(
        DomainId=world.domain_id, UserProfileName="bob", AppType="JupyterServer", AppName="default"
    )
    newest = sm.list_apps(SortBy="CreationTime", SortOrder="Descending", MaxResults=1)["Apps"]
    assert newest[0]["UserProfileName"] == "bob"
    oldest = sm.list_apps(SortBy="CreationTime", SortOrder="Ascending", MaxResults=1)["Apps"]
    assert oldest[0].get("UserProfileName") != "bob"


def test_app_delete_transitions(world: World, aws: Emulator) -> None:
    sm = strict(aws)
    aws.set_app_delete_delay(0.2)
    key = {
        "DomainId": world.domain_id,
        "UserProfileName": "alice",
        "AppType": "KernelGateway",
        "AppName": world.find_app(app_type="KernelGateway")["app_name"],
    }
    sm.delete_app(**key)
    assert sm.describe_app(**key)["Status"] == "Deleting"
    with pytest.raises(ClientError) as exc:
        sm.delete_app(**key)
    assert error_code(exc) == "ResourceInUse"
    time.sleep(0.25)
    assert sm.describe_app(**key)["Status"] == "Deleted"
    listed = sm.list_apps(UserProfileNameEquals="alice", DomainIdEquals=world.domain_id)["Apps"]
    assert {a["AppName"]: a["Status"] for a in listed}[key["AppName"]] == "Deleted"  # still listed
    with pytest.raises(ClientError) as exc:
        sm.delete_app(**key)
    assert error_code(exc) == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        sm.delete_app(**dict(key, AppName="never-existed"))
    assert error_code(exc) == "ResourceNotFound"
    # a deleted app's name can be used again
    sm.create_app(**key, ResourceSpec={"InstanceType": "ml.t3.medium"})
    assert sm.describe_app(**key)["Status"] == "InService"


def test_app_deleted_by_clock_travel(world: World, aws: Emulator) -> None:
    sm = strict(aws)
    aws.set_app_delete_delay(3600)
    key = {
        "DomainId": world.domain_id,
        "SpaceName": "alice-space",
        "AppType": "JupyterLab",
        "AppName": "default",
    }
    sm.delete_app(**key)
    with clock.travelling():
        clock.travel(3601)
        assert sm.describe_app(**key)["Status"] == "Deleted"


def test_app_pending_then_in_service(world: World, aws: Emulator) -> None:
    sm = strict(aws)
    aws.set_app_start_delay(0.15)
    key = {"DomainId": world.domain_id, "UserProfileName": "carol", "AppType": "JupyterServer"}
    sm.create_app(**key, AppName="default")
    assert sm.describe_app(**key, AppName="default")["Status"] == "Pending"
    time.sleep(0.2)
    assert sm.describe_app(**key, AppName="default")["Status"] == "InService"


def test_app_errors_and_quota(world: World, aws: Emulator) -> None:
    sm = strict(aws)
    with pytest.raises(ClientError) as exc:
        sm.create_app(
            DomainId=world.domain_id,
            SpaceName="alice-space",
            AppType="JupyterLab",
            AppName="default",
        )
    assert error_code(exc) == "ResourceInUse"
    with pytest.raises(ClientError) as exc:  # neither owner
        sm.create_app(DomainId=world.domain_id, AppType="JupyterLab", AppName="x")
    assert error_code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:  # not an instance type
        sm.create_app(
            DomainId=world.domain_id,
            UserProfileName="bob",
            AppType="KernelGateway",
            AppName="x",
            ResourceSpec={"InstanceType": "ml.banana.huge"},
        )
    assert error_code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        sm.describe_app(
            DomainId=world.domain_id,
            UserProfileName="nobody",
            AppType="JupyterServer",
            AppName="default",
        )
    assert error_code(exc) == "ResourceNotFound"

    for i in range(4):
        sm.create_app(
            DomainId=world.domain_id,
            UserProfileName="bob",
            AppType="KernelGateway",
            AppName=f"kg-{i}",
            ResourceSpec={"InstanceType": "ml.c5.xlarge"},
        )
    with pytest.raises(ClientError) as exc:
        sm.create_app(
            DomainId=world.domain_id,
            UserProfileName="bob",
            AppType="KernelGateway",
            AppName="kg-5",
            ResourceSpec={"InstanceType": "ml.c5.xlarge"},
        )
    assert error_code(exc) == "ResourceLimitExceeded"
    # another instance type is a separate quota; the default comes from the domain settings
    sm.create_app(
        DomainId=world.domain_id, UserProfileName="bob", AppType="KernelGateway", AppName="kg-6"
    )
    app = sm.describe_app(
        DomainId=world.domain_id, UserProfileName="bob", AppType="KernelGateway", AppName="kg-6"
    )
    assert app["ResourceSpec"]["InstanceType"] == "ml.t3.medium"
    assert app["ResourceSpec"]["SageMakerImageArn"].endswith(":image/datascience-1.0")


def test_emulator_time_helpers(world: World, aws: Emulator) -> None:
    app = world.find_app(app_type="JupyterServer")
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    aws.set_app_last_activity(app["arn"], when)
    aws.set_app_status(app["arn"], "Failed", "boom")
    described = aws.client("sagemaker").describe_app(
        DomainId=world.domain_id,
        UserProfileName="alice",
        AppType="JupyterServer",
        AppName="default",
    )
    assert described["LastUserActivityTimestamp"] == when
    assert described["Status"] == "Failed" and described["FailureReason"] == "boom"


# -- lifecycle configs ------------------------------------------------------------------------


def test_studio_lifecycle_configs(aws: Emulator) -> None:
    sm = strict(aws)
    content = b64("#!/bin/bash\nset -euo pipefail\n")
    arn = sm.create_studio_lifecycle_config(
        StudioLifecycleConfigName="smstudio-v1",
        StudioLifecycleConfigContent=content,
        StudioLifecycleConfigAppType="JupyterLab",
        Tags=[{"Key": "owner", "Value": "platform"}],
    )["StudioLifecycleConfigArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/smstudio-v1"
    described = sm.describe_studio_lifecycle_config(StudioLifecycleConfigName="smstudio-v1")
    assert described["StudioLifecycleConfigContent"] == content
    assert described["StudioLifecycleConfigAppType"] == "JupyterLab"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "platform"}]

    with pytest.raises(ClientError) as exc:
        sm.create_studio_lifecycle_config(
            StudioLifecycleConfigName="smstudio-v1",
            StudioLifecycleConfigContent=content,
            StudioLifecycleConfigAppType="JupyterLab",
        )
    assert error_code(exc) == "ResourceInUse"

    at_limit = "A" * 16384
    sm.create_studio_lifecycle_config(
        StudioLifecycleConfigName="at-limit",
        StudioLifecycleConfigContent=at_limit,
        StudioLifecycleConfigAppType="KernelGateway",
    )
    bad = [
        ("too-long", "A" * 16388, "JupyterLab", "16384"),
        ("-leading-dash", content, "JupyterLab", "regular expression"),
        ("x" * 64, content, "JupyterLab", "63"),
        ("not-base64", "#!/bin/bash", "JupyterLab", "base64"),
        ("bad-type", content, "RStudioServerPro", "enum"),
    ]
    for name, body, app_type, hint in bad:
        with pytest.raises(ClientError) as exc:
            sm.create_studio_lifecycle_config(
                StudioLifecycleConfigName=name,
                StudioLifecycleConfigContent=body,
                StudioLifecycleConfigAppType=app_type,
            )
        assert error_code(exc) == "ValidationException", name
        assert hint in exc.value.response["Error"]["Message"], name

    for i in range(3):
        sm.create_studio_lifecycle_config(
            StudioLifecycleConfigName=f"other-{i}",
            StudioLifecycleConfigContent=content,
            StudioLifecycleConfigAppType="JupyterServer",
        )
    page = sm.list_studio_lifecycle_configs(MaxResults=2, SortBy="Name", SortOrder="Ascending")
    assert [c["StudioLifecycleConfigName"] for c in page["StudioLifecycleConfigs"]] == [
        "at-limit",
        "other-0",
    ]
    rest = sm.list_studio_lifecycle_configs(
        MaxResults=2, SortBy="Name", SortOrder="Ascending", NextToken=page["NextToken"]
    )
    assert len(rest["StudioLifecycleConfigs"]) == 2 and rest["NextToken"]
    named = sm.list_studio_lifecycle_configs(NameContains="other", AppTypeEquals="JupyterServer")
    assert len(named["StudioLifecycleConfigs"]) == 3
    assert "StudioLifecycleConfigContent" not in named["StudioLifecycleConfigs"][0]

    sm.delete_studio_lifecycle_config(StudioLifecycleConfigName="smstudio-v1")
    with pytest.raises(ClientError) as exc:
        sm.describe_studio_lifecycle_config(StudioLifecycleConfigName="smstudio-v1")
    assert error_code(exc) == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        sm.delete_studio_lifecycle_config(StudioLifecycleConfigName="smstudio-v1")
    assert error_code(exc) == "ResourceNotFound"


# -- images -----------------------------------------------------------------------------------


def test_images_versions_and_app_image_configs(aws: Emulator) -> None:
    sm = strict(aws)
    aws.set_image_version_delay(0.15)
    image_arn = sm.create_image(ImageName="team-conda", RoleArn=ROLE, DisplayName="Team")[
        "ImageArn"
    ]
    assert image_arn == "arn:aws:sagemaker:us-east-1:123456789012:image/team-conda"
    with pytest.raises(ClientError) as exc:
        sm.create_image(ImageName="team-conda", RoleArn=ROLE)
    assert error_code(exc) == "ResourceInUse"
    assert sm.describe_image(ImageName="team-conda")["ImageStatus"] == "CREATED"

    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team-conda:"
    v1 = sm.create_image_version(ImageName="team-conda", BaseImage=uri + "1")["ImageVersionArn"]
    assert v1.endswith(":image-version/team-conda/1")
    described = sm.describe_image_version(ImageName="team-conda")
    assert described["ImageVersionStatus"] == "CREATING" and described["Version"] == 1
    with pytest.raises(ClientError) as exc:  # one version at a time
        sm.create_image_version(ImageName="team-conda", BaseImage=uri + "2")
    assert error_code(exc) == "ResourceInUse"
    time.sleep(0.2)
    assert sm.describe_image_version(ImageName="team-conda")["ImageVersionStatus"] == "CREATED"
    sm.create_image_version(ImageName="team-conda", BaseImage=uri + "2")
    latest = sm.describe_image_version(ImageName="team-conda")
    assert latest["Version"] == 2 and latest["BaseImage"] == uri + "2"
    assert sm.describe_image_version(ImageName="team-conda", Version=1)["BaseImage"] == uri + "1"
    versions = sm.list_image_versions(
        ImageName="team-conda", SortBy="VERSION", SortOrder="ASCENDING"
    )
    assert [v["Version"] for v in versions["ImageVersions"]] == [1, 2]
    with pytest.raises(ClientError) as exc:
        sm.describe_image_version(ImageName="team-conda", Version=9)
    assert error_code(exc) == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        sm.create_image_version(ImageName="missing", BaseImage=uri + "1")
    assert error_code(exc) == "ResourceNotFound"
    sm.create_image(ImageName="other", RoleArn=ROLE)
    images = sm.list_images(NameContains="team")["Images"]
    assert [i["ImageName"] for i in images] == ["team-conda"]

    kernel_config = {
        "KernelSpecs": [{"Name": "conda-env-team-py", "DisplayName": "Team"}],
        "FileSystemConfig": {
            "MountPath": "/home/sagemaker-user",
            "DefaultUid": 1000,
            "DefaultGid": 100,
        },
    }
    config_arn = sm.create_app_image_config(
        AppImageConfigName="team-conda-config", KernelGatewayImageConfig=kernel_config
    )["AppImageConfigArn"]
    assert config_arn.endswith(":app-image-config/team-conda-config")
    with pytest.raises(ClientError) as exc:
        sm.create_app_image_config(AppImageConfigName="team-conda-config")
    assert error_code(exc) == "ResourceInUse"
    got = sm.describe_app_image_config(AppImageConfigName="team-conda-config")
    assert got["KernelGatewayImageConfig"] == kernel_config
    lab = {
        "ContainerConfig": {
            "ContainerArguments": ["--x"],
            "ContainerEnvironmentVariables": {"A": "1"},
        }
    }
    sm.update_app_image_config(AppImageConfigName="team-conda-config", JupyterLabAppImageConfig=lab)
    got = sm.describe_app_image_config(AppImageConfigName="team-conda-config")
    assert (
        got["JupyterLabAppImageConfig"] == lab and got["KernelGatewayImageConfig"] == kernel_config
    )
    listed = sm.list_app_image_configs(NameContains="team")["AppImageConfigs"]
    assert [c["AppImageConfigName"] for c in listed] == ["team-conda-config"]
    sm.delete_app_image_config(AppImageConfigName="team-conda-config")
    with pytest.raises(ClientError) as exc:
        sm.describe_app_image_config(AppImageConfigName="team-conda-config")
    assert error_code(exc) == "ResourceNotFound"
    sm.delete_image(ImageName="team-conda")
    with pytest.raises(ClientError) as exc:
        sm.describe_image(ImageName="team-conda")
    assert error_code(exc) == "ResourceNotFound"


# -- tags -------------------------------------------------------------------------------------


def test_auto_tags_and_tag_operations(world: World, aws: Emulator) -> None:
    sm = strict(aws)

    def tags(arn: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}

    profile_arn = sm.describe_user_profile(DomainId=world.domain_id, UserProfileName="alice")[
        "UserProfileArn"
    ]
    assert profile_arn.endswith(f":user-profile/{world.domain_id}/alice")
    assert tags(profile_arn) == {
        "sagemaker:domain-arn": world.domain_arn,
        "sagemaker:user-profile-arn": profile_arn,
        "studiouserid": "alice",
    }
    space_arn = sm.describe_space(DomainId=world.domain_id, SpaceName="team-space")["SpaceArn"]
    assert tags(space_arn) == {
        "sagemaker:domain-arn": world.domain_arn,
        "sagemaker:space-arn": space_arn,
    }
    space_app = world.find_app(app_type="JupyterLab", owner="team-space")
    assert tags(space_app["arn"]) == {
        "sagemaker:domain-arn": world.domain_arn,
        "sagemaker:space-arn": space_arn,
    }
    kg = world.find_app(app_type="KernelGateway")
    assert tags(kg["arn"])["sagemaker:user-profile-arn"] == profile_arn
    assert tags(world.domain_arn) == {"team": "data-science"}

    sm.add_tags(ResourceArn=profile_arn, Tags=[{"Key": "cost-center", "Value": "42"}])
    sm.add_tags(ResourceArn=profile_arn, Tags=[{"Key": "cost-center", "Value": "43"}])
    assert tags(profile_arn)["cost-center"] == "43"
    sm.delete_tags(ResourceArn=profile_arn, TagKeys=["cost-center", "studiouserid"])
    assert set(tags(profile_arn)) == {"sagemaker:domain-arn", "sagemaker:user-profile-arn"}

    gone = profile_arn.replace("/alice", "/nobody")
    for call in (
        lambda: sm.list_tags(ResourceArn=gone),
        lambda: sm.add_tags(ResourceArn=gone, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: sm.delete_tags(ResourceArn=gone, TagKeys=["k"]),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "ResourceNotFound"
    key = world.app_key(kg)
    assert key["UserProfileName"] == "alice" and key["AppType"] == "KernelGateway"
    assert sm.describe_app(**key)["AppArn"] == kg["arn"]


def test_non_compliant_world(aws: Emulator) -> None:
    world = seed_world(aws, kind="spaces", compliant=False)
    sm = aws.client("sagemaker")
    d = sm.describe_domain(DomainId=world.domain_id)
    assert d["AppNetworkAccessType"] == "PublicInternetOnly"
    assert "KmsKeyId" not in d
    assert "S3KmsKeyId" not in d["DefaultUserSettings"]["SharingSettings"]
    assert d["DomainSettings"]["ExecutionRoleIdentityConfig"] == "DISABLED"
    carol = sm.describe_user_profile(DomainId=world.domain_id, UserProfileName="carol")
    keys = {t["Key"] for t in sm.list_tags(ResourceArn=carol["UserProfileArn"])["Tags"]}
    assert world.user_id_tag_key not in keys
    assert [a["app_type"] for a in world.apps] == ["JupyterLab", "JupyterLab"]


# -- pricing and cost explorer ----------------------------------------------------------------


def test_pricing_get_products(aws: Emulator) -> None:
    # the publicly described shape: the instance in usagetype, no instance attribute on Studio
    pricing = aws.client("pricing")
    response = pricing.get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
            {"Type": "TERM_MATCH", "Field": "usagetype", "Value": "USE1-Studio:JupyterLab-ml.g4dn.xlarge"},
        ],
    )  # fmt: skip
    assert response["FormatVersion"] == "aws_v1"
    assert len(response["PriceList"]) == 1
    product = json.loads(response["PriceList"][0])
    attributes = product["product"]["attributes"]
    assert "instanceName" not in attributes and "instanceType" not in attributes
    assert attributes["platoinstancetype"] == "Studio-JupyterLab"
    assert attributes["location"] == "US East (N. Virginia)"
    (term,) = product["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    assert dimension["unit"] == "Hrs"
    assert float(dimension["pricePerUnit"]["USD"]) == pytest.approx(0.7364)
    assert hourly_price("ml.g4dn.xlarge") == pytest.approx(0.7364)
    # a filter on instanceName alone finds only the products that carry it (hosting)
    named = pricing.get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
            {"Type": "TERM_MATCH", "Field": "instanceName", "Value": "ml.g4dn.xlarge"},
        ],
    )
    assert [json.loads(p)["product"]["attributes"]["usagetype"] for p in named["PriceList"]] == [
        "USE1-Host:ml.g4dn.xlarge"
    ]

    ireland = pricing.get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[
            {"Type": "TERM_MATCH", "Field": "location", "Value": "EU (Ireland)"},
            {"Type": "CONTAINS", "Field": "usagetype", "Value": "ml.t3.medium"},
        ],
    )
    usage_types = {
        json.loads(p)["product"]["attributes"]["usagetype"] for p in ireland["PriceList"]
    }
    assert usage_types == {
        "EU-Studio:JupyterLab-ml.t3.medium",
        "EU-Notebk:ml.t3.medium",
        "EU-Host:ml.t3.medium",
        "EU-Train:ml.t3.medium",
    }

    paginator = pricing.get_paginator("get_products")
    pages = list(
        paginator.paginate(
            ServiceCode="AmazonSageMaker",
            Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}],
            PaginationConfig={"PageSize": 20},
        )
    )
    total = sum(len(p["PriceList"]) for p in pages)
    assert len(pages) > 1 and total == 19 * 4 - 2  # ml.r6i.4xlarge: no hosting or training
    assert pricing.get_products(ServiceCode="AmazonEC2")["PriceList"] == []
    values = pricing.get_attribute_values(ServiceCode="AmazonSageMaker", AttributeName="regionCode")
    assert {"us-east-1", "eu-west-1"} <= {v["Value"] for v in values["AttributeValues"]}
    assert aws.count("pricing", "GetProducts") == 3 + len(pages) + 1


def test_cost_explorer_injection(aws: Emulator) -> None:
    result = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": "2025-01-01", "End": "2025-01-02"},
                "Total": {"UnblendedCost": {"Amount": "1.25", "Unit": "USD"}},
                "Groups": [],
                "Estimated": True,
            }
        ]
    }
    aws.inject_cost_and_usage([result])
    got = aws.client("ce").get_cost_and_usage(
        TimePeriod={"Start": "2025-01-01", "End": "2025-01-02"},
        Granularity="DAILY",
        Metrics=["UnblendedCost"],
    )
    assert got["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"] == "1.25"


# -- faults, counts, reset --------------------------------------------------------------------


def test_fault_injection_and_counts(world: World, aws: Emulator) -> None:
    sm = strict(aws)
    assert aws.count("sagemaker", "ListApps") == 0  # seed_world resets the counts
    aws.fail("ListApps", code="ThrottlingException", status=400, times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as exc:
            sm.list_apps()
        assert error_code(exc) == "ThrottlingException"
    assert sm.list_apps(DomainIdEquals=world.domain_id)["Apps"]
    assert aws.count("sagemaker", "ListApps") == 3

    aws.deny("DeleteApp")
    with pytest.raises(ClientError) as exc:
        sm.delete_app(
            DomainId=world.domain_id,
            SpaceName="alice-space",
            AppType="JupyterLab",
            AppName="default",
        )
    assert error_code(exc) == "AccessDeniedException"
    assert "sagemaker:DeleteApp" in exc.value.response["Error"]["Message"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    aws.clear_faults()
    sm.delete_app(
        DomainId=world.domain_id, SpaceName="alice-space", AppType="JupyterLab", AppName="default"
    )

    s3 = strict(aws, "s3")
    s3.put_object(Bucket=world.bucket, Key="a.txt", Body=b"hello")
    aws.fail("GetObject", service="s3", code="SlowDown", status=503, times=1)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=world.bucket, Key="a.txt")
    assert error_code(exc) == "SlowDown"
    assert s3.get_object(Bucket=world.bucket, Key="a.txt")["Body"].read() == b"hello"
    aws.deny("PutObject", service="s3")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=world.bucket, Key="b.txt", Body=b"x")
    assert error_code(exc) == "AccessDenied"
    aws.fail("*", service="ce", code="AccessDeniedException", status=400)
    with pytest.raises(ClientError) as exc:
        strict(aws, "ce").get_cost_and_usage(
            TimePeriod={"Start": "2025-01-01", "End": "2025-01-02"},
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
        )
    assert error_code(exc) == "AccessDeniedException"

    assert aws.count("s3", "GetObject") == 2 and aws.count("s3", "PutObject") == 2
    assert aws.count("sagemaker") == 5
    assert ("s3", "GetObject") in {(c.service, c.operation) for c in aws.calls}
    aws.reset_counts()
    assert aws.count("sagemaker", "ListApps") == 0 and aws.calls == []


def test_reset_isolation(aws: Emulator) -> None:
    sm = strict(aws)
    make_domain(sm, name="before-reset")
    aws.set_app_delete_delay(99)
    aws.fail("ListDomains", code="InternalFailure", status=500)
    aws.reset()
    assert sm.list_domains()["Domains"] == []
    assert aws.count("sagemaker", "ListDomains") == 1
    from smstudio_ext.testing.studio_backend import SETTINGS

    assert SETTINGS.app_delete_delay == 0.5


@pytest.mark.parametrize("kind", ["spaces", "classic", "both"])
def test_seed_world_kinds(aws: Emulator, kind: str, tmp_path) -> None:
    world = seed_world(aws, kind=kind)
    assert world.account_id == "123456789012" and world.region == "us-east-1"
    assert world.profiles == ["alice", "bob", "carol"]
    assert world.primary_profile == "alice"
    assert world.execution_role_arn.startswith("arn:aws:iam::123456789012:role/")
    aws.client("s3").head_bucket(Bucket=world.bucket)
    types = sorted(a["app_type"] for a in world.apps)
    if kind == "spaces":
        assert (
            world.spaces == ["alice-space", "team-space"] and world.primary_space == "alice-space"
        )
        assert types == ["JupyterLab", "JupyterLab"]
        meta = world.metadata()
        assert meta["AppType"] == "JupyterLab" and meta["SpaceName"] == "alice-space"
        assert meta["UserProfileName"] == "alice"
    elif kind == "classic":
        assert world.spaces == [] and world.primary_space is None
        assert types == ["JupyterServer", "KernelGateway", "KernelGateway"]
        assert {a["instance_type"] for a in world.apps} == {"system", "ml.t3.medium", "ml.m5.large"}
        meta = world.metadata()
        assert meta["AppType"] == "JupyterServer" and "SpaceName" not in meta
    else:
        assert len(world.apps) == 5
    app = world.apps[-1]
    path = world.write_metadata(tmp_path / "opt/ml/metadata/resource-metadata.json", app)
    with open(path, encoding="utf-8") as fh:
        written = json.load(fh)
    assert written == world.metadata(app)
    assert written["ResourceArn"] == app["arn"] and written["DomainId"] == world.domain_id
    assert written["ResourceName"] == app["app_name"]
    arn_parts = app["arn"].split(":app/")[1].split("/")
    assert arn_parts == [world.domain_id, app["owner"], app["app_type"].lower(), app["app_name"]]
    assert aws.count("sagemaker") == 0
