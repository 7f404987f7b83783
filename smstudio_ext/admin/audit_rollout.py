"""Where our lifecycle config sits for an owner's apps (built-in, default, listed, none), the
version last seen running, and what of Studio Classic the owner still uses: the audit's rollout
and migration columns."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Protocol

from ..apps import AppInfo
from ..context import CLASSIC_APP_TYPES
from ..errors import SmStudioError
from ..insights.facts import Facts
from ..rollout import read_rollout
from .domain import attached_lccs

# the app settings that carry a built-in lifecycle config (always runs)
BUILT_IN_SETTINGS = ("JupyterLabAppSettings", "CodeEditorAppSettings")


class Judge(Protocol):
    """The audit's once-per-audit verdict on a lifecycle config (``AuditContext.lcc``)."""

    def lcc(self, arn: str) -> Any: ...


def lcc_arns(settings: dict[str, Any] | None) -> list[str]:
    """Every lifecycle config a settings block names: listed, default and built-in."""
    found = attached_lccs(settings)
    for key in BUILT_IN_SETTINGS:
        built_in = ((settings or {}).get(key) or {}).get("BuiltInLifecycleConfigArn")
        if built_in and built_in != "None":
            found.append(built_in)
    return list(dict.fromkeys(found))


def _last(layers: list[dict[str, Any]], key: str, get: Callable[[dict[str, Any]], Any]) -> Any:
    """The value of the last layer that sets it ("None" clears)."""
    found = None
    for layer in layers:
        value = get(layer.get(key) or {})
        if value:
            found = value
    return None if found == "None" else found


def _default_of(app: dict[str, Any]) -> Any:
    return (app.get("DefaultResourceSpec") or {}).get("LifecycleConfigArn")


def _built_in_of(app: dict[str, Any]) -> Any:
    return app.get("BuiltInLifecycleConfigArn")


def _layers(facts: Facts) -> list[dict[str, Any]]:
    """The settings an owner's apps inherit, lowest first: the layers of the one effective-settings
    resolution (``studio_settings``: a private space takes its defaults from its owner's profile,
    a shared space from DefaultSpaceSettings)."""
    return [layer.settings for layer in facts.effective_settings().layers]


def _rollout_app_type(kind: str, desc: dict[str, Any], live: list[AppInfo]) -> str:
    if kind == "space":
        return str((desc.get("SpaceSettings") or {}).get("AppType") or "JupyterLab")
    classic_settings = (desc.get("UserSettings") or {}).get("JupyterServerAppSettings") or {}
    if any(a.app_type in CLASSIC_APP_TYPES for a in live) or lcc_arns(
        {"JupyterServerAppSettings": classic_settings}
    ):
        return "JupyterServer"
    return "JupyterLab"


def _config_view(audit: Judge, arn: str | None) -> dict[str, Any] | None:
    if not arn:
        return None
    info = audit.lcc(arn)
    return {"name": info.name, "arn": arn, "ours": info.ours, "version": info.version}


def _placement(audit: Judge, layers: list[dict[str, Any]], app_type: str) -> dict[str, Any]:
    """Where our config sits for ``app_type``: ``built-in`` (always runs, resolved from the
    domain or profile at launch), ``default`` (pre-selected; a space keeps the one it was
    created with), ``listed`` (runs only when picked) or ``none``."""
    key = app_type + "AppSettings"
    built_in = _last(layers, key, _built_in_of) if key in BUILT_IN_SETTINGS else None
    default = _last(layers, key, _default_of)
    listed = list(
        dict.fromkeys(
            a for layer in layers for a in (layer.get(key) or {}).get("LifecycleConfigArns") or []
        )
    )
    built_in_v = _config_view(audit, built_in)
    default_v = _config_view(audit, default)
    listed_v = [v for v in (_config_view(audit, a) for a in listed) if v]
    notes: list[str] = []
    runs: dict[str, Any] | None = None
    if built_in_v and built_in_v["ours"]:
        mode, runs = "built-in", built_in_v
        if default_v and default_v["ours"] and default_v["arn"] != built_in:
            notes.append(
                f"also pre-selects {default_v['name']} (version {default_v['version'] or '?'}) "
                "as its default: it runs after the built-in and may undo it"
            )
    elif default_v and default_v["ours"]:
        mode, runs = "default", default_v
        inherited = _last(layers[:-1], key, _default_of)
        if inherited and inherited != default and audit.lcc(inherited).ours:
            notes.append(
                f"keeps {default_v['name']} as its default; the current default is "
                f"{_name_of(inherited)}: a new default does not reach an existing space "
                "(use smstudio lcc register --built-in)"
            )
    elif any(v["ours"] for v in listed_v):
        mode = "listed"
        notes.append("listed only: it runs only when the user picks it")
    else:
        mode = "none"
    return {
        "app_type": app_type,
        "mode": mode,
        "runs": runs,
        "built_in": built_in_v,
        "default": default_v,
        "listed": listed_v,
        "notes": notes,
    }


def _name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def rollout(
    audit: Judge, facts: Facts, kind: str, desc: dict[str, Any], live: list[AppInfo]
) -> dict[str, Any]:
    """Our config's placement and the version last seen running (the tags the extension writes
    on its space, or its profile in Classic: :mod:`smstudio_ext.rollout`)."""
    app_type = _rollout_app_type(kind, desc, live)
    out = _placement(audit, _layers(facts), app_type)
    configured = (out["runs"] or {}).get("version")
    out["configured_version"] = configured
    out.update(seen_version=None, seen_at=None, seen_error=None)
    try:
        seen = read_rollout(facts.tags(facts.owner_arn()))
        out["seen_version"], out["seen_at"] = seen["version"], seen["seen"]
    except SmStudioError as exc:
        out["seen_error"] = exc.message
    if out["seen_error"]:
        out["state"] = "unknown"
    elif not out["seen_version"]:
        out["state"] = "not seen"
    elif configured and out["seen_version"] == configured:
        out["state"] = "current"
    else:
        out["state"] = "differs"
    return out


def migration(kind: str, desc: dict[str, Any], live: list[AppInfo]) -> list[str]:
    """Studio Classic use of one owner: legacy, closed to new onboarding (AWS docs)."""
    items = []
    classic = Counter(a.app_type for a in live if a.app_type in CLASSIC_APP_TYPES)
    if classic:
        what = ", ".join(f"{t} x{n}" for t, n in sorted(classic.items()))
        items.append(
            f"{sum(classic.values())} Studio Classic app(s) running ({what}): Studio Classic "
            "is legacy (closed to new onboarding); move this work to JupyterLab spaces"
        )
    if kind == "user-profile":
        items.extend(classic_landing((desc.get("UserSettings") or {}), "this profile"))
    elif (desc.get("SpaceSettings") or {}).get("AppType") in CLASSIC_APP_TYPES:
        items.append("a Studio Classic space: recreate it as a JupyterLab space")
    return items


def classic_landing(settings: dict[str, Any], whose: str) -> list[str]:
    if settings.get("DefaultLandingUri") == "app:JupyterServer:":
        return [
            f"Studio Classic is {whose}'s default experience (DefaultLandingUri "
            "app:JupyterServer:): set studio:: to land in Studio"
        ]
    return []
