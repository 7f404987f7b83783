"""Helpers of the backup safety tests: hostile snapshots put into the bucket, the CLI as a real
process (with its peak RSS), the peak RSS of this process."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
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


def cli(aws, tmp_path, *args, home=None, timeout=120):
    """``python -m smstudio_ext ARGS`` as a real process against the emulator: (exit code,
    stdout, stderr, peak RSS in MB, through wait4: this child's alone)."""
    env = {**os.environ, **aws.env(), "HOME": str(home or tmp_path / "clihome")}
    cmd = [
        sys.executable, "-m", "smstudio_ext", "--endpoint-url", aws.endpoint_url,
        "--metadata", str(tmp_path / "none.json"), *args,
    ]  # fmt: skip
    out, err = tmp_path / "cli.out", tmp_path / "cli.err"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe)
        deadline = time.monotonic() + timeout
        try:
            while True:  # wait4 (not wait): the rusage of this child alone
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{args} still running after {timeout} s")
                time.sleep(0.05)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    return (
        proc.returncode,
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
        usage.ru_maxrss / 1024,
    )


def reset_peak_rss():
    """Start measuring this process's peak RSS afresh (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def peak_rss_mb():
    with open("/proc/self/status") as fh:
        return int(re.search(r"VmHWM:\s+(\d+)", fh.read()).group(1)) / 1024
