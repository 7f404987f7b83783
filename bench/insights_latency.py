"""Insights latency: warm GET smstudio/insights p95 (target < 20 ms), and a cold answer vs the sum
and the max of its single AWS calls (target: bounded by the slowest call chain, not the sum).

Runs the local emulator in this process and a real Jupyter server in a subprocess:

    /work/venv/bin/python bench/insights_latency.py [--latency-ms 50] [--requests 200]

Cold figures are measured in-process with an artificial per-call latency added on the client side
(a botocore ``before-send`` hook sleeps), since the emulator answers in ~1-3 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smstudio_ext.aws import AwsClients  # noqa: E402
from smstudio_ext.context import load_context  # noqa: E402
from smstudio_ext.insights.config import Insights  # noqa: E402
from smstudio_ext.insights.engine import InsightsEngine  # noqa: E402
from smstudio_ext.testing.emulator import Emulator  # noqa: E402
from smstudio_ext.testing.offline import go_offline  # noqa: E402
from smstudio_ext.testing.seed import seed_world  # noqa: E402

go_offline()
SERVICES = ("s3", "sagemaker", "ce", "pricing", "sts", "iam", "logs")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def instrumented_clients(emu: Emulator, latency: float) -> tuple[AwsClients, list[float]]:
    """Clients whose every call sleeps ``latency`` s before sending; durations are recorded."""
    clients = AwsClients(emu.region, endpoint_urls={s: emu.endpoint_url for s in SERVICES})
    durations: list[float] = []

    def before_call(context, **_):  # type: ignore[no-untyped-def]
        context["bench_t0"] = time.perf_counter()

    def before_send(**_):  # type: ignore[no-untyped-def]
        time.sleep(latency)

    def after_call(context, **_):  # type: ignore[no-untyped-def]
        durations.append(time.perf_counter() - context["bench_t0"])

    for service, region in (("sagemaker", None), ("pricing", "us-east-1"), ("ce", "us-east-1")):
        events = clients.client(service, region=region).meta.events
        events.register("before-call", before_call)
        events.register("before-send", before_send)
        events.register("after-call", after_call)
    return clients, durations


def cold(emu, world, tmp: Path, app_type: str, latency: float, warm_prices: bool) -> dict:
    meta = world.write_metadata(tmp / f"meta-{app_type}.json", world.find_app(app_type=app_type))
    prices = tmp / f"prices-{app_type}.json"
    if not warm_prices and prices.exists():
        prices.unlink()
    config = Insights(price_cache_path=str(prices), billed_costs=True)
    clients, durations = instrumented_clients(emu, latency)
    engine = InsightsEngine(clients, config, load_context(meta))
    t0 = time.perf_counter()
    data = engine.collect()
    total = time.perf_counter() - t0
    engine.close()
    assert data["parts"]["guardrails"]["status"] == "ok", data["parts"]
    return {
        "calls": len(durations),
        "sum": sum(durations),
        "max": max(durations),
        "total": total,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def warm_http(emu, world, tmp: Path, requests: int) -> dict:
    meta = world.write_metadata(tmp / "server-meta.json", world.find_app(app_type="JupyterLab"))
    port, token = free_port(), "bench-token"
    cfg = {
        "ServerApp": {
            "jpserver_extensions": {"smstudio_ext": True},
            "port": port,
            "ip": "127.0.0.1",
            "open_browser": False,
            "root_dir": str(tmp),
            "allow_root": True,
        },
        "IdentityProvider": {"token": token},
        "Studio": {"metadata_path": meta},
        "Aws": {"endpoint_urls": {s: emu.endpoint_url for s in SERVICES}},
        "Insights": {"price_cache_path": str(tmp / "server-prices.json")},
    }
    (tmp / "jupyter_server_config.json").write_text(json.dumps(cfg))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JUPYTER_CONFIG_DIR": str(tmp),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server"],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "server.log", "w"),
    )
    url = f"http://127.0.0.1:{port}/smstudio/insights"
    headers = {"Authorization": f"token {token}"}

    def get(path: str = "") -> float:
        req = urllib.request.Request(url + path, headers=headers)
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
        return time.perf_counter() - t0

    try:
        deadline = time.time() + 60
        while True:
            try:
                first = get()
                break
            except OSError as exc:
                if time.time() > deadline or proc.poll() is not None:
                    raise SystemExit(f"server did not start; see {tmp / 'server.log'}") from exc
                time.sleep(0.3)
        times = [get() for _ in range(requests)]
    finally:
        proc.terminate()
        proc.wait(10)
    return {"first": first, "p50": pct(times, 50), "p95": pct(times, 95), "max": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    emu = Emulator().start()
    try:
        world = seed_world(emu, kind="both", compliant=True)
        tmp = Path(tempfile.mkdtemp(prefix="smstudio-bench-"))
        print(f"cold collect() with +{args.latency_ms:.0f} ms per AWS call (in-process):")
        print(f"  {'subject':<44} {'calls':>5} {'sum':>8} {'max':>8} {'cold':>8} {'cold/max':>8}")
        for app_type, label in (("JupyterLab", "space (JupyterLab)"),
                                ("JupyterServer", "profile (Classic, 3 apps)")):  # fmt: skip
            for warm_prices in (False, True):
                r = cold(emu, world, tmp, app_type, latency, warm_prices)
                name = f"{label}, prices {'on disk' if warm_prices else 'cold'}"
                print(
                    f"  {name:<44} {r['calls']:>5} {r['sum'] * 1000:>6.0f}ms {r['max'] * 1000:>6.0f}ms "
                    f"{r['total'] * 1000:>6.0f}ms {r['total'] / r['max']:>8.2f}"
                )
        w = warm_http(emu, world, tmp, args.requests)
        print(
            f"warm GET smstudio/insights over HTTP ({args.requests} requests, real Jupyter server):"
        )
        print(
            f"  first (cold) {w['first'] * 1000:.1f} ms · p50 {w['p50'] * 1000:.2f} ms · "
            f"p95 {w['p95'] * 1000:.2f} ms (target < 20 ms) · max {w['max'] * 1000:.2f} ms"
        )
        print("  PASS" if w["p95"] < 0.020 else "  FAIL: p95 above 20 ms")
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
