"""Helpers for the lifecycle/image tests: a locally built wheel and a Studio-like sandbox."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
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
