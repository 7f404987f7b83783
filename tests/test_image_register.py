"""Image registration against the emulator: fresh, already exists, re-run, update, dry run."""

from __future__ import annotations

import pytest

from smstudio_ext.admin.images import ImageSpec, register_image
from smstudio_ext.aws import AwsClients
from smstudio_ext.cli import main
from smstudio_ext.errors import AccessDenied, AwsError, BadInput

URI = "111122223333.dkr.ecr.us-east-1.amazonaws.com/smstudio-jl:0.1.0"
ROLE = "arn:aws:iam::111122223333:role/SageMakerImageRole"
MUTATING = {
    "CreateImage",
    "CreateImageVersion",
    "CreateAppImageConfig",
    "UpdateAppImageConfig",
    "UpdateDomain",
}


@pytest.fixture
def clients(aws):
    return AwsClients(aws.region, endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)


def custom_images(aws, world, key="JupyterLabAppSettings"):
    out = aws.client("sagemaker").describe_domain(DomainId=world.domain_id)
    return (out["DefaultUserSettings"].get(key) or {}).get("CustomImages") or []


def reg(clients, world, uri=URI, kind="jupyterlab", **kw):
    return register_image(
        clients,
        domain=world.domain_id,
        image_uri=uri,
        name=kw.pop("name", "smstudio-jl"),
        role_arn=ROLE,
        spec=ImageSpec(kind=kind, **kw.pop("spec", {})),
        poll=0.02,
        timeout=10,
        **kw,
    )


def test_fresh_registration_runs_every_step_and_waits_for_created(aws, world, clients):
    aws.set_image_version_delay(0.2)  # the version is CREATING for a moment
    plan = reg(clients, world)
    assert [c.operation for c in plan.calls] == [
        "CreateImage",
        "CreateImageVersion",
        "CreateAppImageConfig",
        "UpdateDomain",
    ]
    sm = aws.client("sagemaker")
    version = sm.describe_image_version(ImageName="smstudio-jl")
    assert version["ImageVersionStatus"] == "CREATED" and version["BaseImage"] == URI
    cfg = sm.describe_app_image_config(AppImageConfigName="smstudio-jl")
    # the service does not support FileSystemConfig for JupyterLab (botocore model)
    assert "FileSystemConfig" not in cfg["JupyterLabAppImageConfig"]
    assert cfg["JupyterLabAppImageConfig"]["ContainerConfig"]["ContainerEntrypoint"] == [
        "entrypoint-jupyter-server"
    ]
    assert {"ImageName": "smstudio-jl", "AppImageConfigName": "smstudio-jl"} in custom_images(
        aws, world
    )


def test_rerun_is_safe_and_reuses_everything(aws, world, clients):
    reg(clients, world)
    aws.reset_counts()
    plan = reg(clients, world)
    assert plan.calls == []
    assert not [c for c in aws.calls if c.operation in MUTATING]
    assert any("exists" in n for n in plan.notes)
    assert len(custom_images(aws, world)) == 1


def test_image_that_already_exists_gets_a_new_version_for_a_new_uri(aws, world, clients):
    # Given the image exists already (made by hand, other role)
    sm = aws.client("sagemaker")
    sm.create_image(ImageName="smstudio-jl", RoleArn="arn:aws:iam::111122223333:role/Other")
    reg(clients, world)
    plan = reg(clients, world, uri=URI.replace(":0.1.0", ":0.2.0"))
    assert [c.operation for c in plan.calls] == ["CreateImageVersion"]
    versions = sm.list_image_versions(ImageName="smstudio-jl")["ImageVersions"]
    assert sorted(v["Version"] for v in versions) == [1, 2]
    assert any("keeps its role" in n for n in plan.notes) or any("reused" in n for n in plan.notes)


def test_changed_config_is_updated_and_other_custom_images_are_kept(aws, world, clients):
    reg(clients, world, kind="kernelgateway", name="corp-kg")  # someone else's image
    reg(clients, world, kind="kernelgateway")
    plan = reg(
        clients, world, kind="kernelgateway", spec={"kernel_name": "ds", "display_name": "DS"}
    )
    assert [c.operation for c in plan.calls] == ["UpdateAppImageConfig"]
    cfg = aws.client("sagemaker").describe_app_image_config(AppImageConfigName="smstudio-jl")
    assert cfg["KernelGatewayImageConfig"]["KernelSpecs"] == [{"Name": "ds", "DisplayName": "DS"}]
    names = [i["ImageName"] for i in custom_images(aws, world, "KernelGatewayAppSettings")]
    assert names == ["corp-kg", "smstudio-jl"]


def test_dry_run_changes_nothing(aws, world, clients):
    aws.reset_counts()
    plan = reg(clients, world, dry_run=True)
    assert [c.operation for c in plan.calls] == [
        "CreateImage",
        "CreateImageVersion",
        "CreateAppImageConfig",
        "UpdateDomain",
    ]
    for op in MUTATING:
        assert aws.count("sagemaker", op) == 0, op


def test_failures_are_clear(aws, world, clients):
    with pytest.raises(BadInput, match="invalid image URI"):
        reg(clients, world, uri="docker.io/library/python:3.11")
    with pytest.raises(BadInput, match="invalid role ARN"):
        register_image(clients, domain=world.domain_id, image_uri=URI, name="x", role_arn="admin",
                       spec=ImageSpec(kind="jupyterlab"))  # fmt: skip
    aws.deny("CreateAppImageConfig", times=1)
    with pytest.raises(AccessDenied) as err:
        reg(clients, world)
    assert err.value.action == "sagemaker:CreateAppImageConfig"
    # a re-run after the fix finishes the job, reusing what was made
    plan = reg(clients, world)
    assert [c.operation for c in plan.calls] == ["CreateAppImageConfig", "UpdateDomain"]


def test_a_version_that_never_gets_created_times_out(aws, world, clients):
    aws.set_image_version_delay(30)
    with pytest.raises(AwsError, match="still CREATING"):
        register_image(clients, domain=world.domain_id, image_uri=URI, name="slow", role_arn=ROLE,
                       spec=ImageSpec(kind="jupyterlab"), poll=0.05, timeout=0.3)  # fmt: skip


def test_cli_register(aws, world, capsys):
    base = ["--endpoint-url", aws.endpoint_url, "--region", aws.region, "image", "register"]
    args = ["--kind", "jupyterlab", "--domain", world.domain_id, "--image-uri", URI,
            "--name", "smstudio-jl", "--role-arn", ROLE]  # fmt: skip
    assert main([*base, *args, "--dry-run"]) == 0
    assert "dry run: would call CreateImage" in capsys.readouterr().out
    assert main([*base, *args]) == 0
    out = capsys.readouterr().out
    assert "called UpdateDomain" in out and "image: smstudio-jl arn:" in out
    assert main([*base, *args]) == 0
    assert "called" not in capsys.readouterr().out
