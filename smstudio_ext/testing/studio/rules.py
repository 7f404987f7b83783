"""Rules the service applies to app settings beyond the botocore model's shapes.

Each rule names its source. Where the real behaviour (or its error code) is unverified, the
emulator takes the stricter choice and says so here and in ``docs/emulator.md``: code that passes
against the emulator must not depend on the service being lenient.
"""

from __future__ import annotations

from .errors import invalid, not_found
from .state import LIVE_APP_STATES, Record, StoreState

#: ``LifecycleConfigArns`` entries per app settings object. Source: the CloudFormation schema
#: (AWS::SageMaker::Domain / UserProfile / Space ``*AppSettings.LifecycleConfigArns``: "Minimum: 0,
#: Maximum: 30"); the API reference gives no maximum, so the API's own limit is unverified and the
#: stricter one is enforced.
MAX_LCC_ARNS = 30

#: App settings keys that carry lifecycle configs, and the app type each expects.
LCC_SETTINGS = {
    "JupyterServerAppSettings": "JupyterServer",
    "KernelGatewayAppSettings": "KernelGateway",
    "JupyterLabAppSettings": "JupyterLab",
    "CodeEditorAppSettings": "CodeEditor",
}

#: Where a settings object lives: ``user`` (DefaultUserSettings, UserSettings), ``space``
#: (SpaceSettings) or ``space-defaults`` (DefaultSpaceSettings).
SPACE_KINDS = ("space", "space-defaults")


def _lcc_app_type(store: StoreState, arn: str) -> str:
    for lcc in store.lccs.values():
        if lcc["StudioLifecycleConfigArn"] == arn:
            return str(lcc["StudioLifecycleConfigAppType"])
    raise not_found(f"Studio Lifecycle Config {arn} does not exist")


def _attached(app_settings: Record) -> list[tuple[str, str]]:
    """(field, ARN) of every lifecycle config an app settings object names ("None" clears)."""
    found = [("LifecycleConfigArns", a) for a in app_settings.get("LifecycleConfigArns") or []]
    default = (app_settings.get("DefaultResourceSpec") or {}).get("LifecycleConfigArn")
    if default and default != "None":
        found.append(("DefaultResourceSpec.LifecycleConfigArn", default))
    built_in = app_settings.get("BuiltInLifecycleConfigArn")
    if built_in and built_in != "None":
        found.append(("BuiltInLifecycleConfigArn", built_in))
    return found


def check_settings(store: StoreState, settings: Record | None, where: str, kind: str) -> None:
    """Every rule on one settings object (as it will be stored, i.e. after the merge)."""
    for key, app_settings in (settings or {}).items():
        if not isinstance(app_settings, dict):
            continue
        app_type = LCC_SETTINGS.get(key)
        if app_type is None:
            continue
        arns = app_settings.get("LifecycleConfigArns") or []
        if len(arns) > MAX_LCC_ARNS:
            raise invalid(
                f"1 validation error detected: Value at '{where}.{key}.lifecycleConfigArns' "
                f"failed to satisfy constraint: Member must have length less than or equal to "
                f"{MAX_LCC_ARNS}"
            )
        for field, arn in _attached(app_settings):
            # Source: botocore model, CreateStudioLifecycleConfig.StudioLifecycleConfigAppType
            # "The App type that the Lifecycle Configuration is attached to". The service's
            # answer to a mismatch is unverified: refused here with ValidationException.
            found = _lcc_app_type(store, arn)
            if found != app_type:
                raise invalid(
                    f"Lifecycle config {arn} has app type {found} and cannot be attached to "
                    f"{where}.{key}.{field} (app type {app_type})"
                )
        if key == "JupyterServerAppSettings":
            # Source: botocore model, JupyterServerAppSettings.LifecycleConfigArns: "If you
            # use this parameter, the DefaultResourceSpec parameter is also required."
            if arns and not app_settings.get("DefaultResourceSpec"):
                raise invalid(
                    f"{where}.JupyterServerAppSettings.DefaultResourceSpec must be provided "
                    "when LifecycleConfigArns are specified"
                )
            # Source: CloudFormation AWS::SageMaker::Space JupyterServerAppSettings has no
            # CodeRepositories, and hashicorp/terraform-provider-aws#36089 reports "Unknown
            # parameter CodeRepositories in JupyterServerAppSettings for DefaultSpaceSettings".
            # The service's error is unverified: ValidationException here.
            if kind in SPACE_KINDS and "CodeRepositories" in app_settings:
                raise invalid(
                    f"CodeRepositories is not supported in {where}.JupyterServerAppSettings"
                )


