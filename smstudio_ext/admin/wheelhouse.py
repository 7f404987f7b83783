"""Wheelhouses: our wheel and every dependency wheel for SageMaker Distribution's platform, in S3.

A lifecycle script must never install ``smstudio-ext`` from a public index by name (no release
of ours need be there, anyone could publish one under the name, and VpcOnly domains have no
internet at all). Instead the admin builds a wheelhouse once, on a machine with an index:

* :func:`build`: our wheel (given, or built from the source checkout) plus ``pip download
  --only-binary=:all:`` of its dependencies for manylinux x86_64 and the image's Python
  (SMD 2.x ships 3.11, SMD 3.x 3.12), and ``wheelhouse.json`` (file, size, sha256 of each);
* :func:`push`: the wheels, a copy of ours at ``PREFIX/smstudio_ext.whl`` (the script runs its
  fetch code from it) and the manifest last, so a half-pushed prefix has no manifest.

The script (``--wheelhouse s3://BUCKET/PREFIX``) then needs only ``s3:GetObject`` and an S3
endpoint: it fetches ours and the wheels of what the image lacks, checks each sha256, and
installs with ``pip --no-index --find-links``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..errors import BadInput, SmStudioError
from ..fsutil import read_capped
from ..lcc_runtime import MANIFEST_CAP  # the same cap where the lifecycle script reads it
from . import validate as v

MANIFEST = "wheelhouse.json"
BOOTSTRAP = "smstudio_ext.whl"
PYTHONS = ("3.11", "3.12")
# SMD images are x86_64 glibc (Ubuntu based): the newest manylinux tag first.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
_OURS = re.compile(r"smstudio_ext-([^-]+)-py3-none-any\.whl")
SOURCE = Path(__file__).resolve().parents[2]  # the checkout, when running from one


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run(cmd: list[str], what: str, timeout: int = 1800) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise SmStudioError(f"{what} failed (exit {proc.returncode}): " + " | ".join(tail))


def build_own_wheel(out: Path) -> Path:
    """Our wheel from the source checkout (``python -m build``, else ``pip wheel``)."""
    pyproject = SOURCE / "pyproject.toml"
    if not pyproject.is_file() or 'name = "smstudio-ext"' not in pyproject.read_text():
        raise BadInput(
            "no --wheel given and not running from a source checkout: build the wheel with "
            "`python -m build --wheel` in the smstudio-ext sources and pass --wheel FILE"
        )
    tmp = Path(tempfile.mkdtemp(prefix="smstudio-wheel-"))
    try:
        try:
            import build  # noqa: F401

            cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp), str(SOURCE)]
        except ImportError:
            cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp), str(SOURCE)]
        _run(cmd, "building the smstudio-ext wheel")
        (wheel,) = tmp.glob("smstudio_ext-*.whl")
        return Path(shutil.copy2(wheel, out / wheel.name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def manifest_of(out: Path, python: str, ours: Path) -> dict[str, Any]:
    wheels = sorted(out.glob("*.whl"))
    return {
        "format": 1,
        "python": python,
        "platforms": list(PLATFORMS),
        "smstudio_ext": {"file": ours.name, "version": _OURS.fullmatch(ours.name).group(1)},  # type: ignore[union-attr]
        "wheels": [
            {"file": w.name, "size": w.stat().st_size, "sha256": _sha256(w)} for w in wheels
        ],
    }


def build(
    out: Path, python: str, wheel: Path | None = None, pip_args: list[str] | None = None
) -> dict[str, Any]:
    """Fill ``out`` with our wheel, its dependencies for SMD's platform, and the manifest."""
    if python not in PYTHONS:
        raise v.refuse("python", python, "one of " + ", ".join(PYTHONS) + " (SMD's Pythons)")
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("*.whl")):
        raise BadInput(f"{out} already holds wheels: give an empty or new folder")
    if wheel is not None:
        if not wheel.is_file() or not _OURS.fullmatch(wheel.name):
            raise BadInput(f"not a smstudio-ext wheel: {wheel}")
        ours = Path(shutil.copy2(wheel, out / wheel.name))
    else:
        ours = build_own_wheel(out)
    tag = python.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input"]
    cmd += ["--only-binary=:all:", "--implementation", "cp", "--python-version", python]
    for abi in (f"cp{tag}", "abi3", "none"):
        cmd += ["--abi", abi]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    cmd += [*(pip_args or []), "-d", str(out), str(ours)]
    _run(cmd, f"pip download of the dependencies for Python {python}")
    manifest = manifest_of(out, python, ours)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise BadInput(f"{path} not found: make the wheelhouse with `smstudio wheelhouse build`")
    try:
        manifest = json.loads(read_capped(path, MANIFEST_CAP, what="a wheelhouse manifest"))
        ours = manifest["smstudio_ext"]["file"]
        wheels = manifest["wheels"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path}: not a wheelhouse manifest ({exc})") from None
    for w in wheels:
        f = folder / str(w.get("file"))
        if not f.is_file() or f.stat().st_size != w.get("size") or _sha256(f) != w.get("sha256"):
            raise BadInput(f"{f.name} is missing or differs from {MANIFEST}: build it again")
    if ours not in {w["file"] for w in wheels}:
        raise BadInput(f"{MANIFEST} names {ours}, which is not among its wheels")
    return dict(manifest)


def push(clients: Any, folder: Path, uri: str) -> list[str]:
    """Upload a built wheelhouse to ``s3://BUCKET[/PREFIX]``; returns the keys written."""
    from ..aws import call

    manifest = read_manifest(folder)
    bucket, prefix = v.s3_uri(uri, "wheelhouse")
    prefix = prefix.strip("/")

    def key(name: str) -> str:
        return f"{prefix}/{name}" if prefix else name

    s3 = clients.client("s3")
    written = []
    uploads = [(folder / w["file"], key(w["file"])) for w in manifest["wheels"]]
    uploads.append((folder / manifest["smstudio_ext"]["file"], key(BOOTSTRAP)))
    uploads.append((folder / MANIFEST, key(MANIFEST)))  # last: a half-pushed prefix has none
    for path, k in uploads:
        with open(path, "rb") as body:
            call(s3, "PutObject", f"s3://{bucket}/{k}", Bucket=bucket, Key=k, Body=body)
        written.append(k)
    return written
