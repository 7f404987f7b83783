"""The effective Studio settings of a user profile or space: the one place that resolves them.

Studio stores settings at several levels and the service combines them when it launches an app.
The guardrails (``insights/guardrails.py``), the admin audit (``admin/audit.py``) and idle
shutdown ask *this* module, so they can never disagree about, say, whether the platform's idle
shutdown is on for a space.

How the service combines the levels (sources: botocore's SageMaker model, shapes ``UserSettings``
and ``DefaultSpaceSettings``; quoted in docs/studio-facts.md):

* a **user profile**: the domain's ``DefaultUserSettings``, overridden by the profile's
  ``UserSettings``: "the values specified in CreateUserProfile take precedence over those
  specified in CreateDomain", except ``SecurityGroups``, which "is aggregated when specified in
  both calls";
* a **private space**: the same two layers (the owner's profile: ``UserSettings`` members such
  as ``JupyterLabAppSettings`` are applied "only to private spaces that the user creates"), then
  the space's own ``SpaceSettings``;
* a **shared space**: the domain's ``DefaultSpaceSettings`` ("SageMaker applies these settings
  only to shared spaces"), then ``SpaceSettings``. ``DefaultUserSettings`` members that the
  model documents as private-space-only never reach a shared space; members that
  ``DefaultSpaceSettings`` cannot hold and that are not private-only (e.g. ``SharingSettings``)
  come from ``DefaultUserSettings``.

Merge rule: a member **present** in a more specific layer replaces the general one, whatever its
value, so an explicitly empty list overrides (botocore: "To remove a lifecycle config, you must
set LifecycleConfigArns to an empty list"); an **absent** member inherits; objects merge member
by member (a space's ``SpaceIdleSettings`` holds only ``IdleTimeoutInMinutes``; the rest of the
idle settings comes from above).

The app-settings key follows the app type: ``JupyterLabAppSettings`` for JupyterLab,
``CodeEditorAppSettings`` for Code Editor (a space's ``SpaceSettings.AppType`` decides; both
carry their own ``AppLifecycleManagement``). Studio Classic apps have no platform idle shutdown.

Old botocore: a member missing from the installed botocore's model is silently dropped by its
response parser (botocore 1.34.131, shipped with SageMaker Distribution 2.0.0, has no
``AppLifecycleManagement``). ``EffectiveSettings.unreadable`` names such members, so a check
says "unknown: botocore X is too old to read Y" instead of a wrong "not set".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .context import CLASSIC_APP_TYPES

# -- facts from botocore's model ---------------------------------------------------------------

#: the app-settings member of UserSettings/SpaceSettings that configures each app type
APP_SETTINGS_KEYS = {
    "JupyterLab": "JupyterLabAppSettings",
    "CodeEditor": "CodeEditorAppSettings",
    "JupyterServer": "JupyterServerAppSettings",
    "KernelGateway": "KernelGatewayAppSettings",
}
#: app types whose settings carry ``AppLifecycleManagement.IdleSettings`` (platform idle shutdown)
PLATFORM_IDLE_APP_TYPES = ("JupyterLab", "CodeEditor")

#: UserSettings members aggregated across levels instead of overridden (UserSettings doc)
AGGREGATED = frozenset({"SecurityGroups"})

#: UserSettings members the model documents as "SageMaker applies these settings only to private
#: spaces ... doesn't apply [them] to shared spaces"
PRIVATE_SPACE_ONLY = frozenset(
    {
        "ExecutionRole",
        "CodeEditorAppSettings",
        "JupyterLabAppSettings",
        "SpaceStorageSettings",
        "CustomPosixUserConfig",
        "CustomFileSystemConfigs",
        "AutoMountHomeEFS",
        "CanvasAppSettings",
    }
)

#: the members of DefaultSpaceSettings (what a shared space can inherit from the domain)
DEFAULT_SPACE_SETTINGS_KEYS = frozenset(
    {
        "ExecutionRole",
        "SecurityGroups",
        "JupyterServerAppSettings",
        "KernelGatewayAppSettings",
        "JupyterLabAppSettings",
        "SpaceStorageSettings",
        "CustomPosixUserConfig",
        "CustomFileSystemConfigs",
    }
)

#: botocore shape of each layer (to check that the installed model can read a member)
LAYER_SHAPES = {
    "DefaultUserSettings": "UserSettings",
    "UserSettings": "UserSettings",
    "DefaultSpaceSettings": "DefaultSpaceSettings",
    "SpaceSettings": "SpaceSettings",
}

#: (shape, member) pairs this project reads that older botocore models lack. A pair missing from
#: the installed model means the parser dropped the field: the answer is unknown, not "absent".
#: (Other members absent from a shape simply do not exist there, e.g. SpaceSettings has no
#: SharingSettings.) botocore 1.34.131 (SMD 2.0.0) lacks the AppLifecycleManagement ones.
READ_MEMBERS = frozenset(
    {
        ("UserSettings", "JupyterLabAppSettings"),
        ("UserSettings", "CodeEditorAppSettings"),
        ("DefaultSpaceSettings", "JupyterLabAppSettings"),
        ("SpaceSettings", "JupyterLabAppSettings"),
        ("SpaceSettings", "CodeEditorAppSettings"),
        ("SpaceSettings", "AppType"),
        ("JupyterLabAppSettings", "AppLifecycleManagement"),
        ("CodeEditorAppSettings", "AppLifecycleManagement"),
        ("SpaceJupyterLabAppSettings", "AppLifecycleManagement"),
        ("SpaceCodeEditorAppSettings", "AppLifecycleManagement"),
        ("AppLifecycleManagement", "IdleSettings"),
        ("SpaceAppLifecycleManagement", "IdleSettings"),
        ("IdleSettings", "LifecycleManagement"),
        ("IdleSettings", "IdleTimeoutInMinutes"),
        ("IdleSettings", "MinIdleTimeoutInMinutes"),
        ("IdleSettings", "MaxIdleTimeoutInMinutes"),
        ("SpaceIdleSettings", "IdleTimeoutInMinutes"),
        ("ResourceSpec", "SageMakerImageVersionAlias"),
    }
)

PRIVATE, SHARED = "Private", "Shared"

# platform idle states
IDLE_ENABLED = "enabled"
IDLE_DISABLED = "disabled"
IDLE_NOT_SET = "not-set"
IDLE_UNKNOWN = "unknown"
IDLE_NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class Layer:
    """One level of settings: ``where`` it comes from and its ``shape`` in botocore's model."""

    where: str  # e.g. "domain DefaultUserSettings", "user profile alice", "space team"
    shape: str  # UserSettings | DefaultSpaceSettings | SpaceSettings
    settings: dict[str, Any]


