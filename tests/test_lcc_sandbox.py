"""Each rendered script run for real with bash in a sandbox that looks like a Studio app.

The sandbox: a temp HOME, the resource metadata path through SMSTUDIO_METADATA_PATH, the target
Python a throwaway venv that sees the shared venv's packages (so installs are offline and fast),
the package from a wheel built once per module from this checkout, served from S3 (moto) or a
local package index. After a run the extension must be installed, configured and enabled; a
second run must change nothing.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from smstudio_ext.admin.lcc import LccSettings, render

sys.path.insert(0, str(Path(__file__).parent))
from lcc_support import SYSTEM_PYTHON, Sandbox, build_wheel, tree_digest

BUCKET = "corp-wheels"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def s3(wheel):
    """moto's S3 over HTTP with the wheel uploaded; yields (endpoint, s3 URI of the wheel)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_creds())
    client.create_bucket(Bucket=BUCKET)
    key = f"dist/{wheel.name}"
    client.upload_file(str(wheel), BUCKET, key)
    yield endpoint, f"s3://{BUCKET}/{key}"
    server.stop()


def _creds() -> dict:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def index(wheel, tmp_path_factory):
    """A PEP 503 package index on 127.0.0.1 serving only our wheel."""
    root = tmp_path_factory.mktemp("index")
    (root / "files").mkdir()
    shutil.copy(wheel, root / "files" / wheel.name)
    (root / "simple" / "smstudio-ext").mkdir(parents=True)
    (root / "simple" / "smstudio-ext" / "index.html").write_text(
        f'<html><body><a href="../../files/{wheel.name}">{wheel.name}</a></body></html>'
    )

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(tmp_path, s3, wheel):
    # the emulator's reset (another module's test on this worker) empties every moto backend
    # in the process, this module's server's too: put the wheel back if it went
    client = boto3.client("s3", endpoint_url=s3[0], region_name="us-east-1", **_creds())
    key = s3[1].split(f"s3://{BUCKET}/", 1)[1]
    try:
        client.head_object(Bucket=BUCKET, Key=key)
    except client.exceptions.ClientError:
        if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
            client.create_bucket(Bucket=BUCKET)
        client.upload_file(str(wheel), BUCKET, key)
    return Sandbox(tmp_path, endpoint=s3[0])


def assert_installed_configured_enabled(box: Sandbox, **expected_config) -> None:
    # installed: importable from the target Python, from its own site-packages
    where = box.py("import smstudio_ext; print(smstudio_ext.__file__)")
    assert where.startswith(str(box.site)), where
    # templates shipped as package data in the wheel
    found = box.py(
        "from smstudio_ext.admin.templates import template_path; "
        "print(template_path('lifecycle/common.sh'))"
    )
    assert "/smstudio_ext/_templates/lifecycle/common.sh" in found and str(box.site) in found
    # configured: the config the server reads, as the package itself loads it
    cfg = json.loads(
        box.py(
            "import json; from smstudio_ext.config import load_config; "
            "print(json.dumps(load_config()))"
        )
    )
    for section, traits in expected_config.items():
        for trait, value in traits.items():
            assert cfg[section][trait] == value, (section, trait, cfg.get(section))
    # enabled: what `jupyter server extension list` says in that Python
    listing = box.extension_list()
    assert "smstudio_ext enabled" in listing and "smstudio_ext 0.1.0 OK" in listing, listing


