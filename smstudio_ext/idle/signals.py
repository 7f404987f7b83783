"""Activity signals: each looks at one kind of thing and says whether it is active now, and why.

A signal gets a ``Snapshot`` (kernels and terminals as the server sees them, one process-table
pass, the keep-alive deadline) and returns a ``SignalReport`` with one ``Observation`` per thing
it looked at, so the monitor can attribute activity to an app (Studio Classic) and the panel can
show each signal's state. Signals run in a worker thread; they never raise for a missing
capability (no GPU, no psutil access): they report ``available=False`` with the reason.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import clock
from ..redact import printable
from .processes import (
    ProcessSample,
    ProcInfo,
    cmdline,
    command,
    foreground_argv,
    matches_command,
)

log = logging.getLogger("smstudio_ext")


@dataclass
class KernelInfo:
    id: str
    name: str
    execution_state: str
    last_activity: datetime | None
    connections: int = 0
    pid: int | None = None
    model: dict[str, Any] = field(default_factory=dict)
    spec_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"kernel {self.id[:8]} ({self.name})"


@dataclass
class TerminalInfo:
    """A terminal as the server sees it. ``last_activity`` is the user's last input (or, before
    we watched its input, what the server said at first sight): output does not count, so a
    ``top`` left running does not keep the app. ``foreground_pgid`` is the pty's foreground
    process group; a job runs when it is not the shell's own group (``shell_pgid``)."""

    name: str
    last_activity: datetime | None
    pid: int | None = None
    foreground_pgid: int | None = None
    shell_pgid: int | None = None
    last_input: float | None = None  # clock.monotonic() of the last keystroke we saw

    @property
    def label(self) -> str:
        return f"terminal {self.name}"


@dataclass
class UserAction:
    """A deliberate action through the server (save, rename, upload, ...), on the timeline."""

    action: str
    path: str
    at: datetime


@dataclass
class Snapshot:
    now: datetime
    kernels: list[KernelInfo] = field(default_factory=list)
    terminals: list[TerminalInfo] = field(default_factory=list)
    terminals_available: bool = True
    server_pid: int | None = None
    procs: ProcessSample | None = None
    procs_error: str | None = None
    keepalive_until: datetime | None = None
    # someone else's activity in the platform's file (ours never), on the timeline
    platform_activity: datetime | None = None
    user_actions: list[UserAction] = field(default_factory=list)
    # wall time minus timeline time: for the times shown in reasons (display only)
    wall_offset: timedelta = field(default_factory=timedelta)

    def shown(self, when: datetime | None) -> str | None:
        """A timeline instant as the wall-clock time a person reads."""
        return iso(when + self.wall_offset) if when is not None else None


@dataclass
class Observation:
    """One thing a signal looked at. ``ref`` is the kernel/terminal (for Classic mapping)."""

    subject: str
    active: bool
    reason: str
    last_activity: datetime | None = None
    ref: Any = None
    app: str | None = None  # filled by the monitor: the app this activity belongs to


@dataclass
class SignalReport:
    name: str
    available: bool
    active: bool
    reason: str
    last_activity: datetime | None = None
    observations: list[Observation] = field(default_factory=list)
    scope: str = "all"  # "all": applies to every app; "mapped": per observation's app
    # The signal failed (process table unreadable, GPU query failing): its answer is unknown,
    # so the monitor keeps every app alive rather than count it as idle.
    error: str | None = None

    def to_dict(self, wall_offset: timedelta | None = None) -> dict[str, Any]:
        last = self.last_activity
        if last is not None and wall_offset is not None:
            last = last + wall_offset
        return {
            "name": self.name,
            "available": self.available,
            "active": self.active,
            "reason": self.reason,
            "last_activity": iso(last),
            "error": self.error,
        }


def _unknown(name: str, error: str) -> SignalReport:
    return SignalReport(name, True, False, f"unknown ({error}): keeping apps alive", error=error)


def iso(when: datetime | None) -> str | None:
    """The one REST timestamp format (``clock.isoformat_z``: UTC, microseconds, uppercase Z)."""
    return clock.isoformat_z(when) if when else None