@dataclass(frozen=True)
class PlatformIdle:
    """Studio's own idle shutdown (``AppLifecycleManagement.IdleSettings``) for one app type."""

    state: str  # enabled | disabled | not-set | unknown | not-applicable
    reason: str
    app_type: str | None
    settings_key: str | None  # e.g. "JupyterLabAppSettings"
    timeout_minutes: int | None = None
    min_timeout_minutes: int | None = None
    max_timeout_minutes: int | None = None
    source: str | None = None  # the layer that set LifecycleManagement
    idle_settings: dict[str, Any] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.state == IDLE_ENABLED

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "app_type": self.app_type,
            "settings_key": self.settings_key,
            "timeout_minutes": self.timeout_minutes,
            "min_timeout_minutes": self.min_timeout_minutes,
            "max_timeout_minutes": self.max_timeout_minutes,
            "source": self.source,
            "IdleSettings": dict(self.idle_settings),
        }


@dataclass
class EffectiveSettings:
    """The settings that apply to one owner (or the domain's defaults), layer by layer.

    ``merged`` is the combined view; ``get(*path)`` reads it, ``source(*path)`` names the layer
    that decided a value, ``unreadable(*path)`` says why a member can't be trusted (None if it
    can), ``platform_idle()`` answers "does Studio's own idle shutdown stop this owner's apps".
    """

    owner_kind: str | None  # "user-profile" | "space" | None (domain defaults)
    owner_name: str | None
    sharing: str | None  # "Private" | "Shared" for spaces
    app_type: str | None
    layers: list[Layer]
    merged: dict[str, Any]
    notes: list[str] = field(default_factory=list)  # e.g. "owner profile bob not readable"
    service_model: Any = None  # botocore ServiceModel the answers were parsed with
    botocore_version: str | None = None

    # -- reading -----------------------------------------------------------------------------

    def get(self, *path: str) -> Any:
        value: Any = self.merged
        for key in path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    def source(self, *path: str) -> str | None:
        """The most specific layer that holds ``path`` (present, any value)."""
        for layer in reversed(self.layers):
            value: Any = layer.settings
            for key in path:
                value = value.get(key, _ABSENT) if isinstance(value, dict) else _ABSENT
            if value is not _ABSENT and value is not None:
                return layer.where
        return None

    @property
    def app_settings_key(self) -> str | None:
        return APP_SETTINGS_KEYS.get(self.app_type or "")

    def unreadable(self, *path: str) -> str | None:
        """Why the installed botocore cannot read ``path`` in some layer (its parser drops
        members its model lacks), or None when every layer's shape has it / no model given."""
        if self.service_model is None or not path:
            return None
        for layer in self.layers:
            shape = layer.shape
            if shape == "DefaultSpaceSettings" and path[0] not in DEFAULT_SPACE_SETTINGS_KEYS:
                shape = "UserSettings"  # a shared space's other defaults: DefaultUserSettings
            missing = missing_member(self.service_model, shape, path)
            if missing:
                version = self.botocore_version or "?"
                return (
                    f"botocore {version} is too old to read {missing} (its parser drops the "
                    "field): upgrade botocore"
                )
        return None

    # -- answers -----------------------------------------------------------------------------

    def platform_idle(self) -> PlatformIdle:
        """Studio's idle shutdown for this owner's app type (JupyterLab when not known)."""
        app_type = self.app_type or "JupyterLab"
        if app_type in CLASSIC_APP_TYPES:
            return PlatformIdle(
                IDLE_NOT_APPLICABLE,
                "Studio Classic apps have no platform idle shutdown",
                app_type,
                None,
            )
        key = APP_SETTINGS_KEYS.get(app_type)
        if app_type not in PLATFORM_IDLE_APP_TYPES or key is None:
            return PlatformIdle(
                IDLE_NOT_APPLICABLE,
                f"{app_type} apps have no platform idle shutdown",
                app_type,
                key,
            )
        why = self.unreadable(key, "AppLifecycleManagement", "IdleSettings")
        if why:
            return PlatformIdle(IDLE_UNKNOWN, why, app_type, key)
        path = (key, "AppLifecycleManagement", "IdleSettings")
        idle = self.get(*path)
        idle = dict(idle) if isinstance(idle, dict) else {}
        common: dict[str, Any] = {
            "app_type": app_type,
            "settings_key": key,
            "timeout_minutes": idle.get("IdleTimeoutInMinutes"),
            "min_timeout_minutes": idle.get("MinIdleTimeoutInMinutes"),
            "max_timeout_minutes": idle.get("MaxIdleTimeoutInMinutes"),
            "source": self.source(*path, "LifecycleManagement"),
            "idle_settings": idle,
        }
        where = ".".join(path)
        state = idle.get("LifecycleManagement")
        if state == "ENABLED":
            return PlatformIdle(IDLE_ENABLED, f"{where} is ENABLED", **common)
        if state == "DISABLED":
            return PlatformIdle(IDLE_DISABLED, f"{where} is DISABLED", **common)
        if state:
            return PlatformIdle(
                IDLE_UNKNOWN, f"{where}.LifecycleManagement is {state!r}: not understood", **common
            )
        return PlatformIdle(IDLE_NOT_SET, f"no {where}.LifecycleManagement at any level", **common)

    def to_dict(self) -> dict[str, Any]:
        return {
            "owner_kind": self.owner_kind,
            "owner_name": self.owner_name,
            "sharing": self.sharing,
            "app_type": self.app_type,
            "layers": [layer.where for layer in self.layers],
            "notes": list(self.notes),
        }


