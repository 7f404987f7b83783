"""Wiring the idle engine into the Jupyter server: ``setup_idle(app)``.

The probe reads kernels and terminals from the server's own managers (in-process, never over
HTTP to itself): ``serverapp.kernel_manager`` (local or gateway kernels),
``web_app.settings["terminal_manager"]``, ``serverapp.kernel_spec_manager`` for kernelspec
metadata (Studio Classic mapping).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from datetime import datetime
from typing import Any, Callable

from .. import clock
from ..events import idle_decision_publisher
from ..services import Services
from ..studio_settings import PlatformIdle
from .config import IdleShutdown
from .mode import read_platform_idle
from .monitor import IdleMonitor, maybe_await
from .processes import foreground_pgid
from .signals import KernelInfo, TerminalInfo, as_utc, parse_timestamp
from .useractions import UserActions, watch_contents

log = logging.getLogger("smstudio_ext")


SPEC_RETRY_SECONDS = 300.0
ACTIVITY_MONITOR = "jupyter_activity_monitor_extension"  # SMD's, on PyPI  # a failed kernelspec lookup is asked again after this long


def _when(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):  # jupyter_server's are aware UTC; a naive one is UTC
        return as_utc(value)
    return parse_timestamp(str(value))


class JupyterProbe:
    """Kernels, terminals and the user's deliberate actions of a running ``ServerApp``, read
    in-process."""

    def __init__(self, serverapp: Any) -> None:
        self.serverapp = serverapp
        self.server_pid = os.getpid()
        self._spec_meta: dict[str, dict[str, Any]] = {}
        self._spec_failed: dict[str, float] = {}  # name -> when the lookup failed (monotonic)
        self.user_actions = UserActions()
        self.watching_contents = watch_contents(
            getattr(serverapp, "event_logger", None), self.user_actions
        )
        # a terminal's last_activity when we started watching its input (later output is
        # ignored: it moves last_activity too)
        self._terminal_baseline: dict[str, Any] = {}

    async def _spec_metadata(self, name: str) -> dict[str, Any]:
        if name in self._spec_meta:
            return self._spec_meta[name]
        failed = self._spec_failed.get(name)
        if failed is not None and clock.monotonic() - failed < SPEC_RETRY_SECONDS:
            return {}
        ksm = getattr(self.serverapp, "kernel_spec_manager", None)
        if ksm is None:
            return {}
        try:
            if inspect.iscoroutinefunction(ksm.get_kernel_spec):
                spec = await ksm.get_kernel_spec(name)
            else:
                # a sync lookup may shell out (nb_conda_kernels): never on the event loop
                loop = asyncio.get_running_loop()
                spec = await maybe_await(
                    await loop.run_in_executor(None, ksm.get_kernel_spec, name)
                )
        except Exception as exc:  # a spec removed after its kernel started, a gateway error
            log.debug("smstudio idle: no kernelspec %s: %s", name, exc)
            self._spec_failed[name] = clock.monotonic()  # asked again later, not cached forever
            return {}
        self._spec_failed.pop(name, None)
        self._spec_meta[name] = dict(getattr(spec, "metadata", None) or {})
        return self._spec_meta[name]

    async def kernels(self) -> list[KernelInfo]:
        km = self.serverapp.kernel_manager
        models = await maybe_await(km.list_kernels())
        out = []
        for model in models:
            kid = model.get("id", "")
            pid = None
            try:
                kernel = km.get_kernel(kid)
                prov = getattr(kernel, "provisioner", None)
                pid = getattr(prov, "pid", None) or getattr(
                    getattr(prov, "process", None), "pid", None
                )
            except Exception:  # gateway kernels have no local process
                pid = None
            name = model.get("name", "")
            out.append(
                KernelInfo(
                    id=kid,
                    name=name,
                    execution_state=model.get("execution_state") or "unknown",
                    last_activity=_when(model.get("last_activity")),
                    connections=int(model.get("connections") or 0),
                    pid=pid if isinstance(pid, int) else None,
                    model=dict(model),
                    spec_metadata=await self._spec_metadata(name),
                )
            )
        return out

    def terminals(self) -> list[TerminalInfo] | None:
        """Each terminal with its last *input* and its pty's foreground process group (cheap
        syscalls on the event loop: no process-table walk here)."""
        tm = self.serverapp.web_app.settings.get("terminal_manager")
        if tm is None:
            return None
        out = []
        names = set()
        for name, term in list(getattr(tm, "terminals", {}).items()):
            names.add(name)
            proc = getattr(term, "ptyproc", None)
            pid = getattr(proc, "pid", None)
            pid = pid if isinstance(pid, int) else None
            if name not in self._terminal_baseline:
                self._terminal_baseline[name] = getattr(term, "last_activity", None)
            watched = self.user_actions.watch_terminal(name, term)
            last = self._terminal_baseline[name] if watched else term.last_activity
            fd = getattr(proc, "fd", None)
            shell_pgid = None
            if pid:
                try:
                    shell_pgid = os.getpgid(pid)
                except OSError:
                    shell_pgid = None
            out.append(
                TerminalInfo(
                    name=name,
                    last_activity=_when(last),
                    last_input=self.user_actions.terminal_input(name),
                    pid=pid,
                    foreground_pgid=foreground_pgid(fd if isinstance(fd, int) else None, pid),
                    shell_pgid=shell_pgid,
                )
            )
        for gone in [n for n in self._terminal_baseline if n not in names]:
            del self._terminal_baseline[gone]
        self.user_actions.forget_terminals(names)
        return out


def _before_shutdown(app: Any) -> Any:
    def final_backup(timeout_seconds: float) -> None:
        backup = app.services.backup
        if backup is None:
            log.info("smstudio idle: no backup engine configured; no final backup")
            return
        backup.final_backup(timeout_seconds)

    return final_backup


def platform_settings_reader(services: Services) -> Callable[[], PlatformIdle | None] | None:
    """Reads the platform's idle shutdown of this space (``studio_settings``, the resolution
    guardrails and the audit use); None outside spaces or without AWS clients."""
    if services.aws is None or services.context.kind != "spaces":
        return None

    def read() -> PlatformIdle | None:
        return read_platform_idle(services.aws, services.context)

    return read


def activity_monitor_enabled(serverapp: Any) -> bool:
    """Whether SMD's ``jupyter_activity_monitor_extension`` (which serves ``GET /api/idle``) is
    enabled in this server and importable."""
    enabled = (getattr(serverapp, "jpserver_extensions", None) or {}).get(ACTIVITY_MONITOR)
    if not enabled:
        return False
    import importlib.util

    try:
        return importlib.util.find_spec(ACTIVITY_MONITOR) is not None
    except (ImportError, ValueError):
        return False


def build_monitor(app: Any) -> IdleMonitor:
    config = IdleShutdown(parent=app)
    problem = config.bounds_problem()
    if problem:
        log.error("smstudio idle: %s; using min_timeout_minutes as the only bound", problem)
        config.max_timeout_minutes = None
    if config.timeout_minutes > config.effective_max_timeout():
        log.warning(
            "smstudio idle: timeout_minutes %d is above the maximum %d (max_timeout_minutes, "
            "default 7 days): using %d",
            config.timeout_minutes,
            config.effective_max_timeout(),
            config.effective_max_timeout(),
        )
    services = app.services
    settings_path = config.settings_file or os.path.join(
        services.context.home, ".smstudio", "idle-settings.json"
    )
    return IdleMonitor(
        config,
        services.context,
        services.aws,
        JupyterProbe(app.serverapp),
        before_shutdown=_before_shutdown(app),
        settings_path=settings_path,
        platform_settings=platform_settings_reader(services),
        events=idle_decision_publisher(app.serverapp),
    )


def setup_idle(app: Any) -> None:
    """Build the monitor from config, expose it as ``app.services.idle``, start its loop.

    The engine decides whether GET /api/idle is served (``monitor.serves_api_idle``); the REST
    door registers the route from that answer (``handlers/idle.py::routes``)."""
    monitor = build_monitor(app)
    app.services.idle = monitor
    app.add_loop(monitor.run)
    if monitor.config.serve_api_idle:
        if activity_monitor_enabled(app.serverapp):
            # Both would claim the route and the first registered would answer. SMD's monitor
            # stays the platform's door; we feed it through the activity file instead.
            log.warning(
                "smstudio idle: not serving GET /api/idle (IdleShutdown.serve_api_idle): %s "
                "serves it; our activity reaches it through %s",
                ACTIVITY_MONITOR,
                monitor.config.last_active_file or "(no file: set last_active_file)",
            )
        else:
            monitor.serves_api_idle = True
    log.info(
        "smstudio idle: %s, timeout %d min%s, checking every %gs",
        "enabled" if monitor.enabled else "disabled",
        monitor.policy.timeout_minutes,
        " (dry-run)" if monitor.dry_run else "",
        monitor.config.check_interval_seconds,
    )
