"""What the idle monitor tells: one JSON line per decision on stdout (Studio ships it to
CloudWatch) and as a Jupyter event, the short history of decision changes and actions, and the status document of
GET smstudio/idle (rest-api.yaml)."""

from __future__ import annotations

import json
import sys
from collections import deque
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from .actions import ActionResult
from .policy import Decision
from .signals import SignalReport, iso

if TYPE_CHECKING:
    from .monitor import IdleMonitor


class DecisionLog:
    """The decision lines and the history the panel shows (changes and actions only)."""

    def __init__(
        self,
        history_size: int,
        out: Any = None,
        events: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._out = out
        self.events = events  # each line, also as a Jupyter event (smstudio_ext/events.py)
        self.history: deque[dict[str, Any]] = deque(maxlen=max(history_size, 1))
        self._previous: dict[str, str] = {}  # each target's last decision

    def emit(self, line: dict[str, Any]) -> None:
        out = self._out if self._out is not None else sys.stdout
        try:
            out.write(json.dumps(line, sort_keys=True) + "\n")
            out.flush()
        except (OSError, ValueError):  # a closed stdout must not break the monitor
            pass
        if self.events is not None:
            self.events(line)

    def record(
        self,
        now: datetime,
        decisions: list[Decision],
        reports: list[SignalReport],
        actions: dict[str, ActionResult],
        *,
        offset: timedelta,
        dry_run: bool,
        context_kind: str,
    ) -> None:
        """Log every decision; keep the changed ones and those with an action."""
        active = [r.name for r in reports if r.active]
        for d in decisions:
            action = actions.get(d.target.key)
            entry = {
                "at": iso(now + offset),
                **{
                    k: v
                    for k, v in d.to_dict(offset).items()
                    if k not in ("warning_at", "last_active")
                },
                "dry_run": dry_run,
                "action": action.to_dict() if action else None,
            }
            self.emit(
                {
                    "event": "smstudio.idle.decision",
                    "active_signals": active,
                    "context": context_kind,
                    **entry,
                }
            )
            previous = self._previous.get(d.target.key)
            if action is not None or previous != d.decision:
                self.history.appendleft(entry)
            self._previous[d.target.key] = d.decision


def status_document(monitor: IdleMonitor) -> dict[str, Any]:
    """The JSON of GET smstudio/idle (documented in rest-api.yaml)."""
    res = monitor.last
    now = monitor.timeline.now()
    offset = monitor.timeline.offset()
    config = monitor.config

    def shown(when: datetime | None) -> str | None:
        return iso(when + offset) if when is not None else None

    decisions = res.decisions if res else []
    reports = res.reports if res else []
    shutting = any(monitor.deleted(d.target.key) for d in decisions) or any(
        a.outcome in ("deleted", "gone") for a in (res.actions.values() if res else [])
    )
    warning = [d for d in decisions if d.decision == "warning"]
    pending = [d for d in decisions if d.decision != "active" and d.target.deletable]
    keepalive_until = monitor.keepalive_until
    if not monitor.enabled:
        state = "disabled"
    elif monitor.last_error:
        state = "error"
    elif shutting:
        state = "shutting_down"
    elif keepalive_until is not None and keepalive_until > now:
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
    keepalive = keepalive_until if keepalive_until and keepalive_until > now else None
    last_active = monitor.global_last_active
    idle_seconds = 0.0
    if res and not any(r.active for r in reports):
        idle_seconds = max(0.0, (res.at - last_active).total_seconds())
    return {
        **monitor.settings(),
        "context": monitor.context.kind,
        "state": state,
        "idle_seconds": round(idle_seconds, 1),
        "last_active": shown(last_active),
        "checked_at": shown(res.at) if res else None,
        "check_interval_seconds": config.check_interval_seconds,
        "warning_minutes": config.warning_minutes,
        "grace_minutes": config.grace_minutes,
        "max_keepalive_minutes": config.max_keepalive_minutes,
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
        "history": list(monitor.history),
        "last_error": monitor.last_error,
        "mode": monitor.mode().to_dict(),
        "platform_file": monitor.platform_file.status(),
        "settings_ignored": monitor.settings_ignored,
    }
