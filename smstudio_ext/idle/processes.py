"""One psutil pass over the process table: CPU per process since the last pass, and the trees.

Runs in a worker thread (never on the event loop). CPU is the process's CPU time since the
previous pass divided by the wall time in between, so a silent loop that burned CPU for the
whole interval shows up even if it happens to pause at the moment of the check; a process not
seen before is measured over its lifetime instead (no second pass, no sleep).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psutil


@dataclass
class ProcInfo:
    pid: int
    ppid: int
    uid: int | None
    name: str
    cpu_percent: float  # of one core
    create_time: float


@dataclass
class ProcessSample:
    procs: dict[int, ProcInfo] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    cost_seconds: float = 0.0

    def tree(self, root: int) -> list[int]:
        """``root`` and all its descendants that are alive in this sample."""
        if root not in self.procs:
            return []
        out, stack = [], [root]
        while stack:
            pid = stack.pop()
            out.append(pid)
            stack.extend(self.children.get(pid, ()))
        return out

    def tree_cpu(self, root: int) -> tuple[float, list[ProcInfo]]:
        """Total CPU percent of a tree and its busiest processes (highest first)."""
        members = [self.procs[p] for p in self.tree(root)]
        members.sort(key=lambda p: p.cpu_percent, reverse=True)
        return sum(p.cpu_percent for p in members), members

    def ancestors(self, pid: int) -> set[int]:
        out: set[int] = set()
        cur = self.procs.get(pid)
        while cur is not None and cur.ppid not in out and cur.ppid != cur.pid:
            out.add(cur.ppid)
            cur = self.procs.get(cur.ppid)
        return out


class ProcessSampler:
    """Keeps the previous pass's CPU times so each pass yields CPU use since the last one."""

    def __init__(
        self, yield_every: int = 32, yield_seconds: float = 0.001, min_age_seconds: float = 1.0
    ) -> None:
        self.min_age_seconds = min_age_seconds
        self._prev: dict[tuple[int, float], tuple[float, float]] = {}
        # The pass runs in a worker thread but holds the GIL while parsing /proc: pausing
        # briefly every few processes lets the event loop run (keeps its stalls short).
        self.yield_every = yield_every
        self.yield_seconds = yield_seconds

    def sample(self) -> ProcessSample:
        started = time.perf_counter()
        now = time.time()
        mono = time.monotonic()
        result = ProcessSample()
        current: dict[tuple[int, float], tuple[float, float]] = {}
        attrs = ["pid", "ppid", "uids", "name", "cpu_times", "create_time"]
        for n, proc in enumerate(psutil.process_iter(attrs), 1):
            if self.yield_every and n % self.yield_every == 0:
                time.sleep(self.yield_seconds)
            info = proc.info
            times = info.get("cpu_times")
            created = info.get("create_time")
            if times is None or created is None:
                continue
            total = float(times.user + times.system)
            # reaped children's CPU (a loop of short-lived commands, make, xargs) lands here
            total += float(getattr(times, "children_user", 0.0) or 0.0)
            total += float(getattr(times, "children_system", 0.0) or 0.0)
            key = (info["pid"], created)
            current[key] = (total, mono)
            prev = self._prev.get(key)
            if prev is not None and mono > prev[1]:
                cpu = max(0.0, (total - prev[0]) / (mono - prev[1]) * 100.0)
            elif now - created < self.min_age_seconds:
                # first sight of a just-started process: its lifetime average is mostly its
                # start-up (an `ls`, a shell prompt); measured from the next pass on
                cpu = 0.0
            else:
                cpu = total / max(now - created, 1e-3) * 100.0
            uids = info.get("uids")
            result.procs[info["pid"]] = ProcInfo(
                pid=info["pid"],
                ppid=info.get("ppid") or 0,
                uid=uids.real if uids is not None else None,
                name=info.get("name") or "?",
                cpu_percent=cpu,
                create_time=created,
            )
        for proc_info in result.procs.values():
            if proc_info.ppid in result.procs and proc_info.ppid != proc_info.pid:
                result.children.setdefault(proc_info.ppid, []).append(proc_info.pid)
        self._prev = current
        result.cost_seconds = time.perf_counter() - started
        return result


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ('' when gone or hidden); only asked for busy processes."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except (psutil.Error, OSError):
        return ""
