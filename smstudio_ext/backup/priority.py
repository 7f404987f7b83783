"""One priority for the backups nobody waits for: scheduled and final runs (``background``).

Every thread of such a run that reads the home or sends its data runs at nice 10 and in the
idle I/O class: the thread that walks the tree, the read threads, the upload threads. On Linux
both are per-thread attributes (``setpriority`` with the thread's id, ``ioprio_set`` with
who = 0), so the notebook server's own threads keep their priority; a run at low priority
therefore always runs in threads of its own (``in_low_priority_thread``), never in the caller's.
Elsewhere (no such calls) the run simply goes at normal priority.
"""

from __future__ import annotations

import os
import threading
from typing import Callable, TypeVar

T = TypeVar("T")

NICE = 10
IOPRIO_CLASS_IDLE = 3
_IOPRIO_WHO_PROCESS = 1  # with who = 0: the calling thread
# (ioprio_set, ioprio_get) per architecture (linux/include/uapi/asm-generic/unistd.h, x86 table)
_IOPRIO_SYSCALLS = {"x86_64": (251, 252), "aarch64": (30, 31)}


def _libc_syscall() -> Callable[..., int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).syscall
    except Exception:
        return None


def lower_this_thread() -> None:
    """Nice 10 and the idle I/O class for the calling thread only (best effort)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):
        pass
    numbers = _IOPRIO_SYSCALLS.get(os.uname().machine)
    syscall = _libc_syscall() if numbers else None
    if numbers and syscall is not None:
        syscall(numbers[0], _IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << 13)


def thread_priority() -> tuple[int | None, int | None]:
    """(nice, I/O class) of the calling thread; None where unknown."""
    try:
        nice: int | None = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        nice = None
    numbers = _IOPRIO_SYSCALLS.get(os.uname().machine)
    syscall = _libc_syscall() if numbers else None
    if not numbers or syscall is None:
        return nice, None
    value = syscall(numbers[1], _IOPRIO_WHO_PROCESS, 0)
    return nice, (value >> 13 if value >= 0 else None)


def in_low_priority_thread(work: Callable[[], T], name: str = "smstudio-backup-low") -> T:
    """Run ``work`` in a new thread at low priority and return what it returns (or raise
    what it raises): the caller's thread keeps its own priority."""
    box: dict[str, object] = {}

    def target() -> None:
        lower_this_thread()
        try:
            box["result"] = work()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]