def test_jupyterlab_from_a_wheel_in_s3_installs_configures_and_is_idempotent(sandbox, s3):
    # Given a JupyterLab script installing from S3 with idle, backup, conda, restore and git
    r = render(
        LccSettings(
            app_type="JupyterLab",
            features=["idle", "backup", "restore", "conda", "git"],
            idle_timeout=45,
            idle_max_timeout=120,
            backup_bucket="s3://corp-backups/homes",
            wheel=s3[1],
            git_user_name="Jane Doe",
            git_user_email="jane@example.com",
        )
    )
    # When it runs in a fresh app
    first = sandbox.run(r.script)
    # Then it succeeds, logs each step with our prefix, and the extension is there
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert all(line.startswith("smstudio-lcc ") for line in lines), first.stdout
    assert "failed" not in first.stdout.lower()
    for step in ("install", "config", "conda", "restore", "git"):
        assert f"step {step}" in first.stdout
    assert_installed_configured_enabled(
        sandbox,
        IdleShutdown={"timeout_minutes": 45, "max_timeout_minutes": 120},
        HomeBackup={"bucket": "s3://corp-backups/homes"},
    )
    gitconfig = (sandbox.home / ".gitconfig").read_text()
    assert "name = Jane Doe" in gitconfig and "email = jane@example.com" in gitconfig
    # the slow parts ran in the background, logged, with the right commands
    sandbox.wait_jobs("conda_sync", "restore")
    assert "job restore started in the background" in first.stdout
    conda_log = (sandbox.state / "conda_sync.log").read_text()
    assert "job conda_sync finished (exit 0)" in conda_log, conda_log  # `smstudio conda sync` ran
    assert (sandbox.home / ".condarc").exists()
    before = sandbox.digest()

    # When the app restarts and the script runs again
    second = sandbox.run(r.script)
    sandbox.wait_jobs("conda_sync", "restore", count=2)
    # Then nothing changes
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Successfully installed" not in second.stdout
    assert "unchanged:" in second.stdout and "already set: kept" in second.stdout
    assert sandbox.digest() == before


@pytest.mark.parametrize(
    "lacking", [("zstandard",), ("pyfastcdc",), ("zstandard", "pyfastcdc")], ids="+".join
)
def test_wheel_installs_offline_in_an_image_without_the_speed_ups(tmp_path, s3, lacking):
    # Given an image whose Python lacks zstandard and/or pyfastcdc (dependencies that only make
    # backups faster, not in every Studio image)
    box = Sandbox(tmp_path, endpoint=s3[0], hide=lacking)
    for name in lacking:
        spec = box.py(f"import importlib.util as u; print(u.find_spec('{name}'))").strip()
        assert spec == "None"
    r = render(LccSettings(app_type="JupyterLab", features=[], wheel=s3[1], strict=True))
    # When the offline install (no package index) runs
    out = box.run(r.script)
    # Then pip's first try fails on the missing dependency, the wheel goes in alone, and the
    # step succeeds
    assert out.returncode == 0, out.stdout + out.stderr
    assert "the wheel alone (--no-deps)" in out.stdout
    assert "step install failed" not in out.stdout.lower()
    assert_installed_configured_enabled(box)
    # and the backup engine works there (zlib instead of zstd, the pure-Python chunker)
    code = "from smstudio_ext.backup import packer; print(packer._ZSTD is None)"
    assert box.py(code).strip() == str("zstandard" in lacking)
    code = "from smstudio_ext.backup import chunker; print(chunker.implementation())"
    assert box.py(code).strip() == ("python" if "pyfastcdc" in lacking else "pyfastcdc")


def test_offline_wheel_missing_a_required_dependency_installs_nothing(tmp_path, s3):
    # Given an image without psutil (required): only zstandard and pyfastcdc may be skipped
    box = Sandbox(tmp_path, endpoint=s3[0], hide=("psutil",))
    r = render(LccSettings(app_type="JupyterLab", features=[], wheel=s3[1]))
    out = box.run(r.script)
    # Then the install step fails, says why, and does not fall back to --no-deps
    assert "No matching distribution found for psutil" in out.stdout, out.stdout
    assert "step install FAILED" in out.stdout
    assert "wheel alone" not in out.stdout
    assert (
        box.py("import importlib.util as u; print(u.find_spec('smstudio_ext'))").strip() == "None"
    )


