"""The baked-image path in the same sandbox: the install steps of `smstudio image dockerfile
--kind jupyterlab --wheel` applied to the pinned SMD environment, as the Dockerfile's notebook
user; the container then starts with the extension loaded, and the lifecycle script run on top
of it changes nothing and restarts nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from smstudio_ext._version import __version__
from smstudio_ext.admin import images
from smstudio_ext.testing.smd import OLDEST, SmdSpace

from .conftest import panel_settings, push_wheelhouse, registered_script
from .smd_support import assert_image_kept, check_loaded, image_packages

pytestmark = pytest.mark.timeout(900)


def apply_dockerfile(space: SmdSpace, dockerfile: str, context: Path) -> list[str]:
    """Run the Dockerfile's non-root steps in the space (``/opt/conda`` → the space's env,
    ``/etc/jupyter`` → the env's etc/jupyter, ``/tmp`` → the space's tmp); returns them."""
    mapping = {
        "/opt/conda": str(space.conda),
        "/etc/jupyter/": f"{space.conda}/etc/jupyter/",
        "/tmp/": f"{space.tmp}/",
        "/home/sagemaker-user": str(space.home),
    }

    pattern = re.compile("|".join(re.escape(k) for k in mapping))

    def mapped(text: str) -> str:  # one pass: a mapped path is never mapped again
        return pattern.sub(lambda m: mapping[m.group(0)], text)

    args: dict[str, str] = {}
    user, done = "root", []
    for instr in re.split(r"\n(?=[A-Z]+ )", dockerfile.replace("\\\n", " ")):
        instr = "\n".join(x for x in instr.splitlines() if not x.startswith("#")).strip()
        word, _, rest = instr.partition(" ")
        if word == "ARG":
            name, _, value = rest.partition("=")
            args[name] = value
        elif word == "USER":
            user = rest.strip()
        elif word == "COPY":
            parts = [p for p in rest.split() if not p.startswith("--")]
            dest = Path(mapped(parts[-1]))
            dest.parent.mkdir(parents=True, exist_ok=True)
            if (context / parts[0]).is_dir():  # COPY of a folder copies its contents
                shutil.copytree(context / parts[0], dest, dirs_exist_ok=True)
            else:
                shutil.copy(context / parts[0], dest)
            if space.as_root:
                subprocess.run(["chown", "-R", "1000:100", str(dest.parent)], check=True)
            done.append(instr)
        elif word == "RUN" and user != "0":
            env = {**space.env, **{k: mapped(v) for k, v in args.items()}}
            proc = subprocess.run(
                space.as_user(["bash", "-o", "pipefail", "-c", mapped(rest)]),
                env=env, capture_output=True, text=True, timeout=600, cwd=str(space.home),
            )  # fmt: skip
            assert proc.returncode == 0, instr + "\n" + proc.stdout + proc.stderr
            done.append(instr)
    return done


@pytest.mark.parametrize("source", ["wheel", "wheelhouse"])
def test_baked_image_then_the_lifecycle_script(
    spaces, clients, world, smd_wheel, smd_wheelhouse, tmp_path, source
):
    # Given the Dockerfile for a JupyterLab image with our wheel (alone, or in a wheelhouse
    # with its dependencies) and the admin's config
    spec = images.ImageSpec(
        kind="jupyterlab", wheel=smd_wheel.name, wheelhouse=source == "wheelhouse"
    )
    dockerfile = images.render_dockerfile(spec)
    context = tmp_path / "context"
    context.mkdir()
    if source == "wheelhouse":
        shutil.copytree(smd_wheelhouse, context / images.WHEELHOUSE_DIR)
    else:
        shutil.copy(smd_wheel, context / smd_wheel.name)
    (context / "jupyter_smstudio_ext_config.json").write_text(
        '{"IdleShutdown": {"timeout_minutes": 90}}'
    )
    space = spaces(OLDEST)
    packages = image_packages(space)
    # When its install steps run on the pinned SMD environment, as the notebook user
    steps = apply_dockerfile(space, dockerfile, context)
    assert any("lcc_runtime install" in s for s in steps), steps
    assert_image_kept(space, packages)
    # Then the container starts with the extension loaded at first start
    space.start()
    check_loaded(space, world)
    first = space.wait_server()
    status, idle = space.api("smstudio/idle", first)
    assert status == 200
    if source == "wheelhouse":
        return  # the lifecycle script on top: once is enough (below, with the wheel)
    # And the lifecycle script on top of it finds it loaded: nothing to restart
    push_wheelhouse(clients, smd_wheelhouse)
    run = space.run_lcc(registered_script(clients, world, panel_settings(world)))
    assert run.returncode == 0 and "FAILED" not in run.stdout, run.stdout + run.stderr
    assert f"runs smstudio_ext {__version__}: no restart needed" in run.stdout
    assert space.wait_server().pid == first.pid
