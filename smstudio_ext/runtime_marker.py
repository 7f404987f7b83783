"""Which Jupyter server is running here, and has it loaded smstudio-ext (which version)?

The lifecycle script asks this after installing the package: in SageMaker Distribution the
server is started with the container (supervisord), so it usually runs *before* the install and
must be restarted to load the extension — but not when it already runs the installed version
(a baked image, a second run), and not when no server is up yet (it will load it when it starts).

Two files in the Jupyter runtime dir answer it without an HTTP call (so the server's base URL,
token or auth don't matter):

* ``jpserver-<pid>.json``: jupyter_server writes it when it starts serving (base_url, port, pid);
* ``smstudio-ext-<pid>.json``: this module writes it when the extension loads, which is *before*
  the server writes its own file, so a server with a file but without our marker did not load us.

The runtime dir is on the home volume, which outlives the container: a file left by a server of
an earlier app session can name a pid that now belongs to another process. A pid counts as that
server only while the process runs and was created before the file was written.

``python -m smstudio_ext.runtime_marker status --want VERSION`` prints one line and exits 0 when
a server runs that version, 3 when a server runs without it, 4 when no server runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._version import __version__
from .fsutil import atomic_write_json, read_capped

log = logging.getLogger("smstudio_ext")

MARKER = "smstudio-ext-{pid}.json"
LOADED, WITHOUT, NONE = 0, 3, 4  # exit codes of `status` (1, 2: Python's own errors)


def write_marker(serverapp: Any) -> Path | None:
    """Record that this server process loaded this version (best effort: never fatal)."""
    path = Path(serverapp.runtime_dir) / MARKER.format(pid=os.getpid())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"pid": os.getpid(), "version": __version__})
        return path
    except OSError as exc:
        log.warning("smstudio: cannot write the runtime marker %s: %s", path, exc)
        return None


def remove_marker(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass


def _alive(pid: int, written: float) -> bool:
    """The process runs and is older than the file that names it (not a reused pid)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return bool(proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= written + 1.0)
    except (psutil.Error, OSError):
        return False


def _read(path: Path) -> tuple[dict[str, Any], float] | None:
    try:
        data = json.loads(read_capped(path, 64 * 1024, what="a Jupyter runtime file"))
        return (data, path.stat().st_mtime) if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


@dataclass
class Server:
    pid: int
    base_url: str
    port: int | None
    loaded: str | None  # the smstudio-ext version it loaded, or None


def running_servers(runtime_dir: Path) -> list[Server]:
    """Live Jupyter servers of this runtime dir, with the version of ours each loaded."""
    found = []
    for info_file in sorted(runtime_dir.glob("jpserver-*.json")):
        read = _read(info_file)
        if read is None or not isinstance(read[0].get("pid"), int):
            continue
        info, written = read
        if not _alive(info["pid"], written):
            continue
        loaded = None
        marker = _read(runtime_dir / MARKER.format(pid=info["pid"]))
        if marker and marker[0].get("pid") == info["pid"] and _alive(info["pid"], marker[1]):
            loaded = str(marker[0].get("version") or "") or None
        found.append(
            Server(info["pid"], str(info.get("base_url") or "/"), info.get("port"), loaded)
        )
    return found


def status(runtime_dir: Path, want: str) -> tuple[int, str]:
    """(LOADED|WITHOUT|NONE, one line for the lifecycle log)."""
    servers = running_servers(runtime_dir)
    if not servers:
        return NONE, f"no Jupyter server running (runtime dir {runtime_dir})"
    lines = []
    for s in servers:
        where = f"Jupyter server pid {s.pid} (base URL {s.base_url}, port {s.port})"
        if s.loaded == want:
            return LOADED, f"{where} runs smstudio_ext {want}"
        had = f"smstudio_ext {s.loaded}" if s.loaded else "no smstudio_ext"
        lines.append(f"{where} runs {had}")
    return WITHOUT, "; ".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m smstudio_ext.runtime_marker")
    p.add_argument("command", choices=["status"])
    p.add_argument("--want", default=__version__, help="the version that should be loaded")
    p.add_argument("--runtime-dir", help="default: jupyter_core's runtime dir")
    args = p.parse_args(argv)
    if args.runtime_dir:
        runtime_dir = Path(args.runtime_dir)
    else:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime_dir = Path(jupyter_runtime_dir())
    code, line = status(runtime_dir, args.want)
    print(line)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