_ABSENT = object()


# -- resolving ---------------------------------------------------------------------------------


def overlay(base: dict[str, Any], over: dict[str, Any] | None) -> dict[str, Any]:
    """``over`` on top of ``base`` by the service's rule (see the module docstring)."""
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if value is None:  # botocore never parses a null; treat one as absent
            continue
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = overlay(current, value)
        elif key in AGGREGATED and isinstance(value, list) and isinstance(current, list):
            out[key] = list(dict.fromkeys([*current, *value]))
        else:
            out[key] = copy.deepcopy(value)
    return out


def shared_space_defaults(domain: dict[str, Any]) -> dict[str, Any]:
    """What a shared space inherits from its domain (see the module docstring)."""
    users = domain.get("DefaultUserSettings") or {}
    spaces = domain.get("DefaultSpaceSettings") or {}
    out = {
        k: copy.deepcopy(v)
        for k, v in users.items()
        if k not in PRIVATE_SPACE_ONLY and k not in DEFAULT_SPACE_SETTINGS_KEYS
    }
    for k, v in spaces.items():
        if k in DEFAULT_SPACE_SETTINGS_KEYS:
            out[k] = copy.deepcopy(v)
    return out


def space_sharing(space: dict[str, Any] | None) -> str:
    """``Private`` or ``Shared``. A space without sharing settings (spaces from before private
    spaces existed, Studio Classic) is shared: it has no owner whose profile could apply."""
    sharing = ((space or {}).get("SpaceSharingSettings") or {}).get("SharingType")
    owner = ((space or {}).get("OwnershipSettings") or {}).get("OwnerUserProfileName")
    return PRIVATE if sharing == PRIVATE and owner else SHARED


