"""One psutil pass over the process table: CPU per process since the last pass, and the trees.

Runs in a worker thread (never on the event loop). CPU is the process's CPU time since the
previous pass divided by the wall time in between, so a silent loop that burned CPU for the
whole interval shows up even if it happens to pause at the moment of the check; a process not
seen before is measured over its lifetime instead (no second pass, no sleep).
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil

from ..redact import format_command


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


def argv(pid: int) -> list[str]:
    """The argument list of ``pid`` ([] when gone or hidden)."""
    try:
        return list(psutil.Process(pid).cmdline())
    except (psutil.Error, OSError):
        return []


def cmdline(pid: int) -> str:
    """The raw command line of ``pid`` ('' when gone or hidden), for matching only (the
    ``ignore_processes`` regexes): never shown, it may hold secrets. Show ``command()``."""
    return " ".join(argv(pid))


def command(what: int | Sequence[str], fallback: str = "", limit: int = 80) -> str:
    """What we show of a process: its program's name and redacted arguments, cut to ``limit``
    characters (``--db-password=hunter2`` becomes ``--db-password=***``)."""
    words = argv(what) if isinstance(what, int) else list(what)
    return format_command(words, limit) if words else fallback


def foreground_argv(pgid: int, shell_pid: int | None = None) -> list[str]:
    """The command of a terminal's foreground job: its process group leader's, or (the leader
    has exited, e.g. the first stage of a pipeline) a member's among the shell's descendants."""
    words = argv(pgid)
    if words:
        return words
    if not shell_pid:
        return []
    try:
        members = psutil.Process(shell_pid).children(recursive=True)
    except (psutil.Error, OSError):
        return []
    for proc in members:
        try:
            if os.getpgid(proc.pid) == pgid:
                return list(proc.cmdline())
        except (psutil.Error, OSError):
            continue
    return []


def matches_command(words: Sequence[str], patterns: Sequence[str]) -> bool:
    """Whether a command line is one of ``patterns``: each pattern is a word prefix of the
    command, the program compared by its name (``top`` matches ``/usr/bin/top -d 1``;
    ``tail -f`` matches ``tail -f app.log`` but not ``tail app.log``); words are shell globs
    (``tail -[fF]``)."""
    if not words:
        return False
    have = [os.path.basename(words[0]), *words[1:]]
    for pattern in patterns:
        want = pattern.split()
        if want and len(want) <= len(have):
            if all(fnmatch.fnmatchcase(h, w) for h, w in zip(have, want)):
                return True
    return False


def foreground_pgid(fd: int | None, pid: int | None) -> int | None:
    """The foreground process group of a terminal: ``tcgetpgrp`` on its pty (the server holds
    the master side), else field 8 (``tpgid``) of the shell's ``/proc/<pid>/stat``."""
    if fd is not None:
        try:
            return os.tcgetpgrp(fd)
        except OSError:
            pass
    if pid:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
            # "pid (comm) state ppid pgrp session tty_nr tpgid ...": comm may hold spaces
            return int(stat.rsplit(")", 1)[1].split()[5])
        except (OSError, ValueError, IndexError):
            return None
    return None
