"""Benchmark of the idle monitor: one check's cost, the longest event-loop stall, CPU share.

Setup: 50 kernels, 20 terminals, 500 processes in all. Starting 50 real ipykernels (~60 MB and
~1 s CPU each) is too heavy for a shared 2-core machine, so kernels are stood in for by light
process trees (a parent and a child, like ipykernel + a subprocess) and terminals by a shell with
a child; the rest of the 500 are plain user processes. The monitor sees them exactly as it sees
real ones (pids + models from a probe), and the psutil pass covers the whole process table.

Targets: < 0.5 % of one core at the default interval, no event-loop stall > 50 ms, shutdown
within timeout + one interval of the last activity.

Run: /work/venv/bin/python bench/idle_monitor.py
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import subprocess
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from smstudio_ext import clock
from smstudio_ext.apps import AppInfo
from smstudio_ext.context import StudioContext
from smstudio_ext.idle.config import IdleShutdown
from smstudio_ext.idle.monitor import IdleMonitor
from smstudio_ext.idle.policy import Policy, Target
from smstudio_ext.idle.signals import KernelInfo, TerminalInfo

KERNELS, TERMINALS, TOTAL = 50, 20, 500
CHECKS = 30


def spawn_tree() -> subprocess.Popen:
    # sh (stands for the kernel / shell) with one sleeping child
    return subprocess.Popen(["sh", "-c", "sleep 600 & wait"], start_new_session=True)


class BenchProbe:
    def __init__(self, kernels: list[int], terminals: list[int]) -> None:
        self.server_pid = os.getpid()
        self._k = kernels
        self._t = terminals

    async def kernels(self) -> list[KernelInfo]:
        now = clock.utcnow()
        return [
            KernelInfo(f"{i:08d}-kernel", "python3", "idle", now, 0, pid, {"id": str(i)}, {})
            for i, pid in enumerate(self._k)
        ]

    def terminals(self) -> list[TerminalInfo]:
        return [TerminalInfo(str(i), clock.utcnow(), pid) for i, pid in enumerate(self._t)]


async def stall_watch(stop: asyncio.Event, out: list[float], tick: float = 0.002) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(tick)
        out.append(loop.time() - before - tick)


def p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99)] if values else 0.0


async def baseline_stall(seconds: float = 3.0) -> list[float]:
    """The loop's stalls with no check running (machine noise), for comparison."""
    stalls: list[float] = []
    stop = asyncio.Event()
    watcher = asyncio.ensure_future(stall_watch(stop, stalls))
    await asyncio.sleep(seconds)
    stop.set()
    await watcher
    return stalls


async def measure(monitor: IdleMonitor) -> tuple[list[float], list[float], list[float]]:
    stalls: list[float] = []
    stop = asyncio.Event()
    watcher = asyncio.ensure_future(stall_watch(stop, stalls))
    walls, cpus = [], []
    await monitor.check(act=False)  # warm-up: the first pass has no previous CPU sample
    for _ in range(CHECKS):
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        await monitor.check(act=False)
        walls.append(time.perf_counter() - t0)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append((cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime))
        await asyncio.sleep(0.05)
    stop.set()
    await watcher
    return walls, cpus, stalls


def shutdown_latency(interval: float, timeout_minutes: int, trials: int = 2000) -> float:
    """Worst delay past the timeout, checks every ``interval`` at a random phase."""
    policy = Policy(timeout_minutes, min_timeout_minutes=1, warning_minutes=0, grace_minutes=0)
    start = clock.utcnow()
    target = Target.of(AppInfo("d-bench", "JupyterLab", "x", "InService"))
    worst = 0.0
    for _ in range(trials):
        last = start + timedelta(seconds=random.uniform(0, interval))
        t = start
        while True:
            t += timedelta(seconds=interval)
            if t < last:
                continue
            if policy.decide(target, t, last, None).decision == "shutdown":
                worst = max(worst, (t - last).total_seconds() - timeout_minutes * 60)
                break
    return worst


def main() -> int:
    procs: list[subprocess.Popen] = []
    try:
        kernels = [spawn_tree() for _ in range(KERNELS)]
        terminals = [spawn_tree() for _ in range(TERMINALS)]
        procs.extend(kernels + terminals)
        extra = TOTAL - 2 * (KERNELS + TERMINALS)
        procs.extend(
            subprocess.Popen(["sleep", "600"], start_new_session=True) for _ in range(extra)
        )
        time.sleep(1.0)  # let the children start
        config = IdleShutdown(watch_user_processes=True, last_active_file="")
        context = StudioContext(kind="local")
        monitor = IdleMonitor(
            config,
            context,
            None,
            BenchProbe([p.pid for p in kernels], [p.pid for p in terminals]),
        )
        noise = asyncio.run(baseline_stall())
        walls, cpus, stalls = asyncio.run(measure(monitor))
        stall = max(stalls)
        import psutil

        seen = len(psutil.pids())
        interval = config.check_interval_seconds
        cpu_per_check = sorted(cpus)[len(cpus) // 2]
        share = cpu_per_check / interval * 100
        late = shutdown_latency(interval, config.timeout_minutes)
        print(
            f"setup: {KERNELS} kernel trees + {TERMINALS} terminal trees (2 processes each) + "
            f"{extra} user processes = {TOTAL} processes ({seen} in the whole process table), "
            f"{os.cpu_count()} cores"
        )
        print(
            f"one check: wall median {sorted(walls)[len(walls) // 2] * 1000:.1f} ms, "
            f"max {max(walls) * 1000:.1f} ms; CPU median {cpu_per_check * 1000:.1f} ms "
            f"(psutil pass {monitor.sampler.sample().cost_seconds * 1000:.1f} ms)"
        )
        print(
            f"CPU share at the default interval ({interval:g} s): {share:.3f}% of one core "
            f"(target < 0.5%) -> {'OK' if share < 0.5 else 'MISSED'}"
        )
        print(
            f"longest event-loop stall during checks: {stall * 1000:.1f} ms "
            f"(p99 {p99(stalls) * 1000:.1f} ms; target < 50 ms) -> "
            f"{'OK' if stall < 0.05 else 'MISSED'}"
        )
        print(
            f"  same loop, no check running (machine noise): max {max(noise) * 1000:.1f} ms, "
            f"p99 {p99(noise) * 1000:.1f} ms; load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"shutdown after last activity: at most timeout + {late:.0f} s "
            f"(target <= timeout + one interval = {interval:g} s) -> "
            f"{'OK' if late <= interval else 'MISSED'}"
        )
        return 0
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, 9)
            except OSError:
                pass
        for p in procs:
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
