"""Helpers of the backup safety tests: hostile snapshots put into the bucket, the CLI as a real
process (with its peak RSS), the peak RSS of this process."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import zlib
from datetime import timedelta

from smstudio_ext.backup import writer as writer_mod
from smstudio_ext.backup.repo import fetch_snapshot

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


# -- shared with the engine tests (were in test_backup_engine.py) --

BUCKET = "home-backups"
WEIRD = [
    "with space.txt",
    "new\nline.txt",
    "emoji-\U0001f600.ipynb",
    os.fsdecode(b"latin1-\xe9t\xe9.csv"),  # not UTF-8: kept byte-exact
]


def tree(root):
    """Everything restore must reproduce: bytes, modes, mtimes (ns), link targets, dirs."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path), st.st_mtime_ns)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
            else:
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, digest)
    return out


def make_home(root, big=False):
    (root / "notebooks" / "scratch").mkdir(parents=True)
    (root / "notebooks" / "a.ipynb").write_text('{"cells": []}\n' * 50)
    (root / "notebooks" / "copy.ipynb").write_text('{"cells": []}\n' * 50)  # duplicate
    (root / "empty0").write_bytes(b"")
    (root / "bin").mkdir()
    (root / "bin" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "bin" / "run.sh").chmod(0o755)
    (root / ".ssh").mkdir(mode=0o700)
    (root / ".ssh" / "config").write_text("Host *\n")
    (root / ".ssh" / "config").chmod(0o600)
    (root / "readonly.txt").write_text("do not edit")
    (root / "readonly.txt").chmod(0o444)
    for name in WEIRD:
        (root / name).write_text(f"content of {name!r}")
    os.symlink("notebooks/a.ipynb", root / "link-inside")
    os.symlink("/etc/hostname", root / "link-outside")
    os.symlink("does/not/exist", root / "dangling")
    (root / ".cache" / "pip").mkdir(parents=True)
    (root / ".cache" / "pip" / "wheel.whl").write_bytes(b"w" * 1000)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "m.pyc").write_bytes(b"pyc")
    if big:  # above the multipart threshold (8 MB) and the chunking threshold
        (root / "models").mkdir()
        (root / "models" / "ckpt.pt").write_bytes(os.urandom(9 * 1024 * 1024 + 123))
    os.utime(root / "notebooks" / "a.ipynb", ns=(1_700_000_000_123_456_789,) * 2)
    os.utime(root / "notebooks" / "scratch", ns=(1_600_000_000_000_000_001,) * 2)


def snapshot_data(svc, snap_id=None):
    """A snapshot as every reader sees it: header member + entries member (a format 2
    object's entries fetched from its manifest pieces). The latest one by default."""
    store = svc.store()
    if snap_id is None:
        snap_id = sorted(s["id"] for s in svc.snapshots())[-1]
    fh = io.BytesIO()
    fetch_snapshot(store, snap_id, fh)
    return fh.getvalue()


def excluded_view(t):
    return {k: v for k, v in t.items() if not k.startswith((".cache", "__pycache__"))}


def age_s3_objects(prefix, seconds):
    """Move S3's own clock: LastModified of the emulator's objects under prefix, back by seconds."""
    from moto.s3.models import s3_backends

    for account in list(s3_backends):
        for backend in s3_backends[account].values():
            b = backend.buckets.get(BUCKET)
            if b is None:
                continue
            for key in list(b.keys.keys()):
                if prefix in key:
                    for k in b.keys.getlist(key):
                        k.last_modified = k.last_modified - timedelta(seconds=seconds)


def leftovers(root):
    """(the restore marker is there, the private temporary directories left anywhere below)."""
    from smstudio_ext.backup.journal import MARKER, TEMP_DIR_RE

    temps = [p for p in root.rglob(".smstudio-restore-*") if TEMP_DIR_RE.fullmatch(p.name)]
    return (root / MARKER).exists(), temps


def disk_fills_after(monkeypatch, writes):
    """Restore's writes fail with ENOSPC once ``writes`` of them have succeeded."""
    real = writer_mod._write_all
    calls = {"n": 0}

    def fill_up(fd, data, offset):
        calls["n"] += 1
        if calls["n"] > writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(writer_mod, "_write_all", fill_up)
