"""The idle monitor: sample the signals, decide per app, act, report. The service object.

Each check: kernels and terminals are read in-process on the event loop (cheap dict reads);
everything that blocks (the psutil pass, GPU query, the platform file, ListApps, DeleteApp,
the final backup) runs in a worker thread, so the loop never stalls on it. One structured JSON
line per decision goes to stdout (Studio ships stdout to CloudWatch); decision changes and
actions are kept in a short history for the panel.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol

from .. import clock
from ..apps import AppInfo, describe_app, iter_apps
from ..aws import AwsClients
from ..context import StudioContext
from ..errors import BadInput, SmStudioError
from .actions import ActionResult, AppDeleter
from .classic import kernel_app, terminal_app
from .config import IdleShutdown
from .policy import Decision, Policy, Target
from .processes import ProcessSampler
from .signals import (
    CpuSignal,
    GpuSignal,
    KeepAliveSignal,
    KernelInfo,
    KernelSignal,
    Observation,
    Signal,
    SignalReport,
    Snapshot,
    TerminalInfo,
    TerminalSignal,
    as_utc,
    iso,
)

log = logging.getLogger("smstudio_ext")

API_IDLE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fz"  # the platform's format: microseconds, lowercase z


class ServerProbe(Protocol):
    """What the monitor needs from the Jupyter server (in-process, never HTTP to itself)."""

    server_pid: int

    async def kernels(self) -> list[KernelInfo]: ...

    def terminals(self) -> list[TerminalInfo] | None: ...


@dataclass
class CheckResult:
    at: datetime
    reports: list[SignalReport]
    decisions: list[Decision]
    actions: dict[str, ActionResult]
    targets_error: dict[str, Any] | None = None


class IdleMonitor:
    """``app.services.idle``: the engine behind GET smstudio/idle, keep-alive and settings."""

    def __init__(
        self,
        config: IdleShutdown,
        context: StudioContext,
        clients: AwsClients | None,
        probe: ServerProbe,
        *,
        before_shutdown: Callable[[float], None] | None = None,
        settings_path: str | None = None,
        out: Any = None,
        deleter: AppDeleter | None = None,
    ) -> None:
        self.config = config
        self.context = context
        self.clients = clients
        self.probe = probe
        self.before_shutdown = before_shutdown
        self.settings_path = settings_path
        self._out = out
        self.enabled = config.enabled
        self.dry_run = config.dry_run
        self._user_timeout: int | None = None
        self._load_settings()
        self.policy = self._build_policy()
        uids = list(config.user_process_uids)
        count_root = config.count_root_processes
        if count_root is None:  # Studio: sudo is the user's (the server's ancestors excluded)
            count_root = context.kind in ("spaces", "classic")
        if count_root and uids and 0 not in uids:
            uids.append(0)
        self.signals: list[Signal] = [
            KernelSignal(config.count_connections, config.starting_timeout_minutes),
            CpuSignal(
                config.cpu_threshold_percent,
                config.watch_user_processes,
                uids,
                list(config.ignore_processes),
            ),
            TerminalSignal(config.cpu_threshold_percent),
            GpuSignal(config.gpu_threshold_percent, list(config.gpu_command)),
            KeepAliveSignal(config.last_active_file),
        ]
        self.sampler = ProcessSampler()
        self.deleter = deleter
        if self.deleter is None and clients is not None:
            self.deleter = AppDeleter(
                clients,
                max_attempts=config.delete_max_attempts,
                backoff_seconds=config.delete_backoff_seconds,
                denied_retry_seconds=config.denied_retry_minutes * 60,
            )
        self.started = clock.utcnow()
        self.keepalive_until: datetime | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=max(config.history_size, 1))
        self.last: CheckResult | None = None
        self.last_error: dict[str, Any] | None = None
        self.check_cost_seconds = 0.0
        self._last_active: dict[str, datetime] = {}
        self._global_last_active = self.started
        self._previous_decision: dict[str, str] = {}
        self._warned_at: dict[str, datetime] = {}  # when each target's warning first stood
        self._deleted: dict[str, datetime] = {}
        self._self_app: AppInfo | None = None
        self._lock: asyncio.Lock | None = None
        self.backing_up = False
        self._signal_errors: dict[str, str] = {}
        # A thread of its own: a slow DeleteApp backoff or final backup never occupies the
        # default pool that request handlers use, and vice versa.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smstudio-idle")
        self._state_lock = threading.Lock()

    # --- configuration -----------------------------------------------------------------------
    def _build_policy(self) -> Policy:
        c = self.config
        return Policy(
            self._user_timeout or c.timeout_minutes,
            min_timeout_minutes=c.min_timeout_minutes,
            max_timeout_minutes=c.max_timeout_minutes,
            app_type_timeouts=c.app_type_timeouts,
            instance_type_timeouts=c.instance_type_timeouts,
            warning_minutes=c.warning_minutes,
            grace_minutes=c.grace_minutes,
            dry_run=self.dry_run,
            max_keepalive_minutes=c.max_keepalive_minutes,
        )

    def _load_settings(self) -> None:
        if not self.settings_path or not os.path.exists(self.settings_path):
            return
        try:
            with open(self.settings_path, encoding="utf-8") as fh:
                data = json.load(fh)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            log.warning("smstudio idle: ignoring settings file %s: %s", self.settings_path, exc)
            return
        if isinstance(data.get("timeout_minutes"), int):
            self._user_timeout = data["timeout_minutes"]  # clamped to the bounds by Policy
        if self.config.allow_user_disable:
            if isinstance(data.get("enabled"), bool):
                self.enabled = data["enabled"]
            if isinstance(data.get("dry_run"), bool):
                self.dry_run = data["dry_run"]

    def _save_settings(self) -> None:
        if not self.settings_path:
            return
        data = {"timeout_minutes": self._user_timeout}
        if self.config.allow_user_disable:
            data.update(enabled=self.enabled, dry_run=self.dry_run)
        os.makedirs(os.path.dirname(self.settings_path) or ".", exist_ok=True)
        tmp = self.settings_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.settings_path)

    def update_settings(self, body: dict[str, Any]) -> dict[str, Any]:
        """PUT smstudio/idle/settings: validate everything first, then apply (all or nothing)."""
        allowed = {"timeout_minutes", "enabled", "dry_run"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise BadInput(f"unknown setting(s): {', '.join(unknown)} (allowed: {sorted(allowed)})")
        timeout = self._user_timeout
        if "timeout_minutes" in body:
            timeout = self.policy.check_timeout(body["timeout_minutes"])
        changes: dict[str, bool] = {}
        for key in ("enabled", "dry_run"):
            if key not in body:
                continue
            value = body[key]
            if not isinstance(value, bool):
                raise BadInput(f"{key} must be true or false, got {value!r}")
            weakens = (key == "enabled" and not value) or (key == "dry_run" and value)
            if weakens and value != getattr(self, key) and not self.config.allow_user_disable:
                raise BadInput(
                    f"the admin does not allow turning idle shutdown off or into dry-run "
                    f"(IdleShutdown.allow_user_disable); refused {key}={json.dumps(value)}"
                )
            changes[key] = value
        with self._state_lock:
            self._user_timeout = timeout
            for key, value in changes.items():
                setattr(self, key, value)
            self.policy = self._build_policy()
            self._save_settings()
        log.info("smstudio idle: settings changed: %s", json.dumps(body, sort_keys=True))
        return self.settings()

    def settings(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "dry_run": self.dry_run,
            "timeout_minutes": self.policy.timeout_minutes,
            "bounds": {"min": self.policy.min_timeout, "max": self.policy.max_timeout},
        }

    def keepalive(self, minutes: Any) -> dict[str, Any]:
        """Postpone any shutdown by ``minutes`` from now (0 cancels), within the admin's bound."""
        minutes = self.policy.check_keepalive(minutes)
        with self._state_lock:
            now = clock.utcnow()
            self.keepalive_until = now + timedelta(minutes=minutes) if minutes else None
        log.info("smstudio idle: keep-alive %s", iso(self.keepalive_until) or "cancelled")
        return {"keepalive_until": iso(self.keepalive_until)}

    def summary(self) -> dict[str, Any]:
        """For the insights guardrail "idle shutdown active"."""
        return {
            "enabled": bool(self.enabled),
            "timeout_minutes": int(self.policy.timeout_minutes),
            "dry_run": bool(self.dry_run),
            "max_timeout_minutes": self.policy.max_timeout,
        }

    # --- the loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        """The background loop (``app.add_loop``); a failing check never ends it."""
        failures = 0
        while True:
            # First check one interval after start: the server start is the idle baseline
            # anyway, and a server that only lives for seconds costs no AWS call.
            await asyncio.sleep(self.config.check_interval_seconds)
            if self.enabled:
                try:
                    await self.check()
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    if failures == 1:  # once per run of failures, not every interval
                        log.exception("smstudio idle: check failed")
                    self.last_error = {
                        "error": "internal_error",
                        "detail": f"idle check failed: {exc}",
                        "action": None,
                    }

    async def check(self, act: bool = True) -> CheckResult:
        """One check. ``act=False`` observes only (no log line, no history, no DeleteApp).

        Acting is decide -> final backup -> re-observe and re-decide -> DeleteApp, so a user
        who comes back during the (minutes long) final backup keeps the app.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            loop = asyncio.get_running_loop()
            snap = await self._snapshot()
            result = await loop.run_in_executor(self._executor, self._observe, snap)
            if act and self.enabled:
                due = self._due(result)
                if due and self.context.kind == "spaces" and self.before_shutdown is not None:
                    self.backing_up = True
                    try:
                        await loop.run_in_executor(self._executor, self._final_backup)
                    finally:
                        self.backing_up = False
                    snap = await self._snapshot()
                    result = await loop.run_in_executor(self._executor, self._observe, snap)
                    due = self._due(result)
                result.actions = await loop.run_in_executor(self._executor, self._act, due)
                self._record(result.at, result.decisions, result.reports, result.actions)
            self._set_error(result, act)
            self.last = result
            return result

    async def refresh(self) -> None:
        """An observing check for the REST doors, skipped while a check (e.g. the final
        backup) is in progress: a keep-alive must never wait behind a backup."""
        if self._lock is not None and self._lock.locked():
            return
        await self.check(act=False)

    async def _snapshot(self) -> Snapshot:
        kernels = await self.probe.kernels()
        terminals = self.probe.terminals()
        for k in kernels:  # naive datetimes from a probe are UTC (never a TypeError later)
            k.last_activity = as_utc(k.last_activity)
        for t in terminals or []:
            t.last_activity = as_utc(t.last_activity)
        return Snapshot(
            now=clock.utcnow(),
            kernels=kernels,
            terminals=terminals or [],
            terminals_available=terminals is not None,
            server_pid=self.probe.server_pid,
            keepalive_until=self.keepalive_until,
        )

    def _due(self, result: CheckResult) -> list[Decision]:
        return [
            d
            for d in result.decisions
            if d.decision == "shutdown" and d.target.key not in self._deleted
        ]

    # --- worker thread -----------------------------------------------------------------------
    def _observe(self, snap: Snapshot) -> CheckResult:
        import time

        started = time.perf_counter()
        try:
            snap.procs = self.sampler.sample()
        except Exception as exc:  # psutil.AccessDenied on a hardened host, hidepid, etc.
            snap.procs = None
            snap.procs_error = f"cannot read the process table: {exc}"
        reports = [s.evaluate(snap) for s in self.signals]
        for r in reports:
            if r.error and self._signal_errors.get(r.name) != r.error:
                log.warning(
                    "smstudio idle: %s signal unknown (%s): keeping apps alive", r.name, r.error
                )
            if r.error:
                self._signal_errors[r.name] = r.error
            else:
                self._signal_errors.pop(r.name, None)
        targets, targets_error = self._targets()
        with self._state_lock:
            decisions = self._decide(snap, reports, targets)
        self.check_cost_seconds = time.perf_counter() - started
        return CheckResult(snap.now, reports, decisions, {}, targets_error)

    def _act(self, due: list[Decision]) -> dict[str, ActionResult]:
        actions: dict[str, ActionResult] = {}
        for d in due:
            actions[d.target.key] = self._shut_down(d)
        return actions

    def _set_error(self, result: CheckResult, act: bool) -> None:
        failed = [a for a in result.actions.values() if a.outcome == "failed"]
        if result.targets_error:
            self.last_error = result.targets_error
        elif self.deleter is not None and self.deleter.denied:
            self.last_error = self.deleter.denied
        elif failed:
            self.last_error = {"action": "sagemaker:DeleteApp", **(failed[0].error or {})}
        elif act:
            self.last_error = None

    def _targets(self) -> tuple[list[Target], dict[str, Any] | None]:
        ctx = self.context
        if ctx.kind == "spaces":
            return [self._self_target()], None
        if ctx.kind == "classic" and self.clients is not None and ctx.domain_id:
            if not ctx.user_profile_name:
                # ListApps without a profile lists the whole domain: other users' apps. Never.
                return [], {
                    "error": "no_user_profile",
                    "detail": "UserProfileName is missing from the resource metadata: cannot "
                    "tell this user's apps from others', deleting nothing",
                    "action": None,
                }
            try:
                apps = list(
                    iter_apps(
                        self.clients,
                        ctx.domain_id,
                        user_profile_name=ctx.user_profile_name,
                        statuses=("InService",),
                    )
                )
            except SmStudioError as exc:
                log.warning("smstudio idle: cannot list this profile's apps: %s", exc.message)
                return [], exc.to_dict()
            targets = []
            for app in apps:
                if app.user_profile_name != ctx.user_profile_name:
                    continue  # only apps of this user profile (strictly)
                if app.space_name:
                    continue
                if app.app_type == "KernelGateway" or (
                    app.app_type == "JupyterServer" and self.config.delete_jupyter_server
                ):
                    targets.append(
                        Target(
                            key=f"{app.app_type}/{app.app_name}",
                            app_type=app.app_type,
                            app_name=app.app_name,
                            instance_type=app.instance_type,
                            started=app.created,
                            app=app,
                        )
                    )
            return targets, None
        return [Target(key="local", deletable=False)], None

    def _self_target(self) -> Target:
        ctx = self.context
        deletable = bool(ctx.domain_id and ctx.app_type and ctx.app_name and self.clients)
        if self._self_app is None and deletable and self.clients is not None:
            try:
                self._self_app = describe_app(
                    self.clients,
                    ctx.domain_id or "",
                    ctx.app_type or "",
                    ctx.app_name or "",
                    space_name=ctx.space_name,
                    user_profile_name=None if ctx.space_name else ctx.user_profile_name,
                )
            except SmStudioError as exc:
                log.info(
                    "smstudio idle: DescribeApp of this app failed (%s); will retry", exc.message
                )
        app = self._self_app or AppInfo(
            domain_id=ctx.domain_id or "",
            app_type=ctx.app_type or "",
            app_name=ctx.app_name or "",
            status="InService",
            space_name=ctx.space_name,
            user_profile_name=None if ctx.space_name else ctx.user_profile_name,
        )
        return Target(
            key=f"{app.app_type}/{app.app_name}",
            app_type=ctx.app_type,
            app_name=ctx.app_name,
            instance_type=app.instance_type,
            started=app.created,
            app=app,
            deletable=deletable,
        )

    def _attribute(
        self, reports: list[SignalReport], targets: list[Target]
    ) -> dict[str, list[Observation]]:
        """Which observations belong to which target (Classic: kernel/terminal -> app)."""
        per: dict[str, list[Observation]] = {t.key: [] for t in targets}
        if self.context.kind != "classic":
            for r in reports:
                for o in r.observations:
                    for key in per:
                        per[key].append(o)
            return per
        apps = [t.app for t in targets if t.app is not None]
        kg_keys = [t.key for t in targets if t.app_type == "KernelGateway"]
        js_keys = [t.key for t in targets if t.app_type == "JupyterServer"]
        for r in reports:
            for o in r.observations:
                if r.scope == "all":
                    keys = list(per)
                elif isinstance(o.ref, KernelInfo):
                    m = kernel_app(o.ref, apps)
                    keys = [f"KernelGateway/{a}" for a in m.apps]
                    if not m.mapped:
                        o.reason += f" [not mapped to an app: {m.how}]"
                        # an active kernel we cannot place keeps every app alive
                        keys = kg_keys if o.active else js_keys
                elif isinstance(o.ref, TerminalInfo):
                    m = terminal_app(o.ref.name, apps)
                    keys = [f"KernelGateway/{a}" for a in m.apps] if m.mapped else js_keys
                else:  # processes on the JupyterServer instance
                    keys = js_keys
                for key in keys:
                    if key in per:
                        per[key].append(o)
        return per

    def _decide(
        self, snap: Snapshot, reports: list[SignalReport], targets: list[Target]
    ) -> list[Decision]:
        now = snap.now
        per = self._attribute(reports, targets)
        keepalive_end = None
        if self.keepalive_until and self.keepalive_until <= now:
            keepalive_end = self.keepalive_until
        # the global "last active" (for /api/idle and idle_seconds): any activity anywhere
        stamps = [o.last_activity for r in reports for o in r.observations if o.last_activity]
        if any(r.active for r in reports):
            stamps.append(now)
        if keepalive_end:
            stamps.append(keepalive_end)
        if stamps:
            self._global_last_active = max(self._global_last_active, min(max(stamps), now))
        decisions = []
        live = set()
        unknown = [r for r in reports if r.error]
        for t in targets:
            live.add(t.key)
            obs = per.get(t.key, [])
            active = [o for o in obs if o.active]
            baseline = max(self.started, t.started or self.started)
            last = max(
                [self._last_active.get(t.key, baseline), baseline]
                + [min(o.last_activity, now) for o in obs if o.last_activity]
                + ([now] if active else [])
                + ([keepalive_end] if keepalive_end else [])
            )
            self._last_active[t.key] = last
            reason = f"{active[0].subject}: {active[0].reason}" if active else None
            # Classic: the process table, terminals' CPU and the GPU are this (JupyterServer)
            # instance's; a KernelGateway app runs elsewhere and does not depend on them
            local = self.context.kind != "classic" or t.app_type != "KernelGateway"
            if reason is None and unknown and local:
                # when in doubt, keep the app alive (and say why); last_active does not move
                reason = "; ".join(f"{r.name} unknown ({r.error})" for r in unknown)
                reason += ": kept alive"
            started = max(self.started, t.started) if t.started else self.started
            target = Target(
                t.key, t.app_type, t.app_name, t.instance_type, started, t.app, t.deletable
            )
            d = self.policy.decide(target, now, last, reason, warned_at=self._warned_at.get(t.key))
            if d.decision in ("warning", "shutdown", "dry_run") and d.warning_at is not None:
                self._warned_at.setdefault(t.key, d.warning_at)
            else:  # active again, or no longer due (timeout raised): a new warning next time
                self._warned_at.pop(t.key, None)
            decisions.append(d)
        for key in list(self._last_active):  # forget apps that are gone
            if key not in live:
                self._last_active.pop(key, None)
                self._deleted.pop(key, None)
                self._warned_at.pop(key, None)
        return decisions

    def _shut_down(self, d: Decision) -> ActionResult:
        app = d.target.app
        if app is None or self.deleter is None:
            return ActionResult("failed", "no AWS client or app to delete")
        result = self.deleter.delete(app)
        if result.outcome in ("deleted", "gone"):
            self._deleted[d.target.key] = clock.utcnow()
        return result

    def _final_backup(self) -> None:
        """The backup engine's final backup, bounded in time; a failure never blocks shutdown."""
        timeout = self.config.backup_timeout_seconds
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                assert self.before_shutdown is not None
                self.before_shutdown(timeout)
                box["ok"] = True
            except Exception as exc:
                box["error"] = exc

        worker = threading.Thread(target=run, name="smstudio-final-backup", daemon=True)
        worker.start()
        worker.join(timeout + 5)
        if worker.is_alive():
            log.warning(
                "smstudio idle: final backup still running after %.0fs; shutting down", timeout
            )
        elif "error" in box:
            log.warning(
                "smstudio idle: final backup failed (%s); shutting down anyway", box["error"]
            )
        else:
            log.info("smstudio idle: final backup done")

    # --- reporting ---------------------------------------------------------------------------
    def _emit(self, line: dict[str, Any]) -> None:
        out = self._out if self._out is not None else sys.stdout
        try:
            out.write(json.dumps(line, sort_keys=True) + "\n")
            out.flush()
        except (OSError, ValueError):  # a closed stdout must not break the monitor
            pass

    def _record(
        self,
        now: datetime,
        decisions: list[Decision],
        reports: list[SignalReport],
        actions: dict[str, ActionResult],
    ) -> None:
        active = [r.name for r in reports if r.active]
        for d in decisions:
            action = actions.get(d.target.key)
            entry = {
                "at": iso(now),
                **{k: v for k, v in d.to_dict().items() if k not in ("warning_at", "last_active")},
                "dry_run": self.dry_run,
                "action": action.to_dict() if action else None,
            }
            self._emit(
                {
                    "event": "smstudio.idle.decision",
                    "active_signals": active,
                    "context": self.context.kind,
                    **entry,
                }
            )
            previous = self._previous_decision.get(d.target.key)
            if action is not None or previous != d.decision:
                self.history.appendleft(entry)
            self._previous_decision[d.target.key] = d.decision

    def last_active_timestamp(self) -> str:
        """For GET /api/idle: never goes backwards, platform format (lowercase z)."""
        return self._global_last_active.astimezone(timezone.utc).strftime(API_IDLE_FORMAT)

    def status(self) -> dict[str, Any]:
        """The JSON of GET smstudio/idle (documented in rest-api.yaml)."""
        res = self.last
        now = clock.utcnow()
        decisions = res.decisions if res else []
        reports = res.reports if res else []
        shutting = any(d.target.key in self._deleted for d in decisions) or any(
            a.outcome in ("deleted", "gone") for a in (res.actions.values() if res else [])
        )
        warning = [d for d in decisions if d.decision == "warning"]
        pending = [d for d in decisions if d.decision != "active" and d.target.deletable]
        if not self.enabled:
            state = "disabled"
        elif self.last_error:
            state = "error"
        elif shutting:
            state = "shutting_down"
        elif self.keepalive_until is not None and self.keepalive_until > now:
            state = "active"  # a keep-alive wins over a warning of the last check
        elif warning:
            state = "warning"
        elif (
            not res
            or any(r.active for r in reports)
            or any(d.decision == "active" for d in decisions)  # e.g. a signal unknown
        ):
            state = "active"
        else:
            state = "idle"
        shutdown_at = min((d.shutdown_at for d in pending if d.shutdown_at), default=None)
        warning_at = min((d.warning_at for d in pending if d.warning_at), default=None)
        keepalive = (
            self.keepalive_until if self.keepalive_until and self.keepalive_until > now else None
        )
        idle_seconds = 0.0
        if res and not any(r.active for r in reports):
            idle_seconds = max(0.0, (res.at - self._global_last_active).total_seconds())
        return {
            **self.settings(),
            "context": self.context.kind,
            "state": state,
            "idle_seconds": round(idle_seconds, 1),
            "last_active": iso(self._global_last_active),
            "checked_at": iso(res.at) if res else None,
            "check_interval_seconds": self.config.check_interval_seconds,
            "warning_minutes": self.config.warning_minutes,
            "grace_minutes": self.config.grace_minutes,
            "max_keepalive_minutes": self.config.max_keepalive_minutes,
            "shutdown_at": iso(shutdown_at) if state != "active" else None,
            "warning_at": iso(warning_at) if state != "active" else None,
            "keepalive_until": iso(keepalive),
            "signals": [r.to_dict() for r in reports],
            "apps": [
                {
                    "app_type": d.target.app_type,
                    "app_name": d.target.app_name,
                    "instance_type": d.target.instance_type,
                    "decision": d.decision,
                    "reason": d.reason,
                    "timeout_minutes": d.timeout_minutes,
                    "idle_seconds": round(d.idle_seconds, 1),
                    "shutdown_at": iso(d.shutdown_at) if d.decision != "active" else None,
                }
                for d in decisions
            ],
            "history": list(self.history),
            "last_error": self.last_error,
        }


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
