"""A lifecycle script run as root (Studio Classic) never runs a user's files as root.

The real rendered script runs as root in a sandbox whose home belongs to another user (a test
user created for it), with the three reproductions of issue 16 planted in that home:

1. ``~/.jupyter/jupyter_server_config.py`` — code the conda step's ``smstudio conda sync``
   would load (and so run) as root;
2. ``~/.condarc`` a symlink to a file root may create (standing in for ``/etc/ld.so.preload``,
   absent on most systems, whose every line root's programs would then load as a library),
   which the conda step would create as root, listing a folder of the user's;
3. ``~/.gitconfig`` a symlink to a root-owned file, which ``git config --file`` would follow
   as root.

Every step that touches the home must run as the home's owner (setpriv, else runuser, else
sudo), or be refused with a log line when none of them exists — never run as root.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from smstudio_ext.admin.lcc import LccSettings, render

sys.path.insert(0, str(Path(__file__).parent))
from lcc_support import SYSTEM_PYTHON, Sandbox, build_wheel

OWNER = "smstudio-home-owner"
TARGET = "root-only content\n"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists(SYSTEM_PYTHON),
    reason=f"needs root, setpriv and {SYSTEM_PYTHON} to run as another user",
)


def home_owner() -> pwd.struct_passwd:
    """The test user owning the sandbox's home (created once per machine; xdist-safe)."""
    with open("/tmp/smstudio-test-user.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(OWNER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home",
                 "--shell", "/usr/sbin/nologin", OWNER],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            return pwd.getpwnam(OWNER)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def bins(rootbox) -> dict[str, Path]:
    """PATH folders like the system's, one without setpriv, one without any of the three
    (in the sandbox: the home's owner must reach them too)."""
    out = {}
    for name, hidden in (("no-setpriv", {"setpriv"}), ("none", {"setpriv", "runuser", "sudo"})):
        folder = rootbox.root / f"bin-{name}"
        folder.mkdir(mode=0o755)
        for system in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
            if not os.path.isdir(system):
                continue
            for entry in os.listdir(system):
                if entry not in hidden and not (folder / entry).exists():
                    (folder / entry).symlink_to(os.path.join(system, entry))
        out[name] = folder
    return out


class RootBox:
    """A Classic-like app: the script runs as root, the home belongs to the test user."""

    def __init__(self, root: Path, wheel: Path) -> None:
        self.owner = home_owner()
        self.root = root
        self.box = Sandbox(root, base_python=SYSTEM_PYTHON)
        shutil.copy(wheel, root / wheel.name)
        self.wheel = root / wheel.name
        self.marks = root / "marks"  # where the user's config records who ran it
        self.marks.mkdir(mode=0o1777)
        self.marks.chmod(0o1777)
        self.etc = root / "etc"  # root-owned files the links aim at
        self.etc.mkdir(mode=0o755)
        self.preload = self.etc / "ld.so.preload"
        self.gitconfig = self.etc / "gitconfig"
        self.plant()

    def plant(self) -> None:
        home = self.box.home
        for p in list(home.iterdir()):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        self.preload.unlink(missing_ok=True)
        self.gitconfig.write_text(TARGET)
        self.gitconfig.chmod(0o644)
        for f in self.marks.iterdir():
            f.unlink()
        jupyter = home / ".jupyter"
        jupyter.mkdir()
        (jupyter / "jupyter_server_config.py").write_text(
            f"import os\nopen({str(self.marks / 'ran')!r}, 'a').write('%d\\n' % os.getuid())\n"
        )
        (home / ".condarc").symlink_to(self.preload)
        (home / ".gitconfig").symlink_to(self.gitconfig)
        uid, gid = self.owner.pw_uid, self.owner.pw_gid
        for p in (home, jupyter, *jupyter.iterdir()):
            os.chown(p, uid, gid)
        for link in (home / ".condarc", home / ".gitconfig"):
            os.lchown(link, uid, gid)

    def script(self) -> str:
        return render(
            LccSettings(
                app_type="JupyterServer",
                features=["conda", "git", "proxy"],
                pip_spec=str(self.wheel),
                git_user_name="Jane Doe",
                git_user_email="jane@example.com",
                pip_index_url="https://pypi.corp.example/simple",
            )
        ).script

    def run(self, **env: str) -> subprocess.CompletedProcess:
        out = self.box.run(self.script(), **env)
        self.box.wait_jobs("conda_sync", count=self.runs + 1)
        self.runs += 1
        return out

    runs = 0

    def who_ran_the_user_config(self) -> list[str]:
        ran = self.marks / "ran"
        return ran.read_text().split() if ran.exists() else []

    def log(self, job: str) -> str:
        return (self.box.state / f"{job}.log").read_text()


