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

``idle_mode`` is pure (the admin audit calls it with the settings it read); ``effective_idle_settings``
merges the layers of settings (pure); ``read_platform_idle_settings`` asks AWS for them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..aws import AwsClients, call
from ..context import StudioContext

MODES = ("own", "platform", "both", "none", "unknown")

# the app-settings key of each app type that has a platform idle shutdown (botocore's model:
# JupyterLabAppSettings / CodeEditorAppSettings carry AppLifecycleManagement; Space* carry only
# IdleSettings.IdleTimeoutInMinutes)
APP_SETTINGS_KEY = {"JupyterLab": "JupyterLabAppSettings", "CodeEditor": "CodeEditorAppSettings"}


def _idle_part(settings: dict[str, Any] | None, app_key: str) -> dict[str, Any]:
    app = (settings or {}).get(app_key) or {}
    idle = ((app.get("AppLifecycleManagement") or {}).get("IdleSettings")) or {}
    return idle if isinstance(idle, dict) else {}


def effective_idle_settings(
    domain: dict[str, Any],
    *,
    app_type: str = "JupyterLab",
    space: dict[str, Any] | None = None,
    owner_profile: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The ``IdleSettings`` in force for a space's app, most general layer first:

    the domain's ``DefaultUserSettings``; then, for a *shared* space, the domain's
    ``DefaultSpaceSettings`` ("SageMaker applies these settings only to shared spaces", botocore
    model), for a *private* space its owner's user profile ``UserSettings`` (issue 14, STUDIO.md);
    then the space's own ``SpaceSettings`` (only ``IdleTimeoutInMinutes``). A key set in a more
    specific layer wins; an empty value never overrides. None when the app type has no platform
    idle shutdown (Classic apps) or no layer says anything.

    The switch point for the shared "effective settings" function of ``insights/`` once it exists
    (issue 14 §2): keep the merge here, one function.
    """
    key = APP_SETTINGS_KEY.get(app_type or "")
    if key is None:
        return None
    layers = [domain.get("DefaultUserSettings")]
    if space is not None:
        sharing = (space.get("SpaceSharingSettings") or {}).get("SharingType")
        if sharing == "Private" and owner_profile is not None:
            layers.append(owner_profile.get("UserSettings"))
        elif sharing != "Private":
            layers.append(domain.get("DefaultSpaceSettings"))
        layers.append(space.get("SpaceSettings"))
    elif owner_profile is not None:
        layers.append(owner_profile.get("UserSettings"))
    merged: dict[str, Any] = {}
    for layer in layers:
        for name, value in _idle_part(layer, key).items():
            if value not in (None, ""):
                merged[name] = value
    return merged or None


def read_platform_idle_settings(
    clients: AwsClients, context: StudioContext
) -> dict[str, Any] | None:
    """The effective ``IdleSettings`` of this space's app, from DescribeDomain, DescribeSpace and
    (private spaces) the owner's DescribeUserProfile. Raises ``SmStudioError`` (denied, down).
    None outside Studio spaces."""
    if context.kind != "spaces" or not context.domain_id or not context.space_name:
        return None
    sm = clients.client("sagemaker")
    domain = call(sm, "DescribeDomain", resource=context.domain_id, DomainId=context.domain_id)
    space = call(
        sm,
        "DescribeSpace",
        resource=context.space_name,
        DomainId=context.domain_id,
        SpaceName=context.space_name,
    )
    owner = None
    sharing = (space.get("SpaceSharingSettings") or {}).get("SharingType")
    owner_name = (space.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
    if sharing == "Private" and owner_name:
        owner = call(
            sm,
            "DescribeUserProfile",
            resource=owner_name,
            DomainId=context.domain_id,
            UserProfileName=owner_name,
        )
    app_type = context.app_type or (space.get("SpaceSettings") or {}).get("AppType") or "JupyterLab"
    return effective_idle_settings(domain, app_type=app_type, space=space, owner_profile=owner)


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
    platform_settings: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def idle_mode(
    own: dict[str, Any] | None,
    platform: dict[str, Any] | None,
    *,
    platform_error: str | None = None,
    no_platform: str | None = None,
) -> IdleMode:
    """Which mode is in force, and why (pure).

    ``own``: smstudio's idle summary (``{"enabled", "dry_run", "timeout_minutes"}``, what
    ``IdleMonitor.summary()`` returns and what the audit reads from our lifecycle config), or
    None when our extension does not run there. ``platform``: the effective ``IdleSettings``
    (``effective_idle_settings``), None when none are set. ``platform_error``: why the platform's
    settings are unknown (then ``platform`` is ignored). ``no_platform``: why this app has no
    platform idle shutdown at all (e.g. "Studio Classic has no platform idle shutdown").
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
    if no_platform:
        platform_deletes = False
        platform = None
        reasons.append(no_platform)
    elif platform_error:
        platform_deletes = None
        platform = None
        reasons.append(f"the platform's IdleSettings are unknown ({platform_error})")
    elif platform and platform.get("LifecycleManagement") == "ENABLED":
        platform_deletes = True
        platform_timeout = _minutes(platform.get("IdleTimeoutInMinutes"))
        after = (
            f"after {platform_timeout} idle minutes" if platform_timeout else "(timeout not set)"
        )
        reasons.append(f"the platform's IdleSettings delete this app {after}")
    else:
        platform_deletes = False
        state = (platform or {}).get("LifecycleManagement") or "not set"
        reasons.append(f"the platform's IdleSettings are off (LifecycleManagement {state})")

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
        platform_settings=platform,
    )


def _minutes(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value)
