"""The idle monitor: sample the signals, decide per app, act, report. The service object.

Each check: kernels and terminals are read in-process on the event loop (cheap dict reads);
everything that blocks (the psutil pass, GPU query, the platform file, ListApps, DeleteApp,
the final backup) runs in a worker thread, so the loop never stalls on it. One structured JSON
line per decision goes to stdout (Studio ships stdout to CloudWatch) and, through the ``events``
callable the server gives it (``smstudio_ext/events.py``), to the server's Jupyter event bus;
decision changes and actions are kept in a short history for the panel.
"""

from __future__ import annotations

import asyncio
import functools
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
from ..fsutil import atomic_write
from ..studio_settings import IDLE_NOT_APPLICABLE, PlatformIdle
from .actions import ActionResult, AppDeleter
from .classic import kernel_app, terminal_app
from .config import IdleShutdown
from .mode import IdleMode, idle_mode
from .platform import PlatformFile, read_small
from .policy import Decision, Policy, Target
from .processes import ProcessSampler
from .signals import (
    CpuSignal,
    EditingSignal,
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
    UserAction,
    as_utc,
    iso,
)
from .timeline import Timeline

log = logging.getLogger("smstudio_ext")

# GET /api/idle answers like SMD's handler: microseconds, lowercase z
API_IDLE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fz"
SETTINGS_MAX_BYTES = 64 * 1024  # a settings file is a few dozen bytes: never read more


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
        platform_settings: Callable[[], PlatformIdle | None] | None = None,
        events: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self.context = context
        self.clients = clients
        self.probe = probe
        self.before_shutdown = before_shutdown
        self.settings_path = settings_path
        self._out = out
        self._events = events  # each decision line, also as a Jupyter event (events.py)
        self.timeline = Timeline()
        self.enabled = config.enabled
        self.dry_run = config.dry_run
        self._user_timeout: int | None = None
        self.policy = self._build_policy()  # the admin's bounds, to check the saved settings
        self.settings_ignored: str | None = None
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
            TerminalSignal(config.cpu_threshold_percent, list(config.terminal_monitor_commands)),
            GpuSignal(config.gpu_threshold_percent, list(config.gpu_command)),
            KeepAliveSignal(config.last_active_file),
            EditingSignal(),
        ]
        feed = config.feed_platform
        if feed is None:  # the platform's idle shutdown exists in Studio spaces only
            feed = context.kind == "spaces"
        self.platform_file = PlatformFile(
            config.last_active_file, feed=feed, min_interval_seconds=config.platform_feed_seconds
        )
        # the platform's effective IdleSettings: read in the worker thread, now and then
        self._platform_reader = platform_settings
        self._platform_settings: PlatformIdle | None = None
        self._platform_error: str | None = None
        self._platform_read_at: float | None = None
        self.sampler = ProcessSampler()
        self.deleter = deleter
        if self.deleter is None and clients is not None:
            self.deleter = AppDeleter(
                clients,
                max_attempts=config.delete_max_attempts,
                backoff_seconds=config.delete_backoff_seconds,
                denied_retry_seconds=config.denied_retry_minutes * 60,
            )
        self.started = self.timeline.now()
        self.keepalive_until: datetime | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=max(config.history_size, 1))
        self.last: CheckResult | None = None
        self.last_error: dict[str, Any] | None = None
        self.check_cost_seconds = 0.0
        self._last_active: dict[str, datetime] = {}
        self._global_last_active = self.started
        # the last time our signals kept the app (activity, a keep-alive, or a signal in doubt):
        # what the platform is told, through the file and GET /api/idle
        self._platform_last_active = self.started
        self._api_served: datetime | None = None
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
        """The user's saved settings, each value checked like a PUT. A bad file or value is
        ignored with the reason (``settings_ignored`` in the status), never an error: a value
        saved before the admin tightened the bounds, or by hand, must not break the idle API."""
        path = self.settings_path
        if not path:
            return
        problems = []
        try:
            text = read_small(path, SETTINGS_MAX_BYTES + 1)
            if text is None:
                return
            if len(text) > SETTINGS_MAX_BYTES:
                raise ValueError(f"larger than {SETTINGS_MAX_BYTES} bytes")
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            self._ignore_settings(f"ignored {path}: {exc}")
            return
        if data.get("timeout_minutes") is not None:
            try:
                self._user_timeout = self.policy.check_timeout(data["timeout_minutes"])
            except BadInput as exc:
                problems.append(f"timeout_minutes: {exc.message}")
        for key in ("enabled", "dry_run"):
            if key not in data:
                continue
            if not isinstance(data[key], bool):
                problems.append(f"{key}: not true or false ({data[key]!r:.40})")
            elif self.config.allow_user_disable:
                setattr(self, key, data[key])
            elif data[key] != getattr(self, key):
                problems.append(f"{key}: the admin does not allow users to change it")
        if problems:
            self._ignore_settings(f"ignored in {path}: " + "; ".join(problems))

    def _ignore_settings(self, why: str) -> None:
        self.settings_ignored = why
        log.warning("smstudio idle: %s", why)

    def _save_settings(self) -> None:
        if not self.settings_path:
            return
        data = {"timeout_minutes": self._user_timeout}
        if self.config.allow_user_disable:
            data.update(enabled=self.enabled, dry_run=self.dry_run)
        os.makedirs(os.path.dirname(self.settings_path) or ".", exist_ok=True)
        atomic_write(self.settings_path, json.dumps(data), mode=0o600)

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
            self.settings_ignored = None  # the user's new choice replaces the ignored file
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
            now = self.timeline.now()
            self.keepalive_until = now + timedelta(minutes=minutes) if minutes else None
        shown = iso(self.timeline.wall(self.keepalive_until))
        log.info("smstudio idle: keep-alive %s", shown or "cancelled")
        return {"keepalive_until": shown}

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
            # Turned off, smstudio deletes nothing, but still tells Studio's own idle shutdown
            # (the "platform" mode) about the work only our signals see: observe-only checks.
            if self.enabled or self.platform_file.feeding:
                try:
                    await self.check(act=self.enabled)
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
                actions, latest = await loop.run_in_executor(self._executor, self._act, due, loop)
                if latest is not None:  # decided again before a retry: report that decision
                    result = latest
                result.actions = actions
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
        """What the server knows now, every time on the monitor's timeline (monotonic): a
        kernel's or terminal's wall-clock ``last_activity`` is placed there once, so a later
        wall-clock step does not age it."""
        tl = self.timeline
        kernels = await self.probe.kernels()
        terminals = self.probe.terminals()
        for k in kernels:  # naive datetimes from a probe are UTC (never a TypeError later)
            k.last_activity = tl.from_wall("kernel:" + k.id, as_utc(k.last_activity))
        for t in terminals or []:
            seen = tl.from_wall("terminal:" + t.name, as_utc(t.last_activity))
            typed = tl.at_monotonic(t.last_input)
            t.last_activity = max((x for x in (seen, typed) if x is not None), default=None)
        tl.forget({"kernel:" + k.id for k in kernels}, "kernel:")
        tl.forget({"terminal:" + t.name for t in terminals or []}, "terminal:")
        recorded = getattr(self.probe, "user_actions", None)
        actions = [
            UserAction(a.action, a.path, tl.at_monotonic(a.mono) or tl.now())
            for a in (recorded.actions() if recorded is not None else [])
        ]
        return Snapshot(
            now=tl.now(),
            kernels=kernels,
            terminals=terminals or [],
            terminals_available=terminals is not None,
            server_pid=self.probe.server_pid,
            keepalive_until=self.keepalive_until,
            user_actions=actions,
            wall_offset=tl.offset(),
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
        snap.platform_activity = self.timeline.from_wall("platform-file", self.platform_file.read())
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
        self._read_platform_settings()
        self._feed_platform(snap, reports, decisions)
        self.check_cost_seconds = time.perf_counter() - started
        return CheckResult(snap.now, reports, decisions, {}, targets_error)

    def _feed_platform(
        self, snap: Snapshot, reports: list[SignalReport], decisions: list[Decision]
    ) -> None:
        """While our signals keep the app (activity, a keep-alive, a signal in doubt), tell
        the platform: its own idle shutdown must not stop what we keep."""
        kept = any(d.decision == "active" for d in decisions) or (
            not decisions and any(r.active or r.error for r in reports)
        )
        if not kept:
            return
        with self._state_lock:
            self._platform_last_active = max(self._platform_last_active, snap.now)
        self.platform_file.feed(snap.now + snap.wall_offset)

    def _read_platform_settings(self) -> None:
        """The platform's effective IdleSettings, read now and then (for the mode)."""
        reader = self._platform_reader
        if reader is None:
            return
        last = self._platform_read_at
        if (
            last is not None
            and clock.monotonic() - last < self.config.platform_settings_minutes * 60
        ):
            return
        settings, error = None, None
        try:
            settings = reader()
        except SmStudioError as exc:
            error = exc.message
            log.info("smstudio idle: cannot read the platform's IdleSettings: %s", exc.message)
        except Exception as exc:  # the mode is information: never break a check for it
            error = str(exc) or type(exc).__name__
            log.warning("smstudio idle: reading the platform's IdleSettings failed: %s", exc)
        # published together, once read (the mode never shows half an answer)
        with self._state_lock:
            self._platform_settings, self._platform_error = settings, error
            self._platform_read_at = clock.monotonic()

    def mode(self) -> IdleMode:
        """Who shuts this app down when idle: smstudio, the platform, both, or nobody."""
        kind = self.context.kind
        with self._state_lock:
            platform, error = self._platform_settings, self._platform_error
            read = self._platform_read_at is not None
        if kind == "classic":
            platform = PlatformIdle(
                IDLE_NOT_APPLICABLE, "Studio Classic has no platform idle shutdown", None, None
            )
        elif kind != "spaces":
            platform = PlatformIdle(
                IDLE_NOT_APPLICABLE, "not in Studio: no platform idle shutdown here", None, None
            )
        elif self._platform_reader is None:
            platform, error = None, "no AWS access to read them"
        elif not read:
            platform, error = None, "not read yet"
        return idle_mode(self.summary(), platform, platform_error=error)

    def _act(
        self, due: list[Decision], loop: asyncio.AbstractEventLoop
    ) -> tuple[dict[str, ActionResult], CheckResult | None]:
        """DeleteApp for each due decision. Before every *retry* (after a throttled or failed
        attempt and its backoff) the monitor observes and decides again: a kernel that became
        busy during the backoff keeps the app. Returns the actions and the newest check."""
        actions: dict[str, ActionResult] = {}
        latest: list[CheckResult] = []

        def still_due(key: str) -> str | None:
            future = asyncio.run_coroutine_threadsafe(self._snapshot(), loop)
            result = self._observe(future.result(timeout=120))
            latest.append(result)
            d = next((d for d in result.decisions if d.target.key == key), None)
            if d is None:
                return "no longer in scope"
            if d.decision != "shutdown":
                return f"{d.decision}: {d.reason}"
            return None

        for d in due:
            actions[d.target.key] = self._shut_down(d, functools.partial(still_due, d.target.key))
        return actions, (latest[-1] if latest else None)

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
        # an app's CreationTime is wall time from AWS: on the timeline like any outside stamp
        targets = [
            Target(
                t.key,
                t.app_type,
                t.app_name,
                t.instance_type,
                self.timeline.from_wall("app:" + t.key, as_utc(t.started)),
                t.app,
                t.deletable,
            )
            for t in targets
        ]
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
            d = self.policy.decide(
                target,
                now,
                last,
                reason,
                warned_at=self._warned_at.get(t.key),
                wall_offset=snap.wall_offset,
            )
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
        self.timeline.forget({"app:" + key for key in live}, "app:")
        return decisions

    def _shut_down(self, d: Decision, still_due: Callable[[], str | None]) -> ActionResult:
        app = d.target.app
        if app is None or self.deleter is None:
            return ActionResult("failed", "no AWS client or app to delete")
        result = self.deleter.delete(app, still_due=still_due)
        if result.outcome in ("deleted", "gone"):
            self._deleted[d.target.key] = self.timeline.now()
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
        if self._events is not None:
            self._events(line)

    def _record(
        self,
        now: datetime,
        decisions: list[Decision],
        reports: list[SignalReport],
        actions: dict[str, ActionResult],
    ) -> None:
        active = [r.name for r in reports if r.active]
        offset = self.timeline.offset()
        for d in decisions:
            action = actions.get(d.target.key)
            entry = {
                "at": iso(now + offset),
                **{
                    k: v
                    for k, v in d.to_dict(offset).items()
                    if k not in ("warning_at", "last_active")
                },
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

    def platform_last_active(self) -> datetime:
        """The one answer to "when was this app last active" that the platform gets, through
        the activity file and GET /api/idle alike: the newest activity any signal saw, or the
        last check at which our signals kept the app (a keep-alive, a signal in doubt). Wall
        time, never going backwards."""
        with self._state_lock:
            last = max(self._global_last_active, self._platform_last_active)
            wall = self.timeline.wall(last) or clock.utcnow()
            if self._api_served is not None and self._api_served > wall:
                wall = self._api_served
            self._api_served = wall
        return wall

    def last_active_timestamp(self) -> str:
        """For GET /api/idle: the platform's answer format (lowercase z)."""
        return self.platform_last_active().astimezone(timezone.utc).strftime(API_IDLE_FORMAT)

    def status(self) -> dict[str, Any]:
        """The JSON of GET smstudio/idle (documented in rest-api.yaml)."""
        res = self.last
        now = self.timeline.now()
        offset = self.timeline.offset()

        def shown(when: datetime | None) -> str | None:
            return iso(when + offset) if when is not None else None

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
            "last_active": shown(self._global_last_active),
            "checked_at": shown(res.at) if res else None,
            "check_interval_seconds": self.config.check_interval_seconds,
            "warning_minutes": self.config.warning_minutes,
            "grace_minutes": self.config.grace_minutes,
            "max_keepalive_minutes": self.config.max_keepalive_minutes,
            "shutdown_at": shown(shutdown_at) if state != "active" else None,
            "warning_at": shown(warning_at) if state != "active" else None,
            "keepalive_until": shown(keepalive),
            "signals": [r.to_dict(offset) for r in reports],
            "apps": [
                {
                    "app_type": d.target.app_type,
                    "app_name": d.target.app_name,
                    "instance_type": d.target.instance_type,
                    "decision": d.decision,
                    "reason": d.reason,
                    "timeout_minutes": d.timeout_minutes,
                    "idle_seconds": round(d.idle_seconds, 1),
                    "shutdown_at": shown(d.shutdown_at) if d.decision != "active" else None,
                }
                for d in decisions
            ],
            "history": list(self.history),
            "last_error": self.last_error,
            "mode": self.mode().to_dict(),
            "platform_file": self.platform_file.status(),
            "settings_ignored": self.settings_ignored,
        }


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
