"""Helpers for the lifecycle/image tests: a locally built wheel and a Studio-like sandbox."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = Path(sys.executable)


def _strip_build_hooks(pyproject: str, root: Path) -> str:
    """Drop build hooks (the labextension build needs npm) and shared-data whose source is absent."""
    out: list[str] = []
    section = ""
    for line in pyproject.splitlines():
        header = re.match(r"^\[(.+)\]\s*$", line)
        if header:
            section = header.group(1)
        if section.startswith("tool.hatch.build.hooks"):
            continue
        entry = re.match(r'^"([^"]+)"\s*=\s*"[^"]*"\s*$', line)
        if entry and section.endswith("shared-data") and not (root / entry.group(1)).exists():
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def build_wheel(dest: Path) -> Path:
    """Build the package's wheel from a temporary copy of the source (no labextension hook)."""
    src = dest / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    for name in ("smstudio_ext", "lifecycle", "images", "jupyter-config"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, src / name, ignore=ignore)
    (src / "labextension").mkdir()  # the version is read from its package.json
    shutil.copy2(REPO / "labextension" / "package.json", src / "labextension" / "package.json")
    text = (REPO / "pyproject.toml").read_text()
    (src / "pyproject.toml").write_text(_strip_build_hooks(text, src))
    readme = REPO / "README.md"
    (src / "README.md").write_text(readme.read_text() if readme.exists() else "smstudio-ext\n")
    wheels = dest / "wheels"
    subprocess.run(
        [
            str(VENV_PYTHON),
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(src),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
        timeout=300,
    )
    (wheel,) = wheels.glob("smstudio_ext-*.whl")
    return wheel


OWN_DIST = ("smstudio_ext", "_smstudio_ext", "_editable_impl_smstudio_ext", "__editable__")


def shared_site_overlay(dest: Path, hide: tuple[str, ...] = ()) -> Path:
    """The test runner's site-packages as a folder of links, without this project's own install.

    A sandbox venv sees the runner's packages through it (offline, fast installs) but must not
    see smstudio-ext itself: where the runner's venv has it installed (``pip install -e .`` in
    CI), pip in the sandbox would answer "already satisfied" and install nothing. ``hide``:
    more distributions to leave out (name prefixes), e.g. to play an image that lacks one."""
    shared = next((Path(sys.prefix) / "lib").glob("python3*/site-packages"))
    dest.mkdir(parents=True, exist_ok=True)
    for entry in shared.iterdir():
        if entry.name.startswith(OWN_DIST + hide) or entry.suffix == ".pth":
            continue
        (dest / entry.name).symlink_to(entry)
    return dest


def make_venv(path: Path) -> Path:
    """A throwaway venv that sees /work/venv's packages (offline, fast installs)."""
    subprocess.run(
        [str(VENV_PYTHON), "-m", "venv", "--system-site-packages", "--without-pip", str(path)],
        check=True,
        timeout=120,
    )
    return path / "bin" / "python"


def tree_digest(*roots: Path) -> dict[str, str]:
    """sha256 of every file under ``roots`` (path → digest), to prove a re-run changed nothing."""
    out = {}
    for root in roots:
        if root.is_file():
            out[str(root)] = hashlib.sha256(root.read_bytes()).hexdigest()
            continue
        for p in sorted(root.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# -- the Studio-like sandbox the lifecycle scripts run in (test_lcc_sandbox, test_lcc_root, smd) --

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
SYSTEM_PYTHON = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"


class Sandbox:
    """A Studio-like app: HOME, metadata, a target Python, PATH without the machine's extras."""

    def __init__(
        self,
        root: Path,
        endpoint: str | None = None,
        base_python: str = "",
        hide: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.home = root / "home" / "sagemaker-user"
        self.home.mkdir(parents=True)
        self.state = root / "state"
        self.bin = root / "bin"
        self.bin.mkdir()
        self.venv = root / "venv"
        subprocess.run(
            [
                base_python or sys.executable,
                "-m",
                "venv",
                "--system-site-packages",
                "--without-pip",
                str(self.venv),
            ],
            check=True,
            timeout=120,
        )
        # --system-site-packages reaches the base interpreter; add the shared venv's packages
        site = next((self.venv / "lib").glob("python3*/site-packages"))
        shared = shared_site_overlay(root / "shared-site", hide)
        (site / "_shared_venv.pth").write_text(f"{shared}\n")
        self.site = site
        self.python = self.venv / "bin" / "python"
        self.metadata = root / "resource-metadata.json"
        self.metadata.write_text(
            json.dumps({"AppType": "JupyterLab", "DomainId": "d-xxxxxxxxxxxx"})
        )
        self.env = {
            "HOME": str(self.home),
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "SMSTUDIO_LCC_HOME": str(self.home),
            "SMSTUDIO_LCC_PYTHON": str(self.python),
            "SMSTUDIO_LCC_STATE_DIR": str(self.state),
            "SMSTUDIO_METADATA_PATH": str(self.metadata),
            "PIP_NO_INDEX": "1",  # offline unless a test gives an index
            "SMSTUDIO_LCC_RESTART_DELAY": "0",
            "PIP_CONFIG_FILE": os.devnull,
            **AWS_ENV,
        }
        if endpoint:
            self.env["AWS_ENDPOINT_URL"] = endpoint

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess:
        path = self.root / "lcc.sh"
        path.write_text(script)
        return subprocess.run(
            ["bash", str(path)],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=str(self.root),
        )

    def wait_jobs(self, *names: str, count: int = 1, timeout: float = 60) -> None:
        """Until each background job's log says it finished ``count`` times."""
        deadline = time.monotonic() + timeout
        for name in names:
            log = self.state / f"{name}.log"
            while True:
                text = log.read_text() if log.exists() else ""
                if text.count(f"job {name} finished") >= count:
                    break
                assert time.monotonic() < deadline, f"job {name} did not finish: {text}"
                time.sleep(0.05)

    def py(self, code: str) -> str:
        out = subprocess.run(
            [str(self.python), "-c", code],
            env={**self.env, "PYTHONPATH": ""},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=str(self.root),
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    def extension_list(self) -> str:
        out = subprocess.run(
            [
                str(self.python),
                "-c",
                "import sys; from jupyter_server.extension.serverextension import main; "
                "sys.argv = ['jupyter-server-extension', 'list']; main()",
            ],
            env={**self.env, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=str(self.root),
        )
        return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)

    def digest(self) -> dict[str, str]:
        roots = [self.venv / "etc", self.home]
        roots += [p for p in self.site.iterdir() if p.name.startswith("smstudio_ext")]
        roots += [p for p in (self.venv / "pip.conf",) if p.exists()]
        return tree_digest(*roots)