def test_jupyterserver_from_a_package_index_restarts_only_when_something_changed(tmp_path, index):
    # Given Classic JupyterServer, the package from an index (VpcOnly-style pip settings)
    box = Sandbox(tmp_path)
    marker = tmp_path / "restarts"
    fake = box.bin / "restart-jupyter-server"
    fake.write_text(f"#!/bin/sh\necho restarted >> {marker}\n")
    fake.chmod(0o755)
    host = index.split("//", 1)[1]
    r = render(
        LccSettings(
            app_type="JupyterServer",
            features=["idle", "proxy"],
            idle_timeout=30,
            pip_spec="smstudio-ext==0.1.0",
            pip_index_url=f"{index}/simple",
            pip_trusted_host=host,
            no_proxy="127.0.0.1,localhost",
        )
    )
    env = {"PIP_NO_INDEX": ""}  # this one goes to the index
    first = box.run(r.script, **env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"Looking in indexes: {index}/simple" in first.stdout
    assert_installed_configured_enabled(box, IdleShutdown={"timeout_minutes": 30})
    pip_conf = (box.venv / "pip.conf").read_text()
    assert f"index-url = {index}/simple" in pip_conf and f"trusted-host = {host}" in pip_conf
    box.wait_jobs("restart")
    assert marker.read_text() == "restarted\n"
    before = box.digest()

    second = box.run(r.script, **env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing changed: no restart" in second.stdout
    assert marker.read_text() == "restarted\n"
    assert box.digest() == before


def test_kernelgateway_does_the_kernel_side_only(sandbox, s3):
    import yaml

    pinned = f"pyyaml=={yaml.__version__}"  # already present: installs offline
    r = render(
        LccSettings(
            app_type="KernelGateway",
            features=["idle", "conda", "extensions"],
            idle_timeout=30,
            wheel=s3[1],
            extensions=[pinned],
        )
    )
    out = sandbox.run(r.script)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "step extensions" in out.stdout and "step config" not in out.stdout
    assert sandbox.py("import smstudio_ext; print('ok')").strip() == "ok"
    assert not list((sandbox.venv / "etc").rglob("smstudio.json"))
    assert not list((sandbox.venv / "etc").rglob("jupyter_smstudio_ext_config.json"))
    sandbox.wait_jobs("conda_sync")


def test_a_failing_step_is_logged_and_the_app_still_starts_unless_strict(sandbox, s3):
    missing = f"s3://{BUCKET}/dist/smstudio_ext-9.9.9-py3-none-any.whl"
    r = render(LccSettings(app_type="JupyterLab", features=[], wheel=missing))
    out = sandbox.run(r.script)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "step install FAILED" in out.stdout
    assert "1 step(s) failed" in out.stdout and "the app starts anyway" in out.stdout
    # the config step still ran
    assert list((sandbox.venv / "etc").rglob("smstudio.json"))

    strict = render(LccSettings(app_type="JupyterLab", features=[], wheel=missing, strict=True))
    out = sandbox.run(strict.script)
    assert out.returncode == 1 and "step install FAILED" in out.stdout


@pytest.mark.parametrize("value", ["relative/python", "/opt/x y/python", "/opt/../python"])
def test_runtime_overrides_are_validated(sandbox, value):
    r = render(LccSettings(app_type="JupyterLab", features=[], pip_spec="/nonexistent/x.whl"))
    out = sandbox.run(r.script, SMSTUDIO_LCC_HOME=value)
    assert out.returncode == 2
    assert "SMSTUDIO_LCC_HOME must be an absolute path" in out.stdout


def _tag_owner(aws, world, app, tags):
    sm = aws.client("sagemaker")
    owner = app["owner"]
    if app["owner_type"] == "SpaceName":
        space = sm.describe_space(DomainId=world.domain_id, SpaceName=owner)
        owner = space["OwnershipSettings"]["OwnerUserProfileName"]
    arn = sm.describe_user_profile(DomainId=world.domain_id, UserProfileName=owner)[
        "UserProfileArn"
    ]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


@pytest.mark.parametrize("app_type", ["JupyterLab", "JupyterServer"])
def test_git_identity_from_the_profile_tags(tmp_path, wheel, aws, world, app_type):
    # Given an app whose owner profile carries name and email tags
    app = world.find_app(app_type=app_type)
    _tag_owner(aws, world, app, {"git-name": "Alice Smith", "git-email": "alice@example.com"})
    box = Sandbox(tmp_path, endpoint=aws.endpoint_url)
    world.write_metadata(box.metadata, app)
    (box.home / "ml-examples").mkdir()  # a suggested repository already there
    r = render(
        LccSettings(
            app_type=app_type,
            features=["git"],
            pip_spec=str(wheel),
            git_name_tag="git-name",
            git_email_tag="git-email",
            git_repos=["https://github.com/corp/ml-examples.git", "https://127.0.0.1:9/corp/gone"],
        )
    )
    out = box.run(r.script, SMSTUDIO_LCC_RESTART_DELAY="0", PATH=f"{box.bin}:/usr/bin:/bin")
    assert out.returncode == 0, out.stdout + out.stderr
    gitconfig = (box.home / ".gitconfig").read_text()
    assert "name = Alice Smith" in gitconfig and "email = alice@example.com" in gitconfig
    # the clones ran in the background: the existing folder kept, a failed clone only logged
    box.wait_jobs("git_clone")
    log = (box.state / "git_clone.log").read_text()
    assert (
        "ml-examples exists: not cloned" in log
        and "clone of https://127.0.0.1:9/corp/gone failed" in log
    )
    assert "job git_clone finished (exit 0)" in log


def test_git_identity_skipped_when_tags_are_unavailable(tmp_path, wheel, aws, world):
    app = world.find_app(app_type="JupyterLab")
    box = Sandbox(tmp_path, endpoint=aws.endpoint_url)
    world.write_metadata(box.metadata, app)
    aws.deny("DescribeUserProfile")
    aws.deny("DescribeSpace")
    r = render(
        LccSettings(
            app_type="JupyterLab",
            features=["git"],
            pip_spec=str(wheel),
            git_user_email="team@example.com",
            git_name_tag="git-name",
        )
    )
    out = box.run(r.script)
    assert out.returncode == 0 and "FAILED" not in out.stdout, out.stdout + out.stderr
    assert "git identity from tags skipped" in out.stdout
    assert "profile tags unavailable" in out.stderr  # the reason, on stderr
    gitconfig = (box.home / ".gitconfig").read_text()
    assert "email = team@example.com" in gitconfig and "name =" not in gitconfig


# An interpreter a plain user may run (the shared venv's base may sit in root's private home).


@pytest.fixture
def nobody_root(wheel):
    """A sandbox root a non-root user can use (pytest's own tmp dirs are private to root)."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists(SYSTEM_PYTHON):
        pytest.skip(f"needs root, setpriv and {SYSTEM_PYTHON} to run as another user")
    root = Path(tempfile.mkdtemp(prefix="smstudio-lcc-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_as_a_plain_user_it_installs_with_user_and_falls_back_to_the_user_config(
    nobody_root, wheel
):
    # Given a Studio-like app where the script runs as an unprivileged user without sudo,
    # so the target Python's site-packages and etc/ are read-only to it
    box = Sandbox(nobody_root, base_python=SYSTEM_PYTHON)
    shutil.copy(wheel, nobody_root / wheel.name)
    for path in (box.home, box.home.parent):
        os.chown(path, 65534, 65534)
    box.state.mkdir()
    os.chown(box.state, 65534, 65534)
    r = render(
        LccSettings(
            app_type="JupyterLab",
            features=["idle"],
            idle_timeout=20,
            pip_spec=str(nobody_root / wheel.name),
        )
    )
    path = nobody_root / "lcc.sh"
    path.write_text(r.script)
    path.chmod(0o644)
    run = [
        "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(path),
    ]  # fmt: skip
    out = subprocess.run(run, env=box.env, capture_output=True, text=True, timeout=120)
    # Then it installs into the user's site and writes the user's config: nothing failed
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAILED" not in out.stdout, out.stdout
    assert "read-only: pip install --user" in out.stdout
    assert "falling back to the user's config dir" in out.stdout
    user_site = list((box.home / ".local" / "lib").glob("python3*/site-packages/smstudio_ext"))
    assert user_site, out.stdout
    config = box.home / ".jupyter" / "jupyter_smstudio_ext_config.json"
    enable = box.home / ".jupyter" / "jupyter_server_config.d" / "smstudio.json"
    assert json.loads(enable.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"smstudio_ext": True}}
    }
    assert json.loads(config.read_text())["IdleShutdown"] == {"timeout_minutes": 20}
    assert config.stat().st_uid == 65534
    listing = box.extension_list()
    assert "smstudio_ext enabled" in listing and "smstudio_ext 0.1.0 OK" in listing, listing
    # and a second run changes nothing
    before = tree_digest(box.home / ".local", box.home / ".jupyter")
    again = subprocess.run(run, env=box.env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "FAILED" not in again.stdout, again.stdout
    assert tree_digest(box.home / ".local", box.home / ".jupyter") == before


# --- the script's Python (smstudio_ext.lcc_runtime, smstudio_ext.runtime_marker) -----------


def _wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal pure-Python wheel (one module) with the given requirements."""
    import base64
    import hashlib
    import zipfile

    info = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    files = {
        f"{name}.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": meta,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    out = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return out


def test_install_never_changes_a_package_the_image_has(tmp_path):
    # Given an image with imgpkg 1.0, and a wheel that wants imgpkg>=2 (2.0 is right there)
    box = Sandbox(tmp_path)
    links = tmp_path / "links"
    links.mkdir()
    old = _wheel(links, "imgpkg", "1.0")
    subprocess.run([str(box.python), "-m", "pip", "install", "-q", "--no-index", str(old)],
                   check=True, env={**box.env, "PIP_NO_INDEX": "1"}, capture_output=True)  # fmt: skip
    old.unlink()
    _wheel(links, "imgpkg", "2.0")
    wanted = _wheel(links, "dependent", "1.0", requires=("imgpkg>=2",))
    # When the lifecycle runtime installs it
    out = subprocess.run(
        [str(box.python), "-m", "smstudio_ext.lcc_runtime", "install", "--wheel", str(wanted),
         "--find-links", str(links), "--state", str(box.state)],
        env={**box.env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # Then pip refuses (the image's imgpkg is pinned), one line says so, nothing changed
    assert out.returncode != 0, out.stdout
    errors = [ln for ln in out.stdout.splitlines() if "ERROR: pip install of dependent" in ln]
    assert len(errors) == 1 and "the image's packages are unchanged" in errors[0], out.stdout
    assert "imgpkg==1.0" in (box.state / "constraints.txt").read_text()
    assert box.py("import imgpkg; print(imgpkg.VERSION)").strip() == "1.0"
    assert box.py("import importlib.util as u; print(u.find_spec('dependent'))").strip() == "None"


def test_the_runtime_marker_names_only_live_servers_that_wrote_their_file(tmp_path):
    import psutil

    from smstudio_ext import runtime_marker as rm

    runtime = tmp_path / "runtime"
    runtime.mkdir()
    assert rm.status(runtime, "0.1.0")[0] == rm.NONE
    # a server (this process) that did not load us
    me = os.getpid()
    info = runtime / f"jpserver-{me}.json"
    info.write_text(json.dumps({"pid": me, "base_url": "/jupyterlab/default/", "port": 8888}))
    code, line = rm.status(runtime, "0.1.0")
    assert code == rm.WITHOUT and f"pid {me} (base URL /jupyterlab/default/, port 8888)" in line
    # it loaded another version, then this one
    marker = runtime / f"smstudio-ext-{me}.json"
    marker.write_text(json.dumps({"pid": me, "version": "0.0.9"}))
    assert "runs smstudio_ext 0.0.9" in rm.status(runtime, "0.1.0")[1]
    marker.write_text(json.dumps({"pid": me, "version": "0.1.0"}))
    assert rm.status(runtime, "0.1.0")[0] == rm.LOADED
    # files left by an earlier container: the pid now belongs to a younger process (reused)
    started = psutil.Process(me).create_time()
    for f in (info, marker):
        os.utime(f, (started - 3600, started - 3600))
    assert rm.status(runtime, "0.1.0")[0] == rm.NONE
    # a pid that is gone
    info.write_text(json.dumps({"pid": 2**22 + 7, "base_url": "/"}))
    assert rm.status(runtime, "0.1.0")[0] == rm.NONE


# --- extensions over the foreground budget install in the background ------------------------------
def test_extensions_in_the_background_install_and_log(sandbox, s3):
    # Given extensions that do not fit the foreground budget (pip timeout 150 s)
    r = render(
        LccSettings(
            app_type="JupyterLab",
            wheel=s3[1],
            pip_timeout=150,
            extensions=["smstudio-ext==0.1.0"],  # already installed by then: a no-op
        )
    )
    assert re.search(r"^run extensions_bg$", r.script, re.M), r.script
    out = sandbox.run(r.script)
    assert out.returncode == 0 and "FAILED" not in out.stdout, out.stdout + out.stderr
    assert "job extensions started in the background" in out.stdout
    sandbox.wait_jobs("extensions")
    assert "job extensions finished (exit 0)" in (sandbox.state / "extensions.log").read_text()


# --- a bare wheel URI downloads -------------------------------------------------------------------
def test_a_bare_wheel_uri_downloads_in_the_sandbox(sandbox, s3):
    bare = s3[1][len("s3://") :]
    r = render(LccSettings(app_type="KernelGateway", wheel=bare))
    out = sandbox.run(r.script)
    assert out.returncode == 0 and "FAILED" not in out.stdout, out.stdout + out.stderr
    assert "installed: smstudio_ext" in out.stdout


# --- restore guarded at run time; the clones still run --------------------------------------------
def test_restore_without_the_restore_command_is_logged_and_clones_still_run(sandbox, tmp_path):
    # Given the installed smstudio has no `restore` command (the backup engine is separate)
    fake = tmp_path / "fakepkg" / "smstudio_ext"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("__version__ = '0.1.0'\n")
    (fake / "__main__.py").write_text("import sys\nsys.exit('no such command: ' + sys.argv[1])\n")
    r = render(
        LccSettings(
            app_type="JupyterLab",
            features=["restore", "git"],
            backup_bucket="s3://corp-backups/homes",
            restore=True,
            pip_spec="/nonexistent/smstudio_ext-0.1.0-py3-none-any.whl",
            git_repos=["https://127.0.0.1:9/corp/gone"],
        )
    )
    out = sandbox.run(r.script, PYTHONPATH=str(fake.parent))
    assert out.returncode == 0, out.stdout + out.stderr
    sandbox.wait_jobs("restore", "git_clone")
    # each job marks itself done just after its last log line: wait for the markers too
    deadline = time.monotonic() + 30
    while not all((sandbox.state / f"{j}.done").exists() for j in ("restore", "git_clone")):
        assert time.monotonic() < deadline, "the jobs' .done markers did not appear"
        time.sleep(0.05)
    restore_log = (sandbox.state / "restore.log").read_text()
    assert "restore not available in this smstudio" in restore_log
    assert "job restore finished (exit 0)" in restore_log
    # the clone job waited for the restore job: it finished after it
    clone_log = (sandbox.state / "git_clone.log").read_text()
    assert "waited for restore" in clone_log
    assert (sandbox.state / "restore.done").stat().st_mtime_ns <= (
        sandbox.state / "git_clone.done"
    ).stat().st_mtime_ns
