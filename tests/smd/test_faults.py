"""Bad days in an SMD space: each fault gives one clear line in the lifecycle log and leaves the
space usable (the image's own JupyterLab keeps serving, without our extension when it must).

Run on the oldest SMD we support, with the server already running (SMD's order)."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest

from smstudio_ext._version import __version__
from smstudio_ext.admin import wheelhouse
from smstudio_ext.testing.smd import OLDEST, SmdSpace

from .conftest import BUCKET, panel_settings, push_wheelhouse, registered_script
from .smd_support import image_packages

pytestmark = pytest.mark.timeout(900)


def running(spaces, **kw) -> tuple[SmdSpace, int]:
    space = spaces(OLDEST, **kw)
    space.start()
    return space, space.wait_server().pid


def still_usable_without_us(space: SmdSpace, pid: int | None = None) -> None:
    """The image's JupyterLab answers; our routes don't (never half-loaded)."""
    server = space.wait_server()
    if pid is not None:
        assert server.pid == pid, "the server was restarted"
    assert server.loaded is None
    assert space.api("api/status", server)[0] == 200
    assert space.api("lab", server)[0] == 200
    assert space.api("smstudio/context", server)[0] == 404


@pytest.mark.parametrize("source", ["wheel", "wheelhouse"])
def test_a_wheel_or_wheelhouse_that_404s(source, spaces, clients, world, smd_wheelhouse):
    push_wheelhouse(clients, smd_wheelhouse)
    missing = {
        "wheel": {"wheel": f"s3://{BUCKET}/dist/smstudio_ext-9.9.9-py3-none-any.whl"},
        "wheelhouse": {"wheelhouse": f"s3://{BUCKET}/nothing/here"},
    }[source]
    script = registered_script(clients, world, panel_settings(world, **missing))
    space, pid = running(spaces)
    run = space.run_lcc(script)
    # one clear line: what could not be downloaded, and why
    assert run.returncode == 0, run.stdout + run.stderr
    errors = [ln for ln in run.stderr.splitlines() if ln.startswith("cannot download s3://")]
    assert len(errors) == 1 and ("404" in errors[0] or "Not Found" in errors[0]), run.stderr
    assert "Traceback" not in run.stderr
    assert "step install FAILED" in run.stdout
    assert "the Jupyter server is left as it is" in run.stdout
    still_usable_without_us(space, pid)


def test_pip_failing_half_way_leaves_nothing_half_installed(
    spaces, clients, world, smd_wheelhouse, tmp_path
):
    # Given a wheelhouse whose wheel of ours breaks in the middle of the install (a corrupt
    # member after the package's first files: pip has written some of them when it fails)
    broken = tmp_path / "wheelhouse"
    shutil.copytree(smd_wheelhouse, broken)
    ours = next(broken.glob("smstudio_ext-*.whl"))
    with zipfile.ZipFile(ours) as z:
        victim = next(i for i in z.infolist() if i.filename.endswith(".js.map"))
    data = bytearray(ours.read_bytes())
    start = victim.header_offset + 30 + len(victim.filename.encode()) + len(victim.extra)
    for i in range(start + 16, start + 64):
        data[i] ^= 0xFF
    ours.write_bytes(bytes(data))
    manifest = wheelhouse.manifest_of(broken, "3.11", ours)
    (broken / wheelhouse.MANIFEST).write_text(json.dumps(manifest))
    push_wheelhouse(clients, broken)
    script = registered_script(clients, world, panel_settings(world))
    space, pid = running(spaces)
    packages = image_packages(space)
    site = next((space.conda / "lib").glob("python3*/site-packages"))
    before = sorted(p.name for p in site.iterdir())
    run = space.run_lcc(script)
    assert run.returncode == 0, run.stdout + run.stderr
    errors = [ln for ln in run.stdout.splitlines() if "ERROR: pip install of" in ln]
    assert len(errors) == 1, run.stdout
    assert "removed what it added: " in errors[0] and "smstudio_ext" in errors[0], errors
    assert "the image's packages are unchanged" in errors[0]
    # nothing of ours is left, the image's packages are as they were and consistent
    assert sorted(p.name for p in site.iterdir()) == before
    assert not (space.conda / "share" / "jupyter" / "labextensions" / "smstudio-ext").exists()
    assert image_packages(space) == packages
    check = space.user_run([str(space.python), "-m", "pip", "check"])
    assert "No broken requirements" in check.stdout, check.stdout + check.stderr
    probe = space.user_run([str(space.python), "-c", "import smstudio_ext"])
    assert probe.returncode != 0
    still_usable_without_us(space, pid)


def test_a_restart_that_does_nothing_is_reported_and_the_server_kept(
    spaces, clients, world, smd_wheelhouse
):
    push_wheelhouse(clients, smd_wheelhouse)
    script = registered_script(clients, world, panel_settings(world))
    space, pid = running(spaces)
    # a restart-jupyter-server that returns without restarting anything
    (space.bin / "restart-jupyter-server").write_text("#!/bin/bash\nexit 0\n")
    run = space.run_lcc(script, SMSTUDIO_LCC_RESTART_WAIT="5")
    assert run.returncode == 0, run.stdout + run.stderr
    errors = [ln for ln in run.stdout.splitlines() if "ERROR" in ln]
    assert len(errors) == 1, run.stdout
    assert f"did not restart with smstudio_ext {__version__} within 5 s" in errors[0]
    assert "it keeps running as it is: restart the app to load it" in errors[0]
    assert "step server FAILED" in run.stdout and "the app starts anyway" in run.stdout
    still_usable_without_us(space, pid)


def test_a_restart_that_never_comes_back_brings_the_image_jupyterlab_back_without_us(
    spaces, clients, world, smd_wheelhouse
):
    push_wheelhouse(clients, smd_wheelhouse)
    script = registered_script(clients, world, panel_settings(world))
    space, pid = running(spaces)
    # fault injection: the first restart stops the server and nothing comes back (as if the
    # new server died at start); later ones start it again, as supervisord would
    (space.bin / "restart-jupyter-server").write_text(
        "#!/bin/bash\n"
        f"if [ ! -e {space.tmp}/stopped-once ]; then touch {space.tmp}/stopped-once\n"
        f"  supervisorctl -c {space.conf} stop jupyterlabserver >/dev/null 2>&1\n"
        f"else nohup supervisorctl -c {space.conf} start jupyterlabserver >/dev/null 2>&1 &\nfi\n"
    )
    run = space.run_lcc(script, SMSTUDIO_LCC_RESTART_WAIT="10")
    assert run.returncode == 0, run.stdout + run.stderr
    errors = [ln for ln in run.stdout.splitlines() if "ERROR" in ln]
    assert len(errors) == 1, run.stdout
    assert "did not come back within 10 s after the restart" in errors[0]
    assert "disabled smstudio_ext" in errors[0] and "restarted it without it" in errors[0]
    # the image's JupyterLab is back, without our extension
    still_usable_without_us(space)


def test_a_server_under_another_base_url(spaces, clients, world, smd_wheelhouse):
    # Given SMD's start script without SAGEMAKER_APP_TYPE: `jupyter lab` at base URL /
    push_wheelhouse(clients, smd_wheelhouse)
    script = registered_script(clients, world, panel_settings(world))
    space, pid = running(spaces, app_type=None)
    assert space.wait_server().base_url == "/"
    run = space.run_lcc(script)
    # Then the restart works the same (no HTTP to a guessed URL) and the log names the URL
    assert run.returncode == 0 and "FAILED" not in run.stdout, run.stdout + run.stderr
    assert f"Jupyter server pid {pid} (base URL /, port" in run.stdout
    server = space.wait_server(loaded=__version__)
    assert server.base_url == "/" and server.pid != pid
    status, ctx = space.api("smstudio/context", server)
    assert status == 200 and ctx["space_name"] == world.find_app(app_type="JupyterLab")["owner"]
