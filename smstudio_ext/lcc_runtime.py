"""The lifecycle script's two delicate steps, in Python so that they can be tested and stay small
in the script (whose size Studio caps):

``install``: install our wheel into the image's Python **without changing any package the image
already has** — every installed distribution is pinned to its installed version with a pip
constraints file, so pip may only *add* what is missing (from the wheel's folder, or the index
when the admin opted in) and refuses rather than upgrading or downgrading the image's own
packages. If pip fails half-way, what it added is removed again (the distributions it
installed, and any file or folder it left in site-packages, ``bin``, ``share/jupyter/
labextensions`` or ``etc/jupyter/jupyter_server_config.d``), so nothing is left half-installed.
``pip check`` then reports the environment's consistency. The script runs this module *from the
downloaded wheel* (``PYTHONPATH=the.whl python -m smstudio_ext.lcc_runtime``: a wheel is a zip
Python can import from), before the package is installed.

``reload``: load the installed version into the running Jupyter server. SageMaker Distribution
starts the server with the container, usually before the lifecycle script installs anything, so
the server must be restarted (``restart-jupyter-server``, which restarts the supervisord program
``jupyterlabserver``) — unless it already runs this version (:mod:`.runtime_marker`). A restart
that does not come back within its budget is reported in one line; when no server is left
running at all, smstudio-ext is disabled and the server restarted without it, so the image's own
JupyterLab still comes up.

Every line printed starts with ``smstudio-lcc`` like the rest of the script's output.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from .fsutil import read_capped, read_stream_capped
from .runtime_marker import LOADED, NONE, status

SELF = "smstudio-ext"


def say(message: str) -> None:
    print(f"smstudio-lcc {time.strftime('%H:%M:%S', time.gmtime())} {message}", flush=True)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _valid_version(version: str) -> bool:
    try:
        from pip._vendor.packaging.version import Version  # pip is there: we run it next
    except ImportError:  # pragma: no cover
        return bool(re.fullmatch(r"[0-9][0-9A-Za-z.!+]*", version))
    try:
        Version(version)
        return True
    except Exception:
        return False


def installed() -> dict[str, str]:
    """Normalised distribution name → version, first on sys.path wins (as imports do)."""
    found: dict[str, str] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found.setdefault(_norm(name), dist.version)
    return found


def _places() -> list[Path]:
    paths = sysconfig.get_paths()
    data = Path(paths["data"])
    return [
        Path(paths["purelib"]),
        Path(paths["platlib"]),
        Path(paths["scripts"]),
        data / "share" / "jupyter" / "labextensions",
        data / "etc" / "jupyter" / "jupyter_server_config.d",
    ]


def entries() -> set[str]:
    out: set[str] = set()
    for place in _places():
        if place.is_dir():
            out.update(str(p) for p in place.iterdir() if p.name != "__pycache__")
    return out


def constraints(have: dict[str, str]) -> str:
    """Pins for every installed distribution but ours (invalid versions can't be pinned)."""
    return "".join(
        f"{name}=={version}\n"
        for name, version in sorted(have.items())
        if name != SELF and _valid_version(version)
    )


def _writable_site() -> bool:
    return os.access(sysconfig.get_paths()["purelib"], os.W_OK)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # not the wheel itself


def _pip(args: list[str], timeout: float, out: Path) -> int:
    """pip in this Python, killed after ``timeout`` s (even when silent); its lines echoed
    (prefixed), all of them kept in ``out``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pip", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )

    def pump() -> None:
        assert proc.stdout is not None
        with open(out, "w") as fh:
            for line in proc.stdout:
                fh.write(line)
                if not line.startswith("Requirement already satisfied"):
                    print(f"smstudio-lcc pip: {line.rstrip()}", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        say(f"pip stopped after {timeout:.0f} s")
        rc = 124
    reader.join(timeout=5)
    return rc


UNDO_SECONDS = 15  # what undoing a failed install may add to the pip timeout


def undo(
    before_names: set[str], before_entries: set[str], timeout: float = UNDO_SECONDS
) -> list[str]:
    """Remove what a failed pip run added: its distributions, then any file it left."""
    importlib.invalidate_caches()
    added = sorted(set(installed()) - before_names)
    if added:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-y", "-q", *added],
            capture_output=True,
            timeout=timeout,
            check=False,
            env=_env(),
        )
    for path in sorted(entries() - before_entries):
        p = Path(path)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        added.append(p.name)
    return sorted(set(added))


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("ERROR:") or "Error" in ln:
            return ln
    return lines[-1] if lines else "no output"


# What the wheel needs to run at all, and what only makes backups faster (an image without the
# latter gets the wheel alone, offline): import names.
REQUIRED = ("jupyter_server", "boto3", "botocore", "psutil", "traitlets")
OPTIONAL = {
    "zstandard": "backups compress with zlib",
    "pyfastcdc": "backups chunk with the pure-Python FastCDC (same cut points, slower)",
}


def install(wheel: Path, find_links: Path, state: Path, timeout: int, index: bool) -> int:
    """Everything (pip, the --no-deps retry, pip check) within ``timeout`` s; undoing a failed
    install may take UNDO_SECONDS more."""
    deadline = time.monotonic() + timeout
    state.mkdir(parents=True, exist_ok=True)
    have = installed()
    before_entries = entries()
    pins = state / "constraints.txt"
    pins.write_text(constraints(have))
    out = state / "pip.out"
    args = ["install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    if not _writable_site():
        args.append("--user")
        say(f"site-packages of {sys.executable} is read-only: pip install --user")
    args += ["-c", str(pins), "--find-links", str(find_links)]
    if not index:
        args.append("--no-index")
    rc = _pip([*args, str(wheel)], deadline - time.monotonic(), out)
    text = out.read_text(errors="replace")
    lacking = [m for m in OPTIONAL if f"found for {m}" in text]
    if rc not in (0, 124) and lacking:
        # only optional speed-ups are missing (offline, or an index/pip.conf that lacks them):
        # the wheel alone, if every required dependency imports (pip names only the first
        # missing one, so ask each)
        if not [m for m in REQUIRED if not _has(m)]:
            absent = [m for m in OPTIONAL if not _has(m)]
            why = "; ".join(OPTIONAL[m] for m in absent)
            say(f"no {', '.join(absent)} here: the wheel alone (--no-deps); {why}")
            rc = _pip([*args, "--no-deps", str(wheel)], deadline - time.monotonic(), out)
            text = out.read_text(errors="replace")
            if rc == 0:
                # the other speed-ups may well be there: each on its own, best effort
                for module in absent:
                    spec = _requirement(wheel, module)
                    extra = state / f"pip-{module}.out"
                    if spec and _pip([*args, spec], deadline - time.monotonic(), extra) == 0:
                        say(f"{module} installed")
                        text += extra.read_text(errors="replace")
                    elif spec:
                        say(f"no {module}: {OPTIONAL[module]}")
    if rc != 0:
        removed = undo(set(have), before_entries)
        reason = "timed out" if rc == 124 else _last_error(text)
        say(
            f"ERROR: pip install of {wheel.name} failed ({reason}); "
            f"removed what it added: {', '.join(removed) or 'nothing'}; "
            "the image's packages are unchanged"
        )
        return rc
    if "Successfully installed" in text:
        (state / "changed").touch()
    left = deadline - time.monotonic()
    if left < 2:
        say("pip check skipped: the pip timeout is spent")
        return 0
    try:
        check = subprocess.run(
            [sys.executable, "-m", "pip", "check"],
            capture_output=True,
            text=True,
            timeout=min(30.0, left),
            check=False,
            env=_env(),
        )
        first = (check.stdout.strip() or check.stderr.strip()).splitlines()
        more = " ..." if len(first) > 1 else ""
        say(f"pip check: {first[0] if first else 'no output'}{more}")
    except subprocess.TimeoutExpired:
        say("pip check did not finish in time: skipped")
    return 0


def _requirement(wheel: Path, name: str) -> str | None:
    """``name``'s requirement as the wheel declares it (``Requires-Dist`` of its METADATA),
    without an environment marker; None when the wheel does not require it."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            meta = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), None)
            if meta is None or zf.getinfo(meta).file_size > 1 << 20:
                return None
            text = zf.read(meta).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile):
        return None
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            req = line.split(":", 1)[1].split(";", 1)[0].strip()
            if re.split(r"[<>=!~\[ (]", req, maxsplit=1)[0].lower() == name.lower():
                return req
    return None


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _runtime_dir() -> Path:
    from jupyter_core.paths import jupyter_runtime_dir

    return Path(jupyter_runtime_dir())


