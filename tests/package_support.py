"""A fresh install of the built wheel, offline: a wheelhouse repacked from the packages this test
venv already has, holding exactly what ``pip install smstudio-ext`` (no extras) needs.

Repacking an installed distribution gives back its wheel: the files its RECORD lists, under
the tag its WHEEL file names, with the ``.data`` files (``../../../etc/...``) mapped back and the
console scripts left to the installer (``entry_points.txt`` recreates them).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
SKIP_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def closure(requirements: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions ``requirements`` need, transitively (extras followed,
    markers evaluated for this interpreter)."""
    found: dict[str, metadata.Distribution] = {}
    visited: set[tuple[str, tuple[str, ...]]] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate(
            {**default_environment(), "extra": extra}
        ):
            continue
        key = (canonicalize_name(req.name), tuple(sorted(req.extras)))
        if key in visited:
            continue
        visited.add(key)
        dist = found.setdefault(key[0], metadata.distribution(req.name))
        for sub in dist.requires or []:
            todo += [(Requirement(sub), wanted) for wanted in ("", *req.extras)]
    return list(found.values())


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def repack(dist: metadata.Distribution, out: Path) -> Path:
    """The wheel of an installed distribution, written into ``out``."""
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    version = dist.version
    tags = [ln.split(":", 1)[1].strip() for ln in (dist.read_text("WHEEL") or "").splitlines()
            if ln.startswith("Tag:")]  # fmt: skip
    # the file name carries every tag, compressed (py2-none-any + py3-none-any: py2.py3-none-any)
    parts = [list(dict.fromkeys(t.split("-")[i] for t in tags)) for i in range(3)] if tags else []
    tag = "-".join(".".join(p) for p in parts) if parts else "py3-none-any"
    site = Path(dist.locate_file("")).resolve()
    prefix = Path(sys.prefix).resolve()
    info_dir = f"{name}-{version}.dist-info"
    wheel_path = out / f"{name}-{version}-{tag}.whl"
    records = []
    with zipfile.ZipFile(wheel_path, "w", zipfile.ZIP_STORED) as zf:
        for f in dist.files or []:
            path = Path(dist.locate_file(f)).resolve()
            if "__pycache__" in f.parts or not path.is_file():
                continue
            try:
                arcname = path.relative_to(site).as_posix()
            except ValueError:
                rel = path.relative_to(prefix)
                if rel.parts[0] == "bin":  # console scripts: the installer makes them
                    continue
                arcname = f"{name}-{version}.data/data/{rel.as_posix()}"
            if arcname.split("/")[0].endswith(".dist-info"):
                if arcname.split("/", 1)[1] in SKIP_INFO:
                    continue
                arcname = f"{info_dir}/{arcname.split('/', 1)[1]}"
            data = path.read_bytes()
            zf.writestr(arcname, data)
            records.append(_record_line(arcname, data))
        records.append(f"{info_dir}/RECORD,,")
        zf.writestr(f"{info_dir}/RECORD", "\n".join(records) + "\n")
    return wheel_path


def wheelhouse_for(requirements: Iterable[str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [repack(d, out) for d in closure(requirements)]


def fresh_venv(path: Path) -> Path:
    """A venv with nothing in it (no pip either: the test venv's pip installs into it)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120
    )
    return path / "bin" / "python"


def pip_install(python: Path, wheelhouse: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """``pip install`` into ``python``'s environment from ``wheelhouse`` only (offline)."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
         "--find-links", str(wheelhouse), "--disable-pip-version-check", "-q", *targets],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )  # fmt: skip
