"""Helpers of the backup safety tests: hostile snapshots put into the bucket, the CLI as a real
process (with its peak RSS), the peak RSS of this process."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import zlib

SNAP = "20991231T000000.000000Z-evil0000"


def put_manifest(store, lines, snap_id=SNAP, header=None):
    """A format 1 snapshot object holding ``lines`` (entries as lists, or raw bytes): a
    header member and a body member, as the format has them."""
    head = {"format": 1, "id": snap_id, "stats": {}, **(header or {})}
    body = b"".join(x if isinstance(x, bytes) else json.dumps(x).encode() + b"\n" for x in lines)
    obj = gzip.compress(json.dumps(head).encode() + b"\n") + gzip.compress(body)
    store.put(store.snapshot_key(snap_id), obj)


def zlib_bomb(size):
    """A zlib stream of ``size`` zero bytes (~1/1000 of it), made in blocks."""
    comp = zlib.compressobj(9)
    block = b"\0" * (1 << 20)
    parts = [comp.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + comp.flush()


def zstd_bomb(size):
    """A zstd frame of ``size`` zero bytes whose header says so (~32 KB for 1 GiB)."""
    import zstandard

    comp = zstandard.ZstdCompressor(level=3).compressobj(size=size)
    block = b"\0" * (1 << 20)
    parts = [comp.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + comp.flush()


# The CLI as `python -m smstudio_ext` runs it, writing its own peak RSS (VmHWM, this process
# alone) at exit: a forked child's ru_maxrss starts at its parent's RSS (here, pytest's).
_CLI = """
import atexit, os, re, sys
def _peak():
    with open("/proc/self/status") as fh:
        kb = re.search(r"VmHWM:\\s+(\\d+)", fh.read()).group(1)
    with open(os.environ["SMSTUDIO_TEST_PEAK"], "w") as out:
        out.write(kb)
atexit.register(_peak)
from smstudio_ext.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cli(aws, tmp_path, *args, home=None, timeout=120):
    """``smstudio ARGS`` as a real process against the emulator: (exit code, stdout, stderr,
    peak RSS of that process in MB)."""
    peak = tmp_path / "cli.peak"
    env = {
        **os.environ, **aws.env(), "HOME": str(home or tmp_path / "clihome"),
        "SMSTUDIO_TEST_PEAK": str(peak),
    }  # fmt: skip
    cmd = [
        sys.executable, "-c", _CLI, "--endpoint-url", aws.endpoint_url,
        "--metadata", str(tmp_path / "none.json"), *args,
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr, int(peak.read_text()) / 1024


def reset_peak_rss():
    """Start measuring this process's peak RSS afresh (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def peak_rss_mb():
    """This process's peak RSS since ``reset_peak_rss``."""
    with open("/proc/self/status") as fh:
        return int(re.search(r"VmHWM:\s+(\d+)", fh.read()).group(1)) / 1024


def rss_mb():
    with open("/proc/self/status") as fh:
        return int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1)) / 1024
