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
from typing import Any

from .. import clock
from .config import IdleShutdown
from .monitor import IdleMonitor, maybe_await
from .signals import KernelInfo, TerminalInfo, as_utc, parse_timestamp

log = logging.getLogger("smstudio_ext")


SPEC_RETRY_SECONDS = 300.0  # a failed kernelspec lookup is asked again after this long


def _when(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):  # jupyter_server's are aware UTC; a naive one is UTC
        return as_utc(value)
    return parse_timestamp(str(value))


class JupyterProbe:
    """Kernels and terminals of a running ``ServerApp``, read in-process."""

    def __init__(self, serverapp: Any) -> None:
        self.serverapp = serverapp
        self.server_pid = os.getpid()
        self._spec_meta: dict[str, dict[str, Any]] = {}
        self._spec_failed: dict[str, datetime] = {}  # name -> when the lookup failed

    async def _spec_metadata(self, name: str) -> dict[str, Any]:
        if name in self._spec_meta:
            return self._spec_meta[name]
        failed = self._spec_failed.get(name)
        if failed is not None and (clock.utcnow() - failed).total_seconds() < SPEC_RETRY_SECONDS:
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
            self._spec_failed[name] = clock.utcnow()  # asked again later, not cached forever
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
        tm = self.serverapp.web_app.settings.get("terminal_manager")
        if tm is None:
            return None
        out = []
        for name, term in list(getattr(tm, "terminals", {}).items()):
            proc = getattr(term, "ptyproc", None)
            pid = getattr(proc, "pid", None)
            out.append(
                TerminalInfo(
                    name=name,
                    last_activity=_when(getattr(term, "last_activity", None)),
                    pid=pid if isinstance(pid, int) else None,
                )
            )
        return out


def _before_shutdown(app: Any) -> Any:
    def final_backup(timeout_seconds: float) -> None:
        backup = getattr(app.services, "backup", None)
        fn = getattr(backup, "final_backup", None)
        if fn is None:
            log.info("smstudio idle: no backup engine configured; no final backup")
            return
        fn(timeout_seconds)

    return final_backup


def build_monitor(app: Any) -> IdleMonitor:
    config = IdleShutdown(parent=app)
    problem = config.bounds_problem()
    if problem:
        log.error("smstudio idle: %s; using min_timeout_minutes as the only bound", problem)
        config.max_timeout_minutes = None
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
    )


def setup_idle(app: Any) -> None:
    """Build the monitor from config, expose it as ``app.services.idle``, start its loop."""
    monitor = build_monitor(app)
    app.services.idle = monitor
    app.add_loop(monitor.run)
    if monitor.config.serve_api_idle:
        from ..handlers.idle import API_IDLE_ROUTE

        app.handlers.append(API_IDLE_ROUTE)
    log.info(
        "smstudio idle: %s, timeout %d min%s, checking every %gs",
        "enabled" if monitor.enabled else "disabled",
        monitor.policy.timeout_minutes,
        " (dry-run)" if monitor.dry_run else "",
        monitor.config.check_interval_seconds,
    )