def check_space_update(p: Record) -> None:
    """UpdateSpace may not name ``SpaceSettings.AppType``.

    Source: botocore model, UpdateSpace: "You can't edit the app type of a space in the
    SpaceSettings", and SpaceSettings.AppType: "If using the UpdateSpace API, you can't change
    the app type of your space by specifying a different value for this field." Whether the same
    value is accepted is unverified: any AppType is refused (stricter).
    """
    if "AppType" in (p.get("SpaceSettings") or {}):
        raise invalid("You can't change the AppType of a space with UpdateSpace")


def check_app_image_config(p: Record) -> None:
    """No ``FileSystemConfig`` in JupyterLab or Code Editor app image configs.

    Source: botocore model, JupyterLabAppImageConfig and CodeEditorAppImageConfig: "The
    FileSystemConfig object is not supported." The exact error text is unverified.
    """
    for key in ("JupyterLabAppImageConfig", "CodeEditorAppImageConfig"):
        if "FileSystemConfig" in (p.get(key) or {}):
            raise invalid(f"FileSystemConfig is not supported in {key}")


def check_app_lcc(store: StoreState, app_type: str, spec: Record) -> None:
    """CreateApp's ResourceSpec.LifecycleConfigArn must exist and be of the app's type."""
    arn = spec.get("LifecycleConfigArn")
    if not arn or arn == "None":
        return
    found = _lcc_app_type(store, arn)
    if found != app_type:
        raise invalid(
            f"Lifecycle config {arn} has app type {found}; a {app_type} app cannot run it"
        )


def _live_in_domain(store: StoreState, domain_id: str, states: tuple[str, ...]) -> list[Record]:
    return [a for a in store.apps if a["DomainId"] == domain_id and a["Status"] in states]


def check_domain_update(store: StoreState, domain: Record, p: Record) -> None:
    """Network and identity changes that the service refuses while apps run.

    Sources (botocore model, UpdateDomain): AppNetworkAccessType "can only be modified if there
    are no apps in the InService, Pending, or Deleting state"; SubnetIds "If removing subnets,
    ensure there are no apps in the InService, Pending, or Deleting state"; VpcId "Use this field
    only when adding VPC configuration to a ... domain ... created without VPC settings";
    DomainSettingsForUpdate.ExecutionRoleIdentityConfig "can only be modified if there are no
    apps in the InService or Pending state". The error code is unverified: ValidationException.
    """
    domain_id = domain["DomainId"]
    live = _live_in_domain(store, domain_id, LIVE_APP_STATES)
    changes: list[str] = []
    new_access = p.get("AppNetworkAccessType")
    if new_access and new_access != domain.get("AppNetworkAccessType"):
        changes.append("AppNetworkAccessType")
    if "SubnetIds" in p:
        removed = set(domain.get("SubnetIds") or []) - set(p["SubnetIds"] or [])
        if removed:
            changes.append("SubnetIds (removing " + ", ".join(sorted(removed)) + ")")
    if changes and live:
        raise invalid(
            "Cannot update {} of domain {} while it has apps in the InService, Pending or "
            "Deleting state ({} found)".format(", ".join(changes), domain_id, len(live))
        )
    new_vpc = p.get("VpcId")
    if new_vpc and domain.get("VpcId") and new_vpc != domain["VpcId"]:
        raise invalid(
            f"VpcId of domain {domain_id} is {domain['VpcId']}; it can only be set on a domain "
            "created without VPC settings"
        )
    identity = (p.get("DomainSettingsForUpdate") or {}).get("ExecutionRoleIdentityConfig")
    current = (domain.get("DomainSettings") or {}).get("ExecutionRoleIdentityConfig")
    if identity and identity != (current or "DISABLED"):
        running = _live_in_domain(store, domain_id, ("InService", "Pending"))
        if running:
            raise invalid(
                f"Cannot update ExecutionRoleIdentityConfig of domain {domain_id} while it has "
                f"apps in the InService or Pending state ({len(running)} found)"
            )