def _wait(runtime_dir: Path, want: str, seconds: float, done: Any) -> tuple[int, str]:
    """Poll the server status until ``done(code)`` (or the time is up)."""
    deadline = time.monotonic() + seconds
    while True:
        code, line = status(runtime_dir, want)
        if done(code) or time.monotonic() >= deadline:
            return code, line
        time.sleep(0.5)


def _restart() -> bool:
    exe = shutil.which("restart-jupyter-server")
    if not exe:
        say("restart-jupyter-server not found: restart the app to load smstudio_ext")
        return False
    try:
        subprocess.run([exe], capture_output=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        say("restart-jupyter-server did not return within 20 s")
    return True


def _disable(path: Path) -> str:
    """Turn the extension off in the prefix's config (it sorts after our enable file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {"smstudio_ext": False}}}))
        return f"disabled smstudio_ext ({path})"
    except OSError as exc:
        return f"could not disable smstudio_ext ({path}: {exc})"


def reload(want: str, budget: float, wait_for_server: float, disable_file: Path) -> int:
    runtime_dir = _runtime_dir()
    code, line = status(runtime_dir, want)
    if code == NONE and wait_for_server > 0:
        # SMD starts the server with the container: it may still be starting
        code, line = _wait(runtime_dir, want, wait_for_server, lambda c: c != NONE)
    if code == LOADED:
        say(f"{line}: no restart needed")
        return 0
    if code == NONE:
        say(f"{line}: it loads smstudio_ext {want} when it starts")
        return NONE  # the script then watches for a server in the background
    say(f"{line}: restarting it to load smstudio_ext {want}")
    started = time.monotonic()
    if not _restart():
        return 0
    code, line = _wait(runtime_dir, want, budget, lambda c: c == LOADED)
    took = time.monotonic() - started
    if code == LOADED:
        say(f"restarted in {took:.0f} s: {line}")
        return 0
    if code == NONE:  # nothing came back: make sure the image's own JupyterLab does
        done = _disable(disable_file)
        _restart()
        say(
            f"ERROR: the Jupyter server did not come back within {budget:.0f} s after the "
            f"restart; {done} and restarted it without it"
        )
    else:
        say(
            f"ERROR: the Jupyter server did not restart with smstudio_ext {want} within "
            f"{budget:.0f} s ({line}); it keeps running as it is: restart the app to load it"
        )
    return 1


MANIFEST = "wheelhouse.json"
MANIFEST_CAP = 4 * 1024 * 1024  # a manifest of a few hundred wheels is a few hundred KB
MAX_FETCH_BYTES = 500_000_000
_WHEEL_NAME = re.compile(r"[A-Za-z0-9_.+!-]+\.whl")


def _s3(uri: str) -> tuple[Any, str, str]:
    """A bounded S3 client (the script bounds the whole call too) and bucket, prefix."""
    import boto3
    from botocore.config import Config

    bucket, _, prefix = uri[len("s3://") :].partition("/")
    cfg = Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 2})
    return boto3.client("s3", config=cfg), bucket, prefix.strip("/")


def fetch_wheelhouse(uri: str, out: Path) -> int:
    """Ours and the wheels of the distributions this Python lacks, per the manifest (names
    checked, at most MAX_FETCH_BYTES, each verified against its sha256)."""
    import hashlib

    try:
        s3, bucket, prefix = _s3(uri)
        key = (lambda name: f"{prefix}/{name}") if prefix else (lambda name: name)
        body = s3.get_object(Bucket=bucket, Key=key(MANIFEST))["Body"]
        try:
            raw = read_stream_capped(
                body,
                MANIFEST_CAP,
                name=f"{uri.rstrip('/')}/{MANIFEST}",
                what="a wheelhouse manifest",
            )
        finally:
            body.close()
        manifest = json.loads(raw)
        have = set(installed()) - {SELF}
        total = count = 0
        for wheel in manifest["wheels"]:
            name = str(wheel["file"])
            if not _WHEEL_NAME.fullmatch(name):
                raise ValueError(f"bad wheel file name {name!r} in {MANIFEST}")
            if _norm(name.split("-")[0]) in have:
                continue
            total += int(wheel["size"])
            if total > MAX_FETCH_BYTES:
                raise ValueError(f"more than {MAX_FETCH_BYTES // 1_000_000} MB to fetch")
            s3.download_file(bucket, key(name), str(out / name))
            digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
            if digest != wheel["sha256"]:
                raise ValueError(f"{name} does not match its sha256 in {MANIFEST}")
            count += 1
    except Exception as exc:
        say(f"ERROR: cannot fetch the wheelhouse {uri}: {exc}")
        return 1
    say(
        f"fetched {count} wheel(s), {total / 1e6:.1f} MB, from {uri} (python {manifest.get('python')})"
    )
    return 0


def profile_tags(metadata_path: str, keys: list[str]) -> int:
    """The owner profile's tag values for ``keys``, one line each (resource metadata →
    DescribeSpace → DescribeUserProfile → ListTags, with short timeouts)."""
    try:
        import boto3
        from botocore.config import Config

        meta = json.loads(read_capped(metadata_path, 64 * 1024, what="resource metadata"))
        arn = meta.get("ResourceArn") or ""
        region = arn.split(":")[3] if arn.count(":") >= 5 else None
        cfg = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})
        sm = boto3.client("sagemaker", region_name=region, config=cfg)
        domain, profile = meta.get("DomainId"), meta.get("UserProfileName")
        if not profile and meta.get("SpaceName"):
            space = sm.describe_space(DomainId=domain, SpaceName=meta["SpaceName"])
            profile = space.get("OwnershipSettings", {}).get("OwnerUserProfileName")
        arn = sm.describe_user_profile(DomainId=domain, UserProfileName=profile)["UserProfileArn"]
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn).get("Tags", [])}
    except Exception as exc:
        print(f"profile tags unavailable: {exc}", file=sys.stderr)
        return 1
    for k in keys:
        print(" ".join(tags.get(k, "").split()) if k else "")
    return 0


def main(argv: list[str] | None = None) -> int:
    # Run from the wheel (zip import) before it is installed: forget the wheel, so that what
    # is installed is what the environment has.
    sys.path[:] = [p for p in sys.path if not p.endswith(".whl")]
    importlib.invalidate_caches()
    from ._version import __version__

    p = argparse.ArgumentParser(prog="python -m smstudio_ext.lcc_runtime")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("install")
    i.add_argument("--wheel", required=True, type=Path)
    i.add_argument("--find-links", required=True, type=Path)
    i.add_argument("--state", required=True, type=Path)
    i.add_argument("--timeout", type=int, default=150)
    i.add_argument("--index", action="store_true", help="let pip use the package index too")
    r = sub.add_parser("reload")
    r.add_argument("--want", default=__version__)
    r.add_argument("--budget", type=float, default=120)
    r.add_argument("--wait-for-server", type=float, default=0)
    r.add_argument("--disable-file", type=Path, required=True)
    f = sub.add_parser("fetch-wheelhouse")
    f.add_argument("uri")
    f.add_argument("out", type=Path)
    t = sub.add_parser("profile-tags")
    t.add_argument("metadata")
    t.add_argument("keys", nargs="*")
    args: Any = p.parse_args(argv)
    if args.command == "fetch-wheelhouse":
        return fetch_wheelhouse(args.uri, args.out)
    if args.command == "profile-tags":
        return profile_tags(args.metadata, args.keys)
    if args.command == "install":
        return install(args.wheel, args.find_links, args.state, args.timeout, args.index)
    return reload(args.want, args.budget, args.wait_for_server, args.disable_file)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
