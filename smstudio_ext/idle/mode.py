"""Who shuts this app down when it is idle: smstudio, the platform, both, or nobody.

Studio (spaces) has its own idle shutdown, ``AppLifecycleManagement.IdleSettings`` (domain, user
profile, space). It decides from SMD's activity monitor (``GET /api/idle``), which sees sessions,
terminals and ``/tmp/.sagemaker-last-active-timestamp`` but not a silent busy cell, a ``nohup`` job
or a GPU job. Our monitor writes that file while our signals say the app is active (``platform.py``),
so whichever shuts the app down never kills running work. The modes:

* ``own``: only smstudio deletes idle apps (IdleShutdown enabled, not dry-run; IdleSettings off);
* ``platform``: only the platform does; smstudio feeds it (our signals keep the file current);
* ``both``: both are on; the shorter timeout wins (a warning says which);
* ``none``: neither: nothing stops this app when it is idle;
* ``unknown``: the platform's settings could not be read and smstudio does not delete.

``idle_mode`` is pure: the admin audit can call it with our lifecycle config's idle summary and
the ``PlatformIdle`` it resolved. The platform's side always comes from ``studio_settings`` (the
one resolution of effective settings that guardrails and the audit use too);
``read_platform_idle`` asks AWS for it.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .. import clock
from ..aws import AwsClients
from ..context import StudioContext
from ..errors import SmStudioError
from ..studio_settings import (
    IDLE_DISABLED,
    IDLE_ENABLED,
    IDLE_NOT_APPLICABLE,
    IDLE_UNKNOWN,
    PlatformIdle,
    load,
)

log = logging.getLogger("smstudio_ext")

MODES = ("own", "platform", "both", "none", "unknown")


def read_platform_idle(clients: AwsClients, context: StudioContext) -> PlatformIdle | None:
    """The platform's idle shutdown for this space's app, as ``studio_settings`` resolves it
    for everyone (guardrails, audit, idle): DescribeDomain, DescribeSpace and, for a private
    space, its owner's DescribeUserProfile; an old botocore that cannot read the settings gives
    ``unknown``. Raises ``SmStudioError`` (denied, down). None outside Studio spaces."""
    if context.kind != "spaces" or not context.domain_id or not context.space_name:
        return None
    settings = load(
        clients, context.domain_id, "space", context.space_name, app_type=context.app_type
    )
    return settings.platform_idle()


class PlatformSettings:
    """The platform's effective IdleSettings of this app as the monitor last read them:
    ``refresh`` (in the monitor's worker thread) reads them at most every ``every_minutes``;
    ``current`` is what ``idle_mode`` gets, never half an answer."""

    def __init__(
        self,
        reader: Callable[[], PlatformIdle | None] | None,
        kind: str,
        every_minutes: float,
    ) -> None:
        self._reader = reader
        self._kind = kind
        self._every = every_minutes * 60
        self._settings: PlatformIdle | None = None
        self._error: str | None = None
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        reader = self._reader
        if reader is None:
            return
        last = self._read_at
        if last is not None and clock.monotonic() - last < self._every:
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
        # published together, once read
        with self._lock:
            self._settings, self._error = settings, error
            self._read_at = clock.monotonic()

    def current(self) -> tuple[PlatformIdle | None, str | None]:
        """The settings (None: unknown) and why they are unknown."""
        with self._lock:
            platform, error = self._settings, self._error
            read = self._read_at is not None
        if self._kind == "classic":
            platform = PlatformIdle(
                IDLE_NOT_APPLICABLE, "Studio Classic has no platform idle shutdown", None, None
            )
        elif self._kind != "spaces":
            platform = PlatformIdle(
                IDLE_NOT_APPLICABLE, "not in Studio: no platform idle shutdown here", None, None
            )
        elif self._reader is None:
            platform, error = None, "no AWS access to read them"
        elif not read:
            platform, error = None, "not read yet"
        return platform, error


@dataclass
class IdleMode:
    mode: str
    own_deletes: bool
    platform_deletes: bool | None  # None = unknown
    own_timeout_minutes: int | None
    platform_timeout_minutes: int | None
    effective_timeout_minutes: int | None  # the shorter timeout of whoever deletes
    reasons: list[str] = field(default_factory=list)
    warning: str | None = None
    platform: dict[str, Any] | None = None  # PlatformIdle.to_dict(): state, reason, IdleSettings

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def idle_mode(
    own: dict[str, Any] | None,
    platform: PlatformIdle | None,
    *,
    platform_error: str | None = None,
) -> IdleMode:
    """Which mode is in force, and why (pure).

    ``own``: smstudio's idle summary (``{"enabled", "dry_run", "timeout_minutes"}``, what
    ``IdleMonitor.summary()`` returns and what the audit reads from our lifecycle config), or
    None when our extension does not run there. ``platform``: the platform's idle shutdown as
    ``studio_settings`` resolves it (``EffectiveSettings.platform_idle()``), None when it could
    not be read (``platform_error`` says why).
    """
    reasons: list[str] = []
    own_timeout = None
    if own is None:
        own_deletes = False
        reasons.append("smstudio idle shutdown does not run here")
    elif not own.get("enabled"):
        own_deletes = False
        reasons.append("smstudio idle shutdown is off")
    elif own.get("dry_run"):
        own_deletes = False
        reasons.append("smstudio idle shutdown is in dry-run (reports, deletes nothing)")
    else:
        own_deletes = True
        own_timeout = _minutes(own.get("timeout_minutes"))
        reasons.append(f"smstudio deletes this app after {own_timeout} idle minutes")

    platform_deletes: bool | None
    platform_timeout = None
    if platform is None:
        platform_deletes = None
        reasons.append(f"the platform's IdleSettings are unknown ({platform_error or 'not read'})")
    elif platform.state == IDLE_ENABLED:
        platform_deletes = True
        platform_timeout = _minutes(platform.timeout_minutes)
        after = (
            f"after {platform_timeout} idle minutes"
            if platform_timeout
            else "(IdleTimeoutInMinutes not set: the console's default is 10080)"
        )
        reasons.append(f"the platform's IdleSettings delete this app {after} ({platform.reason})")
    elif platform.state == IDLE_UNKNOWN:
        platform_deletes = None
        reasons.append(f"the platform's IdleSettings are unknown: {platform.reason}")
    elif platform.state == IDLE_NOT_APPLICABLE:
        platform_deletes = False
        reasons.append(platform.reason)
    elif platform.state == IDLE_DISABLED:
        platform_deletes = False
        reasons.append(f"the platform's idle shutdown is disabled ({platform.reason})")
    else:
        platform_deletes = False
        reasons.append(f"the platform's idle shutdown is off: {platform.reason}")

    warning = None
    if own_deletes and platform_deletes:
        mode = "both"
        known = [t for t in (own_timeout, platform_timeout) if t]
        effective = min(known) if known else None
        if own_timeout and platform_timeout and own_timeout != platform_timeout:
            who = "the platform's" if platform_timeout < own_timeout else "smstudio's"
            warning = (
                f"both smstudio ({own_timeout} min) and the platform ({platform_timeout} min) "
                f"shut this app down when idle: the shorter timeout wins ({who}, {effective} min)"
            )
        else:
            warning = (
                "both smstudio and the platform shut this app down when idle: the shorter "
                "timeout wins"
            )
    elif own_deletes:
        mode, effective = "own", own_timeout
    elif platform_deletes:
        mode, effective = "platform", platform_timeout
    elif platform_deletes is None:
        mode, effective = "unknown", None
    else:
        mode, effective = "none", None
        warning = "nothing shuts this app down when it is idle"
    return IdleMode(
        mode=mode,
        own_deletes=own_deletes,
        platform_deletes=platform_deletes,
        own_timeout_minutes=own_timeout,
        platform_timeout_minutes=platform_timeout,
        effective_timeout_minutes=effective,
        reasons=reasons,
        warning=warning,
        platform=platform.to_dict() if platform is not None else None,
    )


def _minutes(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value)
