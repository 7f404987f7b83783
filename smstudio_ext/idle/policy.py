"""The idle decision: given when an app was last active, what to do about it now.

Pure functions of time and configuration (no I/O), so every rule is tested without waiting:
timeout (user's choice within the admin's bounds, overridden per app type and instance type),
grace period after the app started, warning lead time, dry-run.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from ..apps import AppInfo
from ..errors import BadInput
from .config import TIMEOUT_CEILING_MINUTES
from .signals import iso

# What the policy decides about a target, the ``decision`` of GET smstudio/idle's apps and
# history (rest-api.yaml). "shutdown" is the only one that deletes; "no_action" is a due target
# with nothing to delete (local, or no app we may delete).
DecisionKind = Literal["active", "idle", "grace", "warning", "shutdown", "dry_run", "no_action"]
# decisions under which a warning stands (remembered until the target is active again)
WARNED: tuple[DecisionKind, ...] = ("warning", "shutdown", "dry_run")


@dataclass(frozen=True)
class Target:
    """Something we may shut down: this space's app, a Classic KernelGateway app, or nothing
    (local: ``app`` None). Names and instance type are the app's own (``AppInfo``); only where
    it starts on the monitor's timeline is the target's (see ``Timeline``)."""

    key: str
    app: AppInfo | None = None
    started: datetime | None = None
    deletable: bool = True

    @classmethod
    def of(cls, app: AppInfo, *, deletable: bool = True) -> Target:
        return cls(f"{app.app_type}/{app.app_name}", app, app.created, deletable)

    @property
    def app_type(self) -> str | None:
        return (self.app.app_type or None) if self.app is not None else None

    @property
    def app_name(self) -> str | None:
        return (self.app.app_name or None) if self.app is not None else None

    @property
    def instance_type(self) -> str | None:
        return self.app.instance_type if self.app is not None else None


@dataclass
class Decision:
    target: Target
    decision: DecisionKind
    reason: str
    idle_seconds: float
    timeout_minutes: int
    last_active: datetime
    warning_at: datetime | None = None
    shutdown_at: datetime | None = None

    def to_dict(self, wall_offset: timedelta | None = None) -> dict[str, Any]:
        """For the log and the panel; ``wall_offset`` turns timeline instants into wall time."""
        off = wall_offset or timedelta(0)

        def shown(when: datetime | None) -> str | None:
            return iso(when + off) if when is not None else None

        return {
            "app_type": self.target.app_type,
            "app_name": self.target.app_name,
            "instance_type": self.target.instance_type,
            "decision": self.decision,
            "reason": self.reason,
            "idle_seconds": round(self.idle_seconds, 1),
            "timeout_minutes": self.timeout_minutes,
            "last_active": shown(self.last_active),
            "warning_at": shown(self.warning_at),
            "shutdown_at": shown(self.shutdown_at),
        }


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


class Policy:
    def __init__(
        self,
        timeout_minutes: int,
        *,
        min_timeout_minutes: int = 1,
        max_timeout_minutes: int | None = None,
        app_type_timeouts: dict[str, int] | None = None,
        instance_type_timeouts: dict[str, int] | None = None,
        warning_minutes: int = 10,
        grace_minutes: int = 30,
        dry_run: bool = False,
        max_keepalive_minutes: int = 720,
    ) -> None:
        self.min_timeout = min_timeout_minutes
        # never unbounded: None means the hard ceiling (the platform's own maximum)
        self.max_timeout = min(
            TIMEOUT_CEILING_MINUTES,
            TIMEOUT_CEILING_MINUTES if max_timeout_minutes is None else max_timeout_minutes,
        )
        self.app_type_timeouts = dict(app_type_timeouts or {})
        self.instance_type_timeouts = dict(instance_type_timeouts or {})
        self.warning = timedelta(minutes=warning_minutes)
        self.grace = timedelta(minutes=grace_minutes)
        self.dry_run = dry_run
        self.max_keepalive_minutes = max_keepalive_minutes
        self.timeout_minutes = self.clamp(timeout_minutes)

    # --- timeouts and bounds ---------------------------------------------------------------
    def clamp(self, minutes: int) -> int:
        return min(max(minutes, self.min_timeout), self.max_timeout)

    def check_timeout(self, minutes: Any) -> int:
        """A user's timeout, refused (400 naming the bound) outside the admin's bounds."""
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise BadInput(f"timeout_minutes must be a whole number of minutes, got {minutes!r}")
        if minutes < self.min_timeout:
            raise BadInput(
                f"timeout_minutes {minutes} is below the admin minimum of {self.min_timeout} "
                "(IdleShutdown.min_timeout_minutes)",
                bound="min_timeout_minutes",
                limit=self.min_timeout,
            )
        if minutes > self.max_timeout:
            raise BadInput(
                f"timeout_minutes {minutes} is above the admin maximum of {self.max_timeout} "
                "(IdleShutdown.max_timeout_minutes)",
                bound="max_timeout_minutes",
                limit=self.max_timeout,
            )
        return minutes

    def check_keepalive(self, minutes: Any) -> float:
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)):
            raise BadInput(f"minutes must be a number, got {minutes!r}")
        if isinstance(minutes, float) and not math.isfinite(minutes):
            raise BadInput(f"minutes must be a finite number, got {minutes!r}")
        if minutes < 0:
            raise BadInput(f"minutes must be >= 0 (0 cancels the keep-alive), got {minutes}")
        if minutes > self.max_keepalive_minutes:
            raise BadInput(
                f"keep-alive of {minutes:g} minutes is above the admin maximum of "
                f"{self.max_keepalive_minutes} (IdleShutdown.max_keepalive_minutes)",
                bound="max_keepalive_minutes",
                limit=self.max_keepalive_minutes,
            )
        return float(minutes)

    def timeout_for(self, target: Target) -> int:
        """Instance-type override (most specific pattern) > app-type override > the base."""
        minutes = self.timeout_minutes
        if target.app_type and target.app_type in self.app_type_timeouts:
            minutes = self.app_type_timeouts[target.app_type]
        if target.instance_type:
            matches = [
                p
                for p in self.instance_type_timeouts
                if fnmatch.fnmatchcase(target.instance_type, p)
            ]
            if matches:
                minutes = self.instance_type_timeouts[max(matches, key=len)]
        return self.clamp(minutes)

    # --- the decision ------------------------------------------------------------------------
    def decide(
        self,
        target: Target,
        now: datetime,
        last_active: datetime,
        active_reason: str | None,
        *,
        warned_at: datetime | None = None,
        wall_offset: timedelta | None = None,
    ) -> Decision:
        """What to do about ``target`` now.

        ``warned_at``: when this target's warning was first shown (the monitor remembers it).
        A shutdown only ever happens once a warning has been standing for the full lead time:
        lowering the timeout, a late check (loop stall, suspended instance, clock jump) or the
        end of the grace period first warn, and shut down ``warning_minutes`` later.

        All instants are on one clock (the monitor's monotonic timeline); ``wall_offset`` only
        turns the times quoted in reasons into wall time.
        """
        off = wall_offset or timedelta(0)

        def shown(when: datetime) -> str | None:
            return iso(when + off)

        timeout_minutes = self.timeout_for(target)
        timeout = timedelta(minutes=timeout_minutes)
        idle_seconds = 0.0 if active_reason else max(0.0, (now - last_active).total_seconds())
        grace_until = target.started + self.grace if target.started else None
        base = now if active_reason else last_active
        shutdown_at = base + timeout
        if grace_until and grace_until > shutdown_at:
            shutdown_at = grace_until
        warning_at = shutdown_at - self.warning

        def made(decision: DecisionKind, reason: str) -> Decision:
            return Decision(
                target,
                decision,
                reason,
                idle_seconds,
                timeout_minutes,
                last_active,
                warning_at,
                shutdown_at,
            )

        if active_reason:
            return made("active", active_reason)
        idle_for = f"idle for {_minutes(idle_seconds)} (timeout {timeout_minutes} min)"
        if now >= shutdown_at and not target.deletable:
            return made("no_action", f"{idle_for}; nothing to shut down here")
        if now >= warning_at:
            # due (or overdue): the warning must have stood for the whole lead time first
            warned = min(warned_at, now) if warned_at is not None else now
            warning_at = warned
            shutdown_at = max(shutdown_at, warned + self.warning)
        if now >= shutdown_at:
            if not target.deletable:
                return made("no_action", f"{idle_for}; nothing to shut down here")
            if self.dry_run:
                return made("dry_run", f"{idle_for}; dry-run: would delete {target.app_name}")
            return made("shutdown", f"{idle_for}: deleting {target.app_type} {target.app_name}")
        if now >= warning_at:
            left = (shutdown_at - now).total_seconds()
            return made(
                "warning", f"{idle_for}; shutdown at {shown(shutdown_at)} (in {_minutes(left)})"
            )
        if grace_until and now < grace_until and now >= base + timeout:
            return made(
                "grace", f"{idle_for}; app started recently, grace until {shown(grace_until)}"
            )
        return made("idle", idle_for)
