"""Which settings an app inherits: the layers, its default and built-in lifecycle configs.

Sources:

* botocore model, UserSettings.JupyterLabAppSettings (and CodeEditorAppSettings, ExecutionRole,
  ...): "SageMaker applies these settings only to private spaces that the user creates in the
  domain. SageMaker doesn't apply these settings to shared spaces"; DefaultSpaceSettings: "The
  default settings for shared spaces that users create in the domain". So a private space
  inherits domain → owner profile → space, a shared space domain space defaults → space, and a
  user-profile (Classic) app domain → profile.
* AWS docs, "Lifecycle configurations within Amazon SageMaker Studio"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/studio-lifecycle-configurations.html): a
  built-in LCC "always runs when a space starts, and resolves dynamically from the domain
  settings at launch time"; a default LCC "is pre-selected for the user at the space level and
  persists until the user explicitly changes it". The emulator models the persistence at
  ``CreateSpace``: the inherited default is written into the new space's settings. Whether the
  API or the Studio UI does that copy is unverified; modelling it is the case that matters to us
  (an upgraded default does not reach existing spaces).
"""

from __future__ import annotations

from .state import Record, StoreState

#: App types whose settings carry ``BuiltInLifecycleConfigArn`` (botocore model:
#: JupyterLabAppSettings and CodeEditorAppSettings; not the Space* variants).
BUILT_IN_APP_TYPES = ("JupyterLab", "CodeEditor")


def space_layers(store: StoreState, domain: Record, space: Record) -> list[Record]:
    """Settings objects a space's apps inherit, lowest first (the space's own last)."""
    owner = (space.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
    sharing = (space.get("SpaceSharingSettings") or {}).get("SharingType")
    if sharing == "Private" and owner:
        profile = store.profiles.get((domain["DomainId"], owner)) or {}
        return [
            domain.get("DefaultUserSettings") or {},
            profile.get("UserSettings") or {},
            space.get("SpaceSettings") or {},
        ]
    return [domain.get("DefaultSpaceSettings") or {}, space.get("SpaceSettings") or {}]


def profile_layers(domain: Record, profile: Record) -> list[Record]:
    return [domain.get("DefaultUserSettings") or {}, profile.get("UserSettings") or {}]


def _app_settings(layer: Record, app_type: str) -> Record:
    return layer.get(app_type + "AppSettings") or {}


def resolved_spec(layers: list[Record], app_type: str) -> Record:
    """DefaultResourceSpec fields, later layers winning field by field."""
    spec: Record = {}
    for layer in layers:
        spec.update(_app_settings(layer, app_type).get("DefaultResourceSpec") or {})
    return spec


def built_in(layers: list[Record], app_type: str) -> str | None:
    """The built-in lifecycle config at launch (the last layer that names one; "None" clears)."""
    if app_type not in BUILT_IN_APP_TYPES:
        return None
    found = None
    for layer in layers:
        value = _app_settings(layer, app_type).get("BuiltInLifecycleConfigArn")
        if value:
            found = value
    return None if found in (None, "None") else found


def persist_default(store: StoreState, domain: Record, p: Record) -> Record:
    """The SpaceSettings to store for a new space: the inherited default LCC pre-selected."""
    settings = dict(p.get("SpaceSettings") or {})
    app_type = settings.get("AppType")
    if app_type not in BUILT_IN_APP_TYPES:
        return settings
    draft: Record = {
        "OwnershipSettings": p.get("OwnershipSettings"),
        "SpaceSharingSettings": p.get("SpaceSharingSettings"),
        "SpaceSettings": {},
    }
    inherited = resolved_spec(space_layers(store, domain, draft), app_type)
    default = inherited.get("LifecycleConfigArn")
    key = app_type + "AppSettings"
    own = dict(settings.get(key) or {})
    spec = dict(own.get("DefaultResourceSpec") or {})
    if default and default != "None" and "LifecycleConfigArn" not in spec:
        spec["LifecycleConfigArn"] = default
        own["DefaultResourceSpec"] = spec
        settings[key] = own
    return settings
