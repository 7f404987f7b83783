"""``seed_world``: a realistic Studio domain in the emulator, built through the public APIs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from smstudio_ext.clock import utcnow

from .emulator import Emulator
from .studio import classic_image_arn, smd_image_arn

USER_ID_TAG_KEY = "studiouserid"
PROFILES = ("alice", "bob", "carol")
KINDS = ("spaces", "classic", "both")


@dataclass
class World:
    """What ``seed_world`` created; ``apps`` items are dicts (see ``seed_world``)."""

    region: str
    account_id: str
    kind: str
    compliant: bool
    domain_id: str
    domain_arn: str
    domain_name: str
    bucket: str
    execution_role_arn: str
    vpc_id: str
    subnet_ids: list[str]
    security_group_ids: list[str]
    kms_key_id: str | None
    profiles: list[str] = field(default_factory=list)
    spaces: list[str] = field(default_factory=list)
    apps: list[dict[str, Any]] = field(default_factory=list)
    user_id_tag_key: str = USER_ID_TAG_KEY
    primary_profile: str = "alice"
    primary_space: str | None = None

    def find_app(
        self,
        app_type: str | None = None,
        owner: str | None = None,
        app_name: str | None = None,
    ) -> dict[str, Any]:
        for app in self.apps:
            if (
                (app_type is None or app["app_type"] == app_type)
                and (owner is None or app["owner"] == owner)
                and (app_name is None or app["app_name"] == app_name)
            ):
                return app
        raise LookupError(f"no seeded app matches {app_type}/{owner}/{app_name}")

    def default_app(self) -> dict[str, Any]:
        """The app our server extension would run in: a space's JupyterLab, else JupyterServer."""
        for app_type in ("JupyterLab", "JupyterServer"):
            try:
                return self.find_app(app_type=app_type)
            except LookupError:
                continue
        return self.apps[0]

    def app_key(self, app: dict[str, Any] | None = None) -> dict[str, str]:
        """The DescribeApp/DeleteApp arguments that name ``app`` (default: ``default_app()``)."""
        app = app or self.default_app()
        return {
            "DomainId": self.domain_id,
            app["owner_type"]: app["owner"],
            "AppType": app["app_type"],
            "AppName": app["app_name"],
        }

    def metadata(self, app: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``/opt/ml/metadata/resource-metadata.json`` Studio writes into ``app``."""
        app = app or self.default_app()
        data: dict[str, Any] = {
            "AppType": app["app_type"],
            "DomainId": self.domain_id,
            "UserProfileName": app.get("user_profile_name") or "",
            "ResourceArn": app["arn"],
            "ResourceName": app["app_name"],
            "AppImageVersion": app.get("app_image_version", ""),
        }
        if app["owner_type"] == "SpaceName":
            data["SpaceName"] = app["owner"]
        return data

    def write_metadata(
        self, path: str | os.PathLike[str], app: dict[str, Any] | None = None
    ) -> str:
        """Write ``metadata(app)`` as JSON to ``path`` (parents created); returns the path."""
        path = os.fspath(path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.metadata(app), fh, indent=2)
        return path


def _image(region: str, name: str) -> str:
    """A platform image: SMD's from SMD's account, Classic's from the Classic images' account."""
    if name.startswith("sagemaker-distribution-"):
        return smd_image_arn(region, gpu=name.endswith("-gpu"))
    return classic_image_arn(region, name)


def seed_world(emu: Emulator, kind: str = "both", compliant: bool = True) -> World:
    """Create one domain with profiles alice/bob/carol, spaces and running apps.

    ``kind``: ``spaces`` (Studio: JupyterLab apps in spaces), ``classic`` (Studio Classic:
    a JupyterServer app plus KernelGateway apps) or ``both``. ``compliant=False`` breaks the
    guardrails: public internet, no KMS, ``ExecutionRoleIdentityConfig=DISABLED``, no idle
    shutdown, and carol lacks the user-id tag. Seeded apps were created two hours ago and last
    used five minutes ago. Request counts are reset afterwards.
    """
    if kind not in KINDS:
        raise ValueError("kind must be one of {}".format(", ".join(KINDS)))
    region, account = emu.region, emu.account_id
    sm = emu.client("sagemaker")
    s3 = emu.client("s3")
    iam = emu.client("iam")

    bucket = f"smstudio-backups-{account}-{region}"
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    role = iam.create_role(
        RoleName="AmazonSageMaker-ExecutionRole-20250101T000000",
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    role_arn = role["Arn"]

    vpc_id = "vpc-0a1b2c3d4e5f60718"
    subnets = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    security_groups = ["sg-0a1b2c3d4e5f60003"]
    kms = (
        f"arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        if compliant
        else None
    )
    sharing: dict[str, Any] = {
        "NotebookOutputOption": "Allowed",
        "S3OutputPath": f"s3://{bucket}/sharing",
    }
    if kms:
        sharing["S3KmsKeyId"] = kms
    cpu_image = _image(region, "sagemaker-distribution-cpu")
    jupyter_lab: dict[str, Any] = {
        "DefaultResourceSpec": {"InstanceType": "ml.t3.medium", "SageMakerImageArn": cpu_image}
    }
    idle_settings = {
        "IdleSettings": {
            "LifecycleManagement": "ENABLED",
            "IdleTimeoutInMinutes": 60,
            "MinIdleTimeoutInMinutes": 60,
            "MaxIdleTimeoutInMinutes": 240,
        }
    }
    if compliant:
        jupyter_lab["AppLifecycleManagement"] = idle_settings
    user_settings: dict[str, Any] = {
        "ExecutionRole": role_arn,
        "SharingSettings": sharing,
        "JupyterServerAppSettings": {
            "DefaultResourceSpec": {
                "InstanceType": "system",
                "SageMakerImageArn": _image(region, "jupyter-server-3"),
            }
        },
        "KernelGatewayAppSettings": {
            "DefaultResourceSpec": {
                "InstanceType": "ml.t3.medium",
                "SageMakerImageArn": _image(region, "datascience-1.0"),
            }
        },
        "JupyterLabAppSettings": jupyter_lab,
        "SpaceStorageSettings": {
            "DefaultEbsStorageSettings": {
                "DefaultEbsVolumeSizeInGb": 5,
                "MaximumEbsVolumeSizeInGb": 100,
            }
        },
        "StudioWebPortal": "ENABLED" if kind != "classic" else "DISABLED",
        "DefaultLandingUri": "studio::" if kind != "classic" else "app:JupyterServer:",
    }
    if compliant:
        user_settings["SecurityGroups"] = security_groups
    domain_args: dict[str, Any] = {
        "DomainName": f"smstudio-{kind}",
        "AuthMode": "IAM",
        "DefaultUserSettings": user_settings,
        "DomainSettings": {
            "ExecutionRoleIdentityConfig": "USER_PROFILE_NAME" if compliant else "DISABLED",
        },
        "SubnetIds": subnets,
        "VpcId": vpc_id,
        "AppNetworkAccessType": "VpcOnly" if compliant else "PublicInternetOnly",
        "DefaultSpaceSettings": {"ExecutionRole": role_arn},
        "Tags": [{"Key": "team", "Value": "data-science"}],
    }
    if compliant:
        domain_args["KmsKeyId"] = kms
        domain_args["DomainSettings"]["SecurityGroupIds"] = security_groups
        domain_args["DefaultSpaceSettings"]["SecurityGroups"] = security_groups
        # shared spaces take their defaults from DefaultSpaceSettings, not DefaultUserSettings:
        # a compliant domain turns Studio's idle shutdown on for them too
        domain_args["DefaultSpaceSettings"]["JupyterLabAppSettings"] = {
            "AppLifecycleManagement": idle_settings
        }
    domain = sm.create_domain(**domain_args)
    domain_id, domain_arn = domain["DomainId"], domain["DomainArn"]

    world = World(
        region=region,
        account_id=account,
        kind=kind,
        compliant=compliant,
        domain_id=domain_id,
        domain_arn=domain_arn,
        domain_name=domain_args["DomainName"],
        bucket=bucket,
        execution_role_arn=role_arn,
        vpc_id=vpc_id,
        subnet_ids=subnets,
        security_group_ids=security_groups if compliant else [],
        kms_key_id=kms,
    )

    for name in PROFILES:
        tags = [{"Key": USER_ID_TAG_KEY, "Value": name}]
        if not compliant and name == "carol":
            tags = []
        sm.create_user_profile(DomainId=domain_id, UserProfileName=name, Tags=tags)
        world.profiles.append(name)

    def add_app(owner_type: str, owner: str, app_type: str, app_name: str, spec: dict) -> None:
        arn = sm.create_app(
            DomainId=domain_id,
            AppType=app_type,
            AppName=app_name,
            ResourceSpec=spec,
            **{owner_type: owner},
        )["AppArn"]
        profile = owner if owner_type == "UserProfileName" else space_owner.get(owner)
        world.apps.append(
            {
                "owner": owner,
                "owner_type": owner_type,
                "user_profile_name": profile,
                "space_name": owner if owner_type == "SpaceName" else None,
                "app_type": app_type,
                "app_name": app_name,
                "instance_type": spec["InstanceType"],
                "image_arn": spec.get("SageMakerImageArn"),
                "app_image_version": "2.0" if app_type == "JupyterLab" else "",
                "arn": arn,
            }
        )

    space_owner: dict[str, str] = {}
    if kind in ("spaces", "both"):
        for space, owner, sharing_type in (
            ("alice-space", "alice", "Private"),
            ("team-space", "bob", "Shared"),
        ):
            sm.create_space(
                DomainId=domain_id,
                SpaceName=space,
                SpaceDisplayName=space.replace("-", " ").title(),
                OwnershipSettings={"OwnerUserProfileName": owner},
                SpaceSharingSettings={"SharingType": sharing_type},
                SpaceSettings={
                    "AppType": "JupyterLab",
                    "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 50}},
                },
            )
            if sharing_type == "Private":
                space_owner[space] = owner
            world.spaces.append(space)
        world.primary_space = "alice-space"
        add_app(
            "SpaceName",
            "alice-space",
            "JupyterLab",
            "default",
            {"InstanceType": "ml.t3.medium", "SageMakerImageArn": cpu_image},
        )
        add_app(
            "SpaceName",
            "team-space",
            "JupyterLab",
            "default",
            {
                "InstanceType": "ml.g4dn.xlarge",
                "SageMakerImageArn": _image(region, "sagemaker-distribution-gpu"),
            },
        )
    if kind in ("classic", "both"):
        add_app(
            "UserProfileName",
            "alice",
            "JupyterServer",
            "default",
            {"InstanceType": "system", "SageMakerImageArn": _image(region, "jupyter-server-3")},
        )
        datascience = _image(region, "datascience-1.0")
        for instance, suffix in (
            ("ml.t3.medium", "1abf3407f667f989be9d86559395"),
            ("ml.m5.large", "7c0a4b5e8d2f4e1b9a6c3d5e7f80"),
        ):
            add_app(
                "UserProfileName",
                "alice",
                "KernelGateway",
                "datascience-1-0-{}-{}".format(instance.replace(".", "-"), suffix),
                {"InstanceType": instance, "SageMakerImageArn": datascience},
            )

    created = utcnow() - timedelta(hours=2)
    active = utcnow() - timedelta(minutes=5)
    for app in world.apps:
        emu.set_app_creation_time(app["arn"], created)
        emu.set_app_last_activity(app["arn"], active)
    emu.reset_counts()
    return world