def _report(
    name: str, observations: list[Observation], now: datetime, idle_reason: str, scope: str
) -> SignalReport:
    active = [o for o in observations if o.active]
    last = max((o.last_activity for o in observations if o.last_activity), default=None)
    if active:
        reason = "; ".join(o.subject + ": " + o.reason for o in active[:3])
        if len(active) > 3:
            reason += f" (+{len(active) - 3} more)"
        return SignalReport(name, True, True, reason, now, observations, scope)
    return SignalReport(name, True, False, idle_reason, last, observations, scope)


def _top(sample: ProcessSample, procs: list[Any]) -> str:
    busiest = procs[0]
    return f"pid {busiest.pid} {command(busiest.pid, busiest.name)}"


class Signal:
    name = "signal"

    def evaluate(self, snap: Snapshot) -> SignalReport:  # pragma: no cover - interface
        raise NotImplementedError


class KernelSignal(Signal):
    """Execution state: busy (a cell runs, even one that only sleeps) or a fresh start is active."""

    name = "kernels"

    def __init__(self, count_connections: bool = False, starting_timeout_minutes: float = 5.0):
        self.count_connections = count_connections
        self.starting_timeout = timedelta(minutes=starting_timeout_minutes)
        # when each kernel id was first seen: a gateway kernel stuck in 'starting' may have no
        # last_activity at all, and must still count as stuck after the bound
        self._first_seen: dict[str, datetime] = {}

    def evaluate(self, snap: Snapshot) -> SignalReport:
        obs: list[Observation] = []
        counts: dict[str, int] = {}
        ids = {k.id for k in snap.kernels}
        for kid in list(self._first_seen):
            if kid not in ids:
                del self._first_seen[kid]
        for k in snap.kernels:
            first_seen = self._first_seen.setdefault(k.id, snap.now)
            state = k.execution_state or "unknown"
            counts[state] = counts.get(state, 0) + 1
            if state == "busy":
                obs.append(Observation(k.label, True, "busy (a cell is running)", snap.now, k))
            elif state == "starting":
                since = k.last_activity or first_seen
                if snap.now - since > self.starting_timeout:
                    minutes = int((snap.now - since).total_seconds() // 60)
                    obs.append(
                        Observation(
                            k.label,
                            False,
                            f"stuck in 'starting' for {minutes} min: counted as idle",
                            None,
                            k,
                        )
                    )
                    counts["stuck"] = counts.get("stuck", 0) + 1
                else:
                    obs.append(Observation(k.label, True, "starting", snap.now, k))
            elif self.count_connections and k.connections > 0 and state != "dead":
                obs.append(
                    Observation(
                        k.label, True, f"{k.connections} browser connection(s)", snap.now, k
                    )
                )
            else:
                reason = f"{state}; {k.connections} connection(s)"
                obs.append(Observation(k.label, False, reason, k.last_activity, k))
        if not snap.kernels:
            idle = "no kernels running"
        else:
            idle = (
                "no kernel busy (" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")"
            )
        return _report(self.name, obs, snap.now, idle, "mapped")


class CpuSignal(Signal):
    """CPU of each kernel's process tree, of the server's other child processes, and of the
    user's processes outside the server.

    Catches what execution_state misses: a background thread or a silent loop in a kernel
    that reports idle, an app behind jupyter-server-proxy (code-server, TensorBoard) computing,
    and a ``nohup python train.py &`` whose terminal is gone.
    """

    name = "cpu"

    def __init__(
        self,
        threshold_percent: float = 10.0,
        watch_user_processes: bool = True,
        user_uids: list[int] | None = None,
        ignore: list[str] | None = None,
    ):
        self.threshold = threshold_percent
        self.watch_user_processes = watch_user_processes
        self.user_uids = set(user_uids or [])
        self.ignore = [re.compile(p) for p in ignore or []]

    def evaluate(self, snap: Snapshot) -> SignalReport:
        sample = snap.procs
        if sample is None:
            return _unknown(self.name, snap.procs_error or "process table not readable")
        obs: list[Observation] = []
        local = [k for k in snap.kernels if k.pid]
        for k in local:
            total, members = sample.tree_cpu(k.pid or 0)
            if not members:
                continue
            if total > self.threshold and not self._ignored(members[0].pid):
                reason = f"process tree uses {total:.0f}% CPU ({_top(sample, members)})"
                obs.append(Observation(k.label, True, reason, snap.now, k))
            else:
                obs.append(Observation(k.label, False, f"{total:.1f}% CPU", None, k))
        obs.extend(self._server_children(snap, sample))
        if self.watch_user_processes:
            obs.extend(self._outside(snap, sample))
        idle = f"no kernel or user process above {self.threshold:g}% CPU"
        return _report(self.name, obs, snap.now, idle, "mapped")

    def _ignored(self, pid: int) -> bool:
        if not self.ignore:
            return False
        cmd = cmdline(pid)
        return any(p.search(cmd) for p in self.ignore)

    def _busy_tree(self, members: list[ProcInfo]) -> tuple[float, list[ProcInfo]]:
        """The tree's CPU without ignored processes, busiest first."""
        members = sorted(members, key=lambda p: p.cpu_percent, reverse=True)
        if sum(p.cpu_percent for p in members) <= self.threshold:
            return 0.0, []
        busy = [p for p in members if not self._ignored(p.pid)]
        return sum(p.cpu_percent for p in busy), busy

    def _server_children(self, snap: Snapshot, sample: ProcessSample) -> list[Observation]:
        """Trees under the server that are neither kernels nor terminals: apps behind
        jupyter-server-proxy (code-server, TensorBoard), language servers, anything an
        extension started. The server's own CPU (our backups, its threads) is not counted."""
        server = snap.server_pid or os.getpid()
        known = {k.pid for k in snap.kernels if k.pid} | {t.pid for t in snap.terminals if t.pid}
        obs = []
        for child in sample.children.get(server, []):
            if child in known:
                continue
            total, busy = self._busy_tree([sample.procs[p] for p in sample.tree(child)])
            if not busy or total <= self.threshold:
                continue
            extra = f" (+{len(busy) - 1} more processes)" if len(busy) > 1 else ""
            reason = f"uses {total:.0f}% CPU: {command(busy[0].pid, busy[0].name)}{extra}"
            obs.append(
                Observation(f"server process {child}", True, reason, snap.now, sample.procs[child])
            )
        return obs

    def _outside(self, snap: Snapshot, sample: ProcessSample) -> list[Observation]:
        """The user's busy process trees that are neither the server's descendants nor ancestors.

        The threshold applies to the CPU of each tree (a job's root and its workers), not per
        process: eight workers at 9% each are a busy job.
        """
        server = snap.server_pid or os.getpid()
        inside = set(sample.tree(server)) | sample.ancestors(server) | {os.getpid()}
        mine: dict[int, ProcInfo] = {}
        for proc in sample.procs.values():
            if proc.pid in inside:
                continue
            if self.user_uids and proc.uid not in self.user_uids:
                continue
            mine[proc.pid] = proc
        trees: dict[int, list[ProcInfo]] = {}
        for proc in mine.values():
            root, seen = proc, {proc.pid}
            while root.ppid in mine and root.ppid not in seen:  # topmost ancestor of the user's
                root = mine[root.ppid]
                seen.add(root.pid)
            trees.setdefault(root.pid, []).append(proc)
        obs = []
        for root_pid, members in trees.items():
            total, busy = self._busy_tree(members)
            if not busy or total <= self.threshold:
                continue
            extra = f" (+{len(busy) - 1} more processes)" if len(busy) > 1 else ""
            reason = f"uses {total:.0f}% CPU: {command(busy[0].pid, busy[0].name)}{extra}"
            obs.append(Observation(f"process {root_pid}", True, reason, snap.now, mine[root_pid]))
        return obs


class TerminalSignal(Signal):
    """Terminals: a foreground job (any process group but the shell's) is active, even one that
    waits silently (``sleep 900 && python train.py``, a download); so is a busy process tree.
    Interactive monitors (``top``, ``watch``, ``tail -f``: ``monitor_commands``) are not work.
    The user's input moves ``last_activity``; output does not."""

    name = "terminals"

    def __init__(self, threshold_percent: float = 10.0, monitor_commands: list[str] | None = None):
        self.threshold = threshold_percent
        self.monitor_commands = list(monitor_commands or [])

    def evaluate(self, snap: Snapshot) -> SignalReport:
        if not snap.terminals_available:
            return SignalReport(self.name, False, False, "terminals are not enabled on this server")
        if snap.procs is None and any(t.pid for t in snap.terminals):
            return _unknown(
                self.name, "terminal CPU: " + (snap.procs_error or "process table not readable")
            )
        obs = []
        for t in snap.terminals:
            job = self._foreground(t)
            total: float = 0.0
            members: list[ProcInfo] = []
            if snap.procs is not None and t.pid:
                total, members = snap.procs.tree_cpu(t.pid)
                if job is not None and job[1] and t.foreground_pgid:
                    # a monitor's own CPU (top refreshing, watch's commands) is not work; a
                    # background job's in the same terminal still is
                    shown = {p.pid for p in snap.procs.tree_cpu(t.foreground_pgid)[1]}
                    members = [p for p in members if p.pid not in shown]
                    total = sum(p.cpu_percent for p in members)
            if job is not None and not job[1]:
                obs.append(Observation(t.label, True, f"runs {job[0]}", snap.now, t))
            elif members and total > self.threshold:
                reason = f"a job uses {total:.0f}% CPU ({_top(snap.procs, members)})"  # type: ignore[arg-type]
                obs.append(Observation(t.label, True, reason, snap.now, t))
            else:
                what = f"shows {job[0]} (an interactive monitor: not work)" if job else "idle"
                obs.append(
                    Observation(t.label, False, f"{what} ({total:.1f}% CPU)", t.last_activity, t)
                )
        idle = "no terminals open" if not snap.terminals else "no terminal job running"
        return _report(self.name, obs, snap.now, idle, "mapped")

    def _foreground(self, t: TerminalInfo) -> tuple[str, bool] | None:
        """(the job's redacted command, whether it is an interactive monitor), or None when the
        shell itself is in the foreground (waiting at its prompt)."""
        fg, shell = t.foreground_pgid, t.shell_pgid
        if not fg or fg <= 0 or fg == shell:
            return None
        argv = foreground_argv(fg, t.pid)
        if not argv:
            return (f"process group {fg}", False)
        return (command(argv), matches_command(argv, self.monitor_commands))


class EditingSignal(Signal):
    """The user's deliberate actions through the server: saves (including uploads and new
    files), renames, copies, deletes through the contents API. Never the browser's polling
    (directory listings and file reads are not actions). Each action moves the last activity."""

    name = "editing"

    def evaluate(self, snap: Snapshot) -> SignalReport:
        obs = [
            Observation(
                f"{a.action} {printable(a.path) or '/'}",
                False,
                f"{a.action} at {snap.shown(a.at)}",
                a.at,
            )
            for a in snap.user_actions
        ]
        if not obs:
            return SignalReport(self.name, True, False, "no save, rename or upload yet")
        last = max(snap.user_actions, key=lambda a: a.at)
        idle = f"last {last.action} ({printable(last.path) or '/'}) at {snap.shown(last.at)}"
        return _report(self.name, obs, snap.now, idle, "all")


class GpuAbsent(LookupError):
    """No GPU on this machine (no library, no binary, no device): it will not grow one."""


class GpuSignal(Signal):
    """GPU utilization from pynvml, else ``nvidia-smi``; no GPU = not available (never an error).

    Only absence is remembered (no pynvml and no binary, or no GPU device node): a GPU query
    that fails on a machine that has a GPU (driver hiccup, timeout, ``[N/A]``) is an *error*
    for this check only, and keeps the apps alive.
    """

    name = "gpu"

    def __init__(
        self,
        threshold_percent: float = 10.0,
        command: list[str] | None = None,
        devices: str = "/dev/nvidia[0-9]*",
    ):
        self.threshold = threshold_percent
        self.command = list(command or [])
        self.devices = devices
        self._unavailable: str | None = None

    def _has_device(self) -> bool:
        import glob

        return bool(glob.glob(self.devices)) if self.devices else True

    def _utilizations(self) -> list[float]:
        try:
            import pynvml
        except ImportError:
            pynvml = None
        if pynvml is not None:
            try:
                pynvml.nvmlInit()
                try:
                    count = pynvml.nvmlDeviceGetCount()
                    return [
                        float(
                            pynvml.nvmlDeviceGetUtilizationRates(
                                pynvml.nvmlDeviceGetHandleByIndex(i)
                            ).gpu
                        )
                        for i in range(count)
                    ]
                finally:
                    pynvml.nvmlShutdown()
            except Exception as exc:  # NVMLError: no driver / no device, or a real failure
                if self._has_device():
                    raise RuntimeError(f"pynvml failed: {exc}") from exc
                log.debug("smstudio: pynvml failed (%s); trying %s", exc, self.command[:1])
        if not self.command or not shutil.which(self.command[0]):
            raise GpuAbsent("no NVIDIA GPU (nvidia-smi not found)")
        try:
            out = subprocess.run(
                self.command, capture_output=True, text=True, timeout=10, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{self.command[0]} timed out") from exc
        if out.returncode != 0:
            detail = (out.stderr or out.stdout).strip().splitlines()
            msg = f"{self.command[0]} exited {out.returncode}" + (
                f": {detail[0][:120]}" if detail else ""
            )
            if not self._has_device():
                raise GpuAbsent(f"no usable GPU ({msg})")
            raise RuntimeError(msg)
        values = []
        for line in out.stdout.splitlines():
            line = line.strip().rstrip("%").strip()
            if not line:
                continue
            try:
                values.append(float(line))
            except ValueError as exc:  # '[N/A]' (MIG), 'ERR!'
                raise RuntimeError(f"{self.command[0]} reported {line!r}") from exc
        if not values:
            raise GpuAbsent(f"no GPU reported by {self.command[0]}")
        return values

    def evaluate(self, snap: Snapshot) -> SignalReport:
        if self._unavailable:
            return SignalReport(self.name, False, False, self._unavailable)
        try:
            utils = self._utilizations()
        except GpuAbsent as exc:
            # A machine without a GPU will not grow one: stop asking (cheap checks).
            self._unavailable = str(exc) or "no GPU"
            return SignalReport(self.name, False, False, self._unavailable)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            return _unknown(self.name, str(exc) or type(exc).__name__)
        obs = [
            Observation(
                f"gpu {i}",
                u > self.threshold,
                f"{u:.0f}% utilization",
                snap.now if u > self.threshold else None,
            )
            for i, u in enumerate(utils)
        ]
        return _report(self.name, obs, snap.now, f"all GPUs under {self.threshold:g}%", "all")


def parse_timestamp(text: str) -> datetime | None:
    """The platform file's timestamp (``2026-11-30T02:17:30.123456Z``, z or Z, or epoch)."""
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except (ValueError, OverflowError, OSError):  # '1e400', 'inf', out of range
        pass
    try:
        return clock.parse_iso(text)
    except ValueError:
        return None


def as_utc(when: datetime | None) -> datetime | None:
    """Aware UTC: naive datetimes are taken as UTC, others converted (never compared mixed)."""
    if when is None:
        return None
    return (
        when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    )


class KeepAliveSignal(Signal):
    """``smstudio idle keepalive`` / the panel's "keep running", and the platform's activity file
    (someone else's writes only: the monitor reads it and never counts its own)."""

    name = "keepalive"

    def __init__(self, path: str = ""):
        self.path = path

    def evaluate(self, snap: Snapshot) -> SignalReport:
        obs = []
        until = snap.keepalive_until
        if until and until > snap.now:
            obs.append(
                Observation("keep-alive", True, f"kept alive until {snap.shown(until)}", snap.now)
            )
        stamp = snap.platform_activity
        if stamp is not None:
            stamp = min(stamp, snap.now)
            obs.append(Observation(self.path, False, f"last activity {snap.shown(stamp)}", stamp))
        idle = "no keep-alive"
        if stamp is not None:
            idle += f"; {os.path.basename(self.path)} says {snap.shown(stamp)}"
        return _report(self.name, obs, snap.now, idle, "all")
