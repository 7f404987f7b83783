"""The idle monitor loop: sample the signals, decide per target, act. The service object.

Its rooms: the user's settings (``usersettings.py``), what may be shut down and which
observation belongs to which target (``targets.py``), the policy (``policy.py``), the decision
log (stdout and the Jupyter events) and the status document (``report.py``).

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
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol

from .. import clock
from ..aws import AwsClients
from ..context import StudioContext
from ..studio_settings import PlatformIdle
from .actions import ActionResult, AppDeleter
from .config import IdleShutdown
from .mode import IdleMode, PlatformSettings, idle_mode
from .platform import PlatformFile
from .policy import WARNED, Decision, Policy, Target
from .processes import ProcessSampler
from .report import DecisionLog, status_document
from .signals import (
    CpuSignal,
    EditingSignal,
    GpuSignal,
    KeepAliveSignal,
    KernelInfo,
    KernelSignal,
    Signal,
    SignalReport,
    Snapshot,
    TerminalInfo,
    TerminalSignal,
    UserAction,
    as_utc,
    iso,
)
from .targets import Targets, attribute
from .timeline import Timeline
from .usersettings import UserSettings

log = logging.getLogger("smstudio_ext")

# GET /api/idle answers like SMD's handler: microseconds, lowercase z
API_IDLE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fz"


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
        self.timeline = Timeline()
        self._state_lock = threading.Lock()
        self.user = UserSettings(config, settings_path, self._state_lock)
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
        self.platform_settings = PlatformSettings(
            platform_settings, context.kind, config.platform_settings_minutes
        )
        self.sampler = ProcessSampler()
        self.deleter = deleter
        if self.deleter is None and clients is not None:
            self.deleter = AppDeleter(
                clients,
                max_attempts=config.delete_max_attempts,
                backoff_seconds=config.delete_backoff_seconds,
                denied_retry_seconds=config.denied_retry_minutes * 60,
            )
        self.targets = Targets(context, clients, delete_jupyter_server=config.delete_jupyter_server)
        # each decision line, also as a Jupyter event (events.py)
        self.log = DecisionLog(config.history_size, out, events)
        self.started = self.timeline.now()
        self.keepalive_until: datetime | None = None
        self.last: CheckResult | None = None
        self.last_error: dict[str, Any] | None = None
        self._last_active: dict[str, datetime] = {}
        self.global_last_active = self.started  # any activity anywhere (/api/idle, idle_seconds)
        # the last time our signals kept the app (activity, a keep-alive, or a signal in doubt):
        # what the platform is told, through the file and GET /api/idle
        self._platform_last_active = self.started
        self._api_served: datetime | None = None
        self._warned_at: dict[str, datetime] = {}  # when each target's warning first stood
        self._deleted: dict[str, datetime] = {}
        self._lock: asyncio.Lock | None = None
        self._signal_errors: dict[str, str] = {}
        # A thread of its own: a slow DeleteApp backoff or final backup never occupies the
        # default pool that request handlers use, and vice versa.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smstudio-idle")
        # whether this server answers GET /api/idle (decided by ``setup_idle``)
        self.serves_api_idle = False

    # --- the user's settings (usersettings.py) ---------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.user.enabled

    @property
    def dry_run(self) -> bool:
        return self.user.dry_run

    @property
    def policy(self) -> Policy:
        return self.user.policy

    @property
    def settings_ignored(self) -> str | None:
        return self.user.ignored

    @property
    def history(self) -> Any:
        return self.log.history

    def update_settings(self, body: dict[str, Any]) -> dict[str, Any]:
        """PUT smstudio/idle/settings: validate everything first, then apply (all or nothing)."""
        self.user.update(body)
        return self.settings()

    def settings(self) -> dict[str, Any]:
        return self.user.to_dict()

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
                    await loop.run_in_executor(self._executor, self._final_backup)
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
        targets, targets_error = self.targets.find()
        with self._state_lock:
            decisions = self._decide(snap, reports, targets)
        self.platform_settings.refresh()
        self._feed_platform(snap, reports, decisions)
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

    def mode(self) -> IdleMode:
        """Who shuts this app down when idle: smstudio, the platform, both, or nobody."""
        platform, error = self.platform_settings.current()
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

    def _decide(
        self, snap: Snapshot, reports: list[SignalReport], targets: list[Target]
    ) -> list[Decision]:
        now = snap.now
        # an app's CreationTime is wall time from AWS: on the timeline like any outside stamp
        targets = [
            replace(t, started=self.timeline.from_wall("app:" + t.key, as_utc(t.started)))
            for t in targets
        ]
        per = attribute(self.context.kind, reports, targets)
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
            self.global_last_active = max(self.global_last_active, min(max(stamps), now))
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
            d = self.policy.decide(
                replace(t, started=started),
                now,
                last,
                reason,
                warned_at=self._warned_at.get(t.key),
                wall_offset=snap.wall_offset,
            )
            if d.decision in WARNED and d.warning_at is not None:
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
        """The backup engine's final backup (``before_shutdown``), called directly in the
        monitor's worker thread: the engine bounds it (``IdleShutdown.backup_timeout_seconds``,
        cancelled without a snapshot when over) and never raises into the shutdown path; a
        failure here never blocks the shutdown either."""
        assert self.before_shutdown is not None
        try:
            self.before_shutdown(self.config.backup_timeout_seconds)
        except Exception as exc:
            log.warning("smstudio idle: final backup failed (%s); shutting down anyway", exc)
        else:
            log.info("smstudio idle: final backup done")

    # --- reporting (report.py) ---------------------------------------------------------------
    def _record(
        self,
        now: datetime,
        decisions: list[Decision],
        reports: list[SignalReport],
        actions: dict[str, ActionResult],
    ) -> None:
        self.log.record(
            now,
            decisions,
            reports,
            actions,
            offset=self.timeline.offset(),
            dry_run=self.dry_run,
            context_kind=self.context.kind,
        )

    def deleted(self, key: str) -> bool:
        """Whether this monitor deleted (or found gone) the target ``key``."""
        return key in self._deleted

    def platform_last_active(self) -> datetime:
        """The one answer to "when was this app last active" that the platform gets, through
        the activity file and GET /api/idle alike: the newest activity any signal saw, or the
        last check at which our signals kept the app (a keep-alive, a signal in doubt). Wall
        time, never going backwards."""
        with self._state_lock:
            last = max(self.global_last_active, self._platform_last_active)
            wall = self.timeline.wall(last) or clock.utcnow()
            if self._api_served is not None and self._api_served > wall:
                wall = self._api_served
            self._api_served = wall
        return wall

    def last_active_timestamp(self) -> str:
        """For GET /api/idle: the platform's answer format (lowercase z)."""
        return self.platform_last_active().astimezone(timezone.utc).strftime(API_IDLE_FORMAT)

    def status(self) -> dict[str, Any]:
        """The JSON of GET smstudio/idle (``report.status_document``)."""
        return status_document(self)


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