@pytest.fixture(scope="module")
def rootbox(wheel):
    root = Path(tempfile.mkdtemp(prefix="smstudio-lcc-root-", dir="/tmp"))
    root.chmod(0o755)
    yield RootBox(root, wheel)
    shutil.rmtree(root, ignore_errors=True)


def assert_targets_untouched(rb: RootBox) -> None:
    assert not rb.preload.exists(), f"{rb.preload} was created through the user's link"
    assert rb.gitconfig.read_text() == TARGET, f"{rb.gitconfig} was written through a link"
    assert rb.gitconfig.stat().st_uid == 0 and rb.gitconfig.stat().st_mode & 0o777 == 0o644


def test_as_root_the_users_files_are_read_and_written_only_as_the_homes_owner(rootbox):
    # Given a home owned by another user, holding the three reproductions
    rb = rootbox
    rb.plant()
    # When the lifecycle script runs as root (setpriv is there, as in SMD and Debian images)
    out = rb.run()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "step install" in out.stdout and "step install FAILED" not in out.stdout, out.stdout
    # Then 1. the user's Jupyter config ran, but as its owner, never as root
    assert rb.who_ran_the_user_config() == [str(rb.owner.pw_uid)], rb.log("conda_sync")
    # 2. and 3. nothing was written through the links to root's files
    assert_targets_untouched(rb)
    assert "Permission denied" in rb.log("conda_sync"), rb.log("conda_sync")
    assert "step git FAILED" in out.stdout  # git, as the owner, may not lock root's file
    # root wrote nothing into the home, and pip.conf went to the Python's prefix only
    owners = {p.lstat().st_uid for p in rb.box.home.rglob("*")} | {rb.box.home.stat().st_uid}
    assert owners == {rb.owner.pw_uid}, owners
    assert (rb.box.venv / "pip.conf").is_file()
    assert "job conda_sync finished (exit" in rb.log("conda_sync")


def test_without_setpriv_runuser_drops_privileges(rootbox, bins):
    rb = rootbox
    rb.plant()
    out = rb.run(PATH=f"{rb.box.bin}:{bins['no-setpriv']}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert rb.who_ran_the_user_config() == [str(rb.owner.pw_uid)], rb.log("conda_sync")
    assert_targets_untouched(rb)


def test_without_a_way_to_drop_privileges_the_steps_are_refused_not_run_as_root(rootbox, bins):
    rb = rootbox
    rb.plant()
    out = rb.run(PATH=f"{rb.box.bin}:{bins['none']}")
    assert out.returncode == 0, out.stdout + out.stderr
    # the user's config never ran at all, and each refusal is one line in the log
    assert rb.who_ran_the_user_config() == []
    assert_targets_untouched(rb)
    refused = (
        "ERROR: no setpriv, runuser or sudo to run {} as the home's owner (uid {}): not run as root"
    )
    assert refused.format("nohup", rb.owner.pw_uid) in rb.log("conda_sync")
    assert refused.format("git", rb.owner.pw_uid) in out.stdout
    assert "step git FAILED" in out.stdout and "the app starts anyway" in out.stdout


def test_as_root_a_state_dir_someone_else_made_is_not_used(rootbox):
    rb = rootbox
    rb.plant()
    state = rb.root / "state-taken"
    state.mkdir()
    os.chown(state, rb.owner.pw_uid, rb.owner.pw_gid)
    out = rb.box.run(rb.script(), SMSTUDIO_LCC_STATE_DIR=str(state))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"ERROR: {state} is not root's: nothing done as root" in out.stdout
    assert "step install" not in out.stdout and list(state.iterdir()) == []