def resolve(
    domain: dict[str, Any],
    *,
    owner_kind: str | None = None,
    owner: dict[str, Any] | None = None,
    owner_profile: dict[str, Any] | None = None,
    app_type: str | None = None,
    service_model: Any = None,
) -> EffectiveSettings:
    """The effective settings of an owner, from answers the caller already has.

    ``domain``: the ``DescribeDomain`` answer. ``owner_kind``: ``user-profile``, ``space`` or
    None (the domain's defaults for a user). ``owner``: the ``DescribeUserProfile`` /
    ``DescribeSpace`` answer. ``owner_profile``: for a private space, the owner's
    ``DescribeUserProfile`` answer (None = could not be read: that layer is missing and
    ``notes`` says so). ``app_type``: the app whose settings matter (a space's
    ``SpaceSettings.AppType`` wins: a space runs only that app type; Classic spaces have none). ``service_model``: the botocore ``ServiceModel`` that parsed the
    answers (``client.meta.service_model``), to detect members it cannot read."""
    if owner_kind not in (None, "user-profile", "space"):
        raise ValueError("owner_kind must be 'user-profile', 'space' or None")
    owner = owner or {}
    defaults = domain.get("DefaultUserSettings") or {}
    layers: list[Layer] = []
    notes: list[str] = []
    sharing: str | None = None
    name: str | None = None
    if owner_kind == "space":
        name = owner.get("SpaceName")
        own = owner.get("SpaceSettings") or {}
        app_type = own.get("AppType") or app_type
        sharing = space_sharing(owner)
        if sharing == PRIVATE:
            owner_name = (owner.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
            layers.append(Layer("domain DefaultUserSettings", "UserSettings", defaults))
            if owner_profile is not None:
                layers.append(
                    Layer(
                        f"user profile {owner_name} (owner)",
                        "UserSettings",
                        owner_profile.get("UserSettings") or {},
                    )
                )
            else:
                notes.append(
                    f"the owner's user profile {owner_name} was not read: its settings are "
                    "missing from this view"
                )
        else:
            layers.append(
                Layer(
                    "domain DefaultSpaceSettings (shared space)",
                    "DefaultSpaceSettings",
                    shared_space_defaults(domain),
                )
            )
        layers.append(Layer(f"space {name}", "SpaceSettings", own))
    elif owner_kind == "user-profile":
        name = owner.get("UserProfileName")
        layers.append(Layer("domain DefaultUserSettings", "UserSettings", defaults))
        layers.append(
            Layer(f"user profile {name}", "UserSettings", owner.get("UserSettings") or {})
        )
    else:
        layers.append(Layer("domain DefaultUserSettings", "UserSettings", defaults))
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = overlay(merged, layer.settings)
    return EffectiveSettings(
        owner_kind=owner_kind,
        owner_name=name,
        sharing=sharing,
        app_type=app_type,
        layers=layers,
        merged=merged,
        notes=notes,
        service_model=service_model,
        botocore_version=_botocore_version() if service_model is not None else None,
    )


def load(
    clients: Any,
    domain_id: str,
    owner_kind: str | None = None,
    owner_name: str | None = None,
    *,
    app_type: str | None = None,
) -> EffectiveSettings:
    """``resolve`` after asking AWS (``DescribeDomain``, ``DescribeUserProfile`` /
    ``DescribeSpace``, and the owner's ``DescribeUserProfile`` for a private space). For code
    without a cache of its own (idle shutdown inside an app); raises typed errors, except that
    an unreadable owner profile only leaves a note."""
    from .aws import call
    from .errors import SmStudioError

    sm = clients.client("sagemaker")
    domain = call(sm, "DescribeDomain", resource=domain_id, DomainId=domain_id)
    owner = owner_profile = None
    if owner_kind == "space":
        owner = call(
            sm, "DescribeSpace", resource=owner_name, DomainId=domain_id, SpaceName=owner_name
        )
        profile = (owner.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
        if space_sharing(owner) == PRIVATE and profile:
            try:
                owner_profile = call(
                    sm,
                    "DescribeUserProfile",
                    resource=profile,
                    DomainId=domain_id,
                    UserProfileName=profile,
                )
            except SmStudioError:
                owner_profile = None
    elif owner_kind == "user-profile":
        owner = call(
            sm,
            "DescribeUserProfile",
            resource=owner_name,
            DomainId=domain_id,
            UserProfileName=owner_name,
        )
    return resolve(
        domain,
        owner_kind=owner_kind,
        owner=owner,
        owner_profile=owner_profile,
        app_type=app_type,
        service_model=sm.meta.service_model,
    )


# -- what the installed botocore can read -------------------------------------------------------


def missing_member(service_model: Any, shape_name: str, path: tuple[str, ...]) -> str | None:
    """``Shape.Member`` of the first member along ``path`` (from ``shape_name``) that this
    project reads (``READ_MEMBERS``) and the model lacks; None when the model can read the path
    or the path does not exist in that shape anyway."""
    try:
        shape = service_model.shape_for(shape_name)
    except Exception:  # botocore.exceptions.NoShapeFoundError: nothing to judge by
        return None
    for key in path:
        members = getattr(shape, "members", None)
        if members is None:
            return None
        if key not in members:
            return f"{shape.name}.{key}" if (shape.name, key) in READ_MEMBERS else None
        shape = members[key]
    return None


def model_can_read(service_model: Any, shape_name: str, member: str) -> str | None:
    """None when the model has ``shape_name.member``, else why not (for one-off members such
    as ``ResourceSpec.SageMakerImageVersionAlias``)."""
    if service_model is None:
        return None
    missing = missing_member(service_model, shape_name, (member,))
    if not missing:
        return None
    return (
        f"botocore {_botocore_version()} is too old to read {missing} (its parser drops the field)"
    )


def _botocore_version() -> str:
    import botocore

    return str(botocore.__version__)
