"""The Python environment of a SageMaker Distribution (SMD) image, pinned to a real release.

SMD installs its packages from conda-forge into ``/opt/conda``; we install the same versions of
the packages that matter to smstudio-ext from PyPI (``pins.json``) into a virtualenv of the
Python this machine has. Building one takes a minute or two (downloads), so each pin set is built
once into a cache shared by every test and run (``SMSTUDIO_SMD_CACHE``, default
``/var/cache/smstudio-ext/smd`` as root, else ``~/.cache/smstudio-ext/smd``) and kept read-only:
a space never writes into it. Each space gets a thin writable *layer* on top instead
(:func:`make_layer`): its own prefix whose site-packages sees the cached one, so what the
lifecycle script installs lands in the space, as in SMD's user-owned ``/opt/conda``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PINS_FILE = Path(__file__).with_name("pins.json")
OLDEST = "2.0.0"


def pin_sets() -> dict[str, dict[str, Any]]:
    """Version → {"python", "source", "packages": {name: version}, ...}."""
    data = json.loads(PINS_FILE.read_text(encoding="utf-8"))
    return dict(data["sets"])


def newest() -> str:
    return max(pin_sets(), key=lambda v: tuple(int(x) for x in v.split(".")))


def cache_root() -> Path:
    if os.environ.get("SMSTUDIO_SMD_CACHE"):
        return Path(os.environ["SMSTUDIO_SMD_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/smstudio-ext/smd")
    return Path.home() / ".cache" / "smstudio-ext" / "smd"


def base_python() -> str:
    """An interpreter every user may run (a venv's base may sit in root's private home)."""
    if os.environ.get("SMSTUDIO_SMD_PYTHON"):
        return os.environ["SMSTUDIO_SMD_PYTHON"]
    system = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    if os.path.exists(system):
        return system
    return getattr(sys, "_base_executable", sys.executable)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every process (pytest-xdist workers, parallel runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class BaseEnv:
    """A built, read-only environment of one pin set."""

    version: str
    prefix: Path
    python_version: str

    @property
    def site(self) -> Path:
        return self.prefix / "lib" / f"python{self.python_version}" / "site-packages"

    @property
    def freeze(self) -> str:
        return (self.prefix / "freeze.txt").read_text(encoding="utf-8")


def _py_version(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip()


def _run(cmd: list[str], timeout: int) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")


def base_env(version: str, python: str | None = None, log: Any = None) -> BaseEnv:
    """The cached environment of SMD ``version``, built (once, under a lock) when missing."""
    spec = pin_sets()[version]
    python = python or base_python()
    pyver = _py_version(python)
    reqs = "".join(f"{name}=={ver}\n" for name, ver in sorted(spec["packages"].items()))
    key = hashlib.sha256((reqs + pyver).encode()).hexdigest()[:10]
    root = cache_root()
    prefix = root / f"smd-{version}-py{pyver}-{key}"
    env = BaseEnv(version, prefix, pyver)
    stamp = prefix / "freeze.txt"
    if stamp.exists():
        return env
    with locked(root / f".lock-{prefix.name}"):
        if stamp.exists():
            return env
        if prefix.exists():
            shutil.rmtree(prefix)
        for parent in (root, *root.parents):  # other users must reach it (read only)
            if parent == Path("/") or parent.stat().st_mode & 0o005 == 0o005:
                break
            if parent.stat().st_uid == os.geteuid():
                parent.chmod(parent.stat().st_mode | 0o755)
        subprocess.run([python, "-m", "venv", str(prefix)], check=True, timeout=300)
        (prefix / "requirements.txt").write_text(reqs)
        pip = [str(prefix / "bin" / "python"), "-m", "pip"]
        quiet = ["--disable-pip-version-check", "--no-input", "-q"]
        if log:
            log(f"building the SMD {version} environment in {prefix} (once)")
        # pip first (SMD's own version drives the lifecycle script's installs), then the rest
        subprocess.run(
            [*pip, "install", *quiet, f"pip=={spec['packages']['pip']}"], check=True, timeout=900
        )
        subprocess.run(
            [
                *pip,
                "install",
                *quiet,
                "--only-binary=:all:",
                "-r",
                str(prefix / "requirements.txt"),
            ],
            check=True,
            timeout=1800,
        )
        subprocess.run([*pip, "check"], check=True, timeout=300, capture_output=True)
        freeze = subprocess.run(
            [*pip, "freeze", "--all"], check=True, timeout=300, capture_output=True, text=True
        ).stdout
        subprocess.run(["chmod", "-R", "go-w,a+rX", str(prefix)], check=True, timeout=300)
        stamp.write_text(freeze)  # last: marks the environment complete
    return env


def make_layer(base: BaseEnv, prefix: Path, python: str | None = None) -> Path:
    """A writable prefix (``/opt/conda`` of one space) that sees ``base``'s packages.

    Its own site-packages comes first and takes what pip installs; the base's site-packages
    follows (``site.addsitedir`` from a ``.pth``, so its own ``.pth`` files work). Console
    scripts are copied with their ``#!`` pointing at the layer's Python; ``etc/`` (Jupyter
    config) is copied, being small and written to; ``share/jupyter`` entries are linked.
    Returns the layer's Python."""
    python = python or base_python()
    subprocess.run([python, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    site = prefix / "lib" / f"python{base.python_version}" / "site-packages"
    (site / "_smd_base.pth").write_text(f"import site; site.addsitedir({str(base.site)!r})\n")
    layer_python = prefix / "bin" / "python"
    for script in sorted((base.prefix / "bin").iterdir()):
        target = prefix / "bin" / script.name
        if target.exists() or target.is_symlink() or script.name.startswith("activate"):
            continue
        if script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        first, sep, rest = data.partition(b"\n")
        if first.startswith(b"#!") and b"python" in first:
            data = b"#!" + str(layer_python).encode() + sep + rest
        target.write_bytes(data)
        target.chmod(0o755)
    if (base.prefix / "etc").is_dir():
        shutil.copytree(base.prefix / "etc", prefix / "etc", dirs_exist_ok=True)
    jupyter = base.prefix / "share" / "jupyter"
    if jupyter.is_dir():
        for entry in sorted(jupyter.iterdir()):
            dest = prefix / "share" / "jupyter" / entry.name
            if entry.name in ("labextensions", "kernels") and entry.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                for sub in sorted(entry.iterdir()):
                    (dest / sub.name).symlink_to(sub)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to(entry)
    return layer_python
