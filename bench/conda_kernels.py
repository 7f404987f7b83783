"""Benchmark: how fast a persisted env becomes a kernel, and what listing kernelspecs costs.

Run by hand: ``/work/venv/bin/python bench/conda_kernels.py``. Targets (issue 4):
- a new env appears in ``GET /api/kernelspecs`` of a running server within 5 s
  (nb_conda_kernels: about 60 s), measured on a real ``jupyter server`` subprocess in both modes;
- listing kernelspecs with 20 persisted envs costs < 50 ms and starts no subprocess (counted
  with an audit hook on subprocess/fork/spawn/exec/system events).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from smstudio_ext.testing.condaenv import make_env  # noqa: E402

KSM = "smstudio_ext.conda.kernelspecs.PersistedEnvKernelSpecManager"
SPAWN_EVENTS = (
    "subprocess.Popen",
    "os.posix_spawn",
    "os.fork",
    "os.forkpty",
    "os.exec",
    "os.system",
    "os.spawn",
)
spawns: list[str] = []


def _audit(event: str, _args: object) -> None:
    if event.startswith(SPAWN_EVENTS):
        spawns.append(event)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def appear_time(mode: str, root: str) -> float:
    envs = os.path.join(root, mode, "envs")
    os.makedirs(envs)
    port, token = _free_port(), "bench-token"
    env = dict(
        os.environ,
        HOME=os.path.join(root, mode),
        JUPYTER_DATA_DIR=os.path.join(root, mode, "data"),
        JUPYTER_CONFIG_DIR=os.path.join(root, mode, "config"),
        JUPYTER_RUNTIME_DIR=os.path.join(root, mode, "runtime"),
        SMSTUDIO_METADATA_PATH=os.path.join(root, "none.json"),
        PYTHONPATH=HERE,
    )
    argv = [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        "--allow-root",
        '--ServerApp.jpserver_extensions={"smstudio_ext": True}',
        f"--CondaEnvs.envs_dir={envs}",
    ]
    if mode == "manager":
        argv.append(f"--ServerApp.kernel_spec_manager_class={KSM}")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "api/kernelspecs", token)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter server exited with {proc.returncode}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        make_env(envs, "fresh")
        start = time.monotonic()
        while "conda-env-fresh-py" not in _get(base + "api/kernelspecs", token)["kernelspecs"]:
            if time.monotonic() - start > 30:
                return float("inf")
            time.sleep(0.02)
        return time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def listing_cost(root: str) -> dict[str, float]:
    from jupyter_client.kernelspec import KernelSpecManager
    from traitlets.config import Config

    from smstudio_ext.conda.config import CondaEnvs
    from smstudio_ext.conda.kernelspecs import PersistedEnvKernelSpecManager, build_sync

    envs = os.path.join(root, "twenty", "envs")
    kernels = os.path.join(root, "twenty", "kernels")
    os.makedirs(envs)
    for i in range(20):
        make_env(envs, f"env{i:02d}")
    cfg = Config({"CondaEnvs": {"envs_dir": envs, "kernelspec_dir": kernels}})
    sync = build_sync(CondaEnvs(config=cfg))
    sync.refresh(force=True)

    meta = os.path.join(envs, "env00", "conda-meta")
    counter = [0]

    def refresh_after_change():
        counter[0] += 1
        os.utime(meta, ns=(counter[0] * 10**9, counter[0] * 10**9))
        return sync.refresh()

    managed = PersistedEnvKernelSpecManager(config=cfg, kernel_dirs=[kernels])
    plain = KernelSpecManager(kernel_dirs=[kernels])
    results: dict[str, float] = {}
    sys.addaudithook(_audit)
    subprocess.run(["true"], check=True)  # the counter itself works
    assert spawns, "audit hook saw no subprocess"
    for label, fn in (
        ("PersistedEnvKernelSpecManager.get_all_specs", managed.get_all_specs),
        ("KernelSpecManager.get_all_specs (files kept in step)", plain.get_all_specs),
        ("KernelspecSync.refresh (nothing changed)", sync.refresh),
        ("KernelspecSync.refresh (an env changed: rescan all 20)", refresh_after_change),
    ):
        fn()  # warm
        spawns.clear()
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            out = fn()
            times.append((time.perf_counter() - t0) * 1000)
        if isinstance(out, dict):
            assert sum(1 for k in out if k.startswith("conda-env-")) == 20, sorted(out)
        assert not spawns, f"{label} started subprocesses: {spawns}"
        results[label] = statistics.median(times)
        results[label + " p95"] = sorted(times)[int(len(times) * 0.95) - 1]
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        for mode in ("loop", "manager"):
            seconds = appear_time(mode, root)
            verdict = "OK" if seconds < 5 else "OVER"
            print(f"new env -> kernel ({mode} mode): {seconds:.2f} s (target < 5 s) {verdict}")
        for label, ms in listing_cost(root).items():
            verdict = "OK" if ms < 50 else "OVER"
            print(f"20 envs, {label}: {ms:.2f} ms (target < 50 ms, 0 subprocesses) {verdict}")


if __name__ == "__main__":
    main()
