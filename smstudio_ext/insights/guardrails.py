"""The built-in guardrails: checks that say pass / fail / unknown, with evidence, why and how to fix.

A check is a plain function of the ``Facts`` of one owner (a user profile or space) in one domain
(see ``facts.py``); it returns a ``Result`` (``results.py``). ``unknown`` means "can't tell": a
permission is missing (the IAM action is named), AWS failed, or the admin configured nothing to
compare against.

Levels: ``domain`` checks depend only on the domain (the admin's audit runs them once per domain),
``owner`` checks on the profile/space, ``app`` checks on its running apps.

Admins add checks through the entry point group ``smstudio_ext.guardrails`` or dotted names in
``Insights.extra_checks`` (``registry.py`` loads them); the object may be a ``Check``, a list of
them, or a function decorated with ``@guardrail(...)``, all importable from here.
``Insights.disabled_checks`` removes checks by id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .. import clock
from ..apps import image_name  # re-exported: the one image identity
from ..errors import SmStudioError
from ..idle.mode import idle_mode
from ..studio_settings import (
    IDLE_NOT_APPLICABLE,
    model_can_read,
)
from .registry import ENTRY_POINT_GROUP, Check, Registry, guardrail
from .results import (
    FAIL,
    LEVELS,
    PASS,
    SEVERITIES,
    UNKNOWN,
    CheckResult,
    Result,
    failed,
    passed,
    unknown,
)
from .tags import tag_value

if TYPE_CHECKING:
    from .facts import Facts

# the public names an admin's check module imports from here
__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "FAIL",
    "LEVELS",
    "PASS",
    "SEVERITIES",
    "UNKNOWN",
    "Check",
    "CheckResult",
    "Registry",
    "Result",
    "failed",
    "guardrail",
    "image_name",
    "passed",
    "unknown",
]

BUILTIN: dict[str, Check] = {}


def _builtin(**kwargs: Any) -> Callable[[Callable[[Facts], Result]], Check]:
    def wrap(func: Callable[[Facts], Result]) -> Check:
        check = guardrail(**kwargs)(func)
        BUILTIN[check.id] = check
        return check

    return wrap


# -- helpers ------------------------------------------------------------------------------------


def _first(*values: Any) -> Any:
    for value in values:
        if value not in (None, "", [], {}):
            return value
    return None


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def _setting(facts: Facts, *path: str) -> Any:
    """An effective setting of the subject (``Facts.effective_settings``, resolved the
    service's way: see ``studio_settings``), None when unset or empty."""
    value = facts.effective_settings().get(*path)
    return None if _empty(value) else value


# -- the built-in checks ------------------------------------------------------------------------


@_builtin(
    id="network-vpc-only",
    title="Network: VPC only, with subnets and security groups",
    level="domain",
    severity="high",
    why="With PublicInternetOnly, apps reach the internet directly, bypassing the VPC's "
    "controls (endpoints, proxies, flow logs); data can leave without passing them.",
    fix="Create the domain with AppNetworkAccessType=VpcOnly, SubnetIds and SecurityGroups "
    "(the network type of an existing domain can be changed with UpdateDomain only while no "
    "app runs).",
)
def check_network(facts: Facts) -> Result:
    domain = facts.domain()
    access = domain.get("AppNetworkAccessType") or "PublicInternetOnly"
    subnets = domain.get("SubnetIds") or []
    groups = _first(
        _setting(facts, "SecurityGroups"),
        (domain.get("DomainSettings") or {}).get("SecurityGroupIds"),
    )
    evidence = {
        "AppNetworkAccessType": access,
        "SubnetIds": subnets,
        "SecurityGroups": groups or [],
    }
    if access != "VpcOnly":
        return failed(f"AppNetworkAccessType is {access}, not VpcOnly", **evidence)
    if not subnets:
        return failed("VpcOnly but no subnets", **evidence)
    if not groups:
        return failed("VpcOnly but no security groups", **evidence)
    return passed(
        f"VpcOnly in {len(subnets)} subnet(s) with {len(groups)} security group(s)", **evidence
    )


@_builtin(
    id="domain-volume-kms",
    title="Home volume encrypted with a customer KMS key",
    level="domain",
    severity="high",
    why="The domain's home volume holds everyone's notebooks and data; a customer-managed key "
    "lets you audit and revoke access to it.",
    fix="Set KmsKeyId when creating the domain (it cannot be changed afterwards: plan a "
    "migration with `smstudio` domain export/import).",
)
def check_volume_kms(facts: Facts) -> Result:
    key = facts.domain().get("KmsKeyId")
    if key:
        return passed("the home volume uses a customer KMS key", KmsKeyId=key)
    return failed("no KmsKeyId: the home volume uses an AWS-owned key", KmsKeyId=None)


@_builtin(
    id="sharing-bucket-kms",
    title="Notebook-sharing bucket encrypted with a KMS key",
    level="owner",
    severity="medium",
    why="Shared notebook snapshots land in S3 with their outputs (which may hold data); "
    "without a KMS key they are only protected by bucket policies.",
    fix="Set DefaultUserSettings.SharingSettings.S3KmsKeyId (UpdateDomain), or disable "
    "sharing (NotebookOutputOption=Disabled).",
)
def check_sharing_kms(facts: Facts) -> Result:
    sharing = _setting(facts, "SharingSettings") or {}
    option = sharing.get("NotebookOutputOption") or "Disabled"
    evidence = {
        "NotebookOutputOption": option,
        "S3OutputPath": sharing.get("S3OutputPath"),
        "S3KmsKeyId": sharing.get("S3KmsKeyId"),
    }
    if option != "Allowed":
        return passed("notebook sharing is disabled", **evidence)
    if sharing.get("S3KmsKeyId"):
        return passed("shared notebooks are encrypted with a KMS key", **evidence)
    return failed("notebook sharing is allowed without S3KmsKeyId", **evidence)


@_builtin(
    id="instance-type-allowed",
    title="Apps run on allowed instance types",
    level="app",
    severity="medium",
    why="Large or GPU instances cost a lot per hour; the allow-list keeps spending predictable.",
    fix="Stop the app and start it on an allowed type; admins: enforce it with an IAM "
    "condition on sagemaker:CreateApp (sagemaker:InstanceTypes).",
)
def check_instance_type(facts: Facts) -> Result:
    allowed = list(facts.config.allowed_instance_types)
    apps = facts.apps()
    evidence: dict[str, Any] = {
        "allowed": allowed,
        "apps": {f"{a.app_type}/{a.app_name}": a.instance_type for a in apps},
    }
    if not apps:
        return passed("no running apps", **evidence)
    if not allowed:
        bad = [a for a in apps if a.instance_type != "system"]  # None: unknown too
        if not bad:
            return passed("only the free 'system' instance runs", **evidence)
        return unknown("no allow-list configured (Insights.allowed_instance_types)", **evidence)
    unreported = [a for a in apps if not a.instance_type]
    bad = [
        a
        for a in apps
        if a.instance_type and a.instance_type != "system" and a.instance_type not in allowed
    ]
    if bad:
        names = ", ".join(f"{a.app_type}/{a.app_name} on {a.instance_type}" for a in bad)
        return failed(f"not in the allow-list: {names}", **evidence)
    if unreported:
        names = ", ".join(f"{a.app_type}/{a.app_name}" for a in unreported)
        return unknown(f"no instance type reported for {names} (yet): can't tell", **evidence)
    return passed(f"{len(apps)} app(s) on allowed instance types", **evidence)


@_builtin(
    id="image-approved",
    title="Apps use approved images",
    level="app",
    severity="medium",
    why="Unreviewed images may carry vulnerabilities, unlicensed software or exfiltration tools.",
    fix="Restart the app with an approved SageMaker or custom image; admins: list approved "
    "images in Insights.approved_images and deny others on sagemaker:CreateApp "
    "(sagemaker:ImageArns).",
)
def check_image(facts: Facts) -> Result:
    # one image identity (apps.image_name): names compare lowercased, because the service
    # lowercases them in image-version ARNs; an alias (what JupyterLab apps report instead of a
    # version ARN) may be approved as NAME@ALIAS
    approved = {a.lower() for a in facts.config.approved_images}
    all_apps = facts.apps()
    # Studio Classic's own Jupyter server (instance type "system") always runs the platform's
    # image (jupyter-server-3): users can't choose another, so it is exempt, like its instance.
    exempt = [a for a in all_apps if _platform_server(a)]
    apps = [a for a in all_apps if not _platform_server(a)]
    evidence: dict[str, Any] = {
        "approved": sorted(facts.config.approved_images),
        "apps": {f"{a.app_type}/{a.app_name}": _image_evidence(a) for a in apps},
        "exempt": {f"{a.app_type}/{a.app_name}": _image_evidence(a) for a in exempt},
    }
    note = (
        " (the Studio Classic JupyterServer on 'system' runs the platform's image: exempt)"
        if exempt
        else ""
    )
    if not apps:
        return passed(("no running apps" if not exempt else "no apps to check") + note, **evidence)
    if not approved:
        return unknown("no approved images configured (Insights.approved_images)", **evidence)
    bad: list[str] = []
    unknown_images: list[str] = []
    for app in apps:
        ids = app.image_ids()
        if not ids:
            unknown_images.append(f"{app.app_type}/{app.app_name}")
        elif not ids & approved:
            bad.append(f"{app.app_type}/{app.app_name} ({app.image or app.image_arn})")
    # approving NAME@ALIAS needs the alias, which an old botocore drops while parsing
    why = None
    if bad and any("@" in a for a in approved):
        why = model_can_read(facts.sm.meta.service_model, "ResourceSpec", "SageMakerImageVersionAlias")  # fmt: skip
    if why:
        return unknown(f"can't tell: {why}", **evidence)
    if bad:
        return failed("not approved: " + ", ".join(bad), **evidence)
    if unknown_images:
        return unknown("no image reported for " + ", ".join(unknown_images), **evidence)
    return passed(f"{len(apps)} app(s) on approved images" + note, **evidence)


def _image_evidence(app: Any) -> dict[str, Any]:
    return {
        "image": app.image_name,
        "image_arn": app.image_arn,
        "image_version_arn": app.image_version_arn,
        "image_version_alias": app.image_version_alias,
    }


def _platform_server(app: Any) -> bool:
    """Studio Classic's JupyterServer app: on the free ``system`` instance (or none reported)."""
    return app.app_type == "JupyterServer" and app.instance_type in ("system", None)


@_builtin(
    id="user-id-tag",
    title="Profile carries the user-id tag",
    level="owner",
    severity="high",
    why="IAM policies use this tag to let a person open only their own profile "
    "(CreatePresignedDomainUrl) and to attribute jobs and costs to people.",
    fix="Tag the user profile: `aws sagemaker add-tags --resource-arn <profile arn> "
    "--tags Key=<key>,Value=<user name>`; require it on CreateUserProfile with an SCP.",
)
def check_user_id_tag(facts: Facts) -> Result:
    key = facts.config.user_id_tag_key
    caller, caller_source = facts.subject.caller_user_id, "config"
    if not caller:
        try:
            caller, caller_source = facts.sso_user(), "sso"
        except SmStudioError:  # can't tell who the caller is: check presence only
            caller = None
    evidence: dict[str, Any] = {
        "tag_key": key,
        "caller_user_id": caller or None,
        "caller_source": caller_source if caller else None,
    }
    # The profile's tag is the one that counts: IAM (CreatePresignedDomainUrl) reads it, and a
    # user who may tag their own space must not be able to satisfy the check with it. A space's
    # tag is shown as evidence only.
    if facts.subject.owner_kind == "space":
        space_arn = facts.owner_arn()
        try:
            evidence["space_value"] = tag_value(facts.tags(space_arn), key)
        except SmStudioError as exc:
            evidence["space_value"] = None
            evidence["space_tags_error"] = exc.message
        profile = facts.space_owner_profile()
        if not profile:
            return unknown(
                "the space names no owner profile (OwnershipSettings): can't tell whose "
                f"{key} tag applies",
                checked=[space_arn],
                **evidence,
            )
        arn = facts.profile_arn(profile)
        evidence["profile"] = profile
    else:
        arn = facts.owner_arn()
    value = tag_value(facts.tags(arn), key)
    evidence.update(value=value, on="user-profile", resource_arn=arn)
    if value is None:
        evidence["checked"] = [arn]
        hint = ""
        if evidence.get("space_value"):
            hint = " (the space's own tag does not count: IAM reads the profile's)"
        return failed(f"no {key} tag on the user profile{hint}", **evidence)
    if not value:
        return failed(f"{key} is present on the user profile but empty", **evidence)
    if caller and value != caller:
        return failed(f"{key}={value!r} does not match the caller {caller!r}", **evidence)
    return passed(
        f"{key}={value!r} on the user profile" + (" (matches the caller)" if caller else ""),
        **evidence,
    )


@_builtin(
    id="execution-role-identity",
    title="CloudTrail shows who acted (ExecutionRoleIdentityConfig)",
    level="domain",
    severity="medium",
    why="With a shared execution role, CloudTrail cannot tell users apart unless the role "
    "session carries the profile name.",
    fix="UpdateDomain DomainSettingsForUpdate.ExecutionRoleIdentityConfig=USER_PROFILE_NAME.",
)
def check_identity(facts: Facts) -> Result:
    value = (facts.domain().get("DomainSettings") or {}).get("ExecutionRoleIdentityConfig")
    if value == "USER_PROFILE_NAME":
        return passed(
            "role sessions carry the user profile name", ExecutionRoleIdentityConfig=value
        )
    return failed(
        f"ExecutionRoleIdentityConfig is {value or 'unset (DISABLED)'}",
        ExecutionRoleIdentityConfig=value,
    )


_APP_SETTINGS = ("KernelGatewayAppSettings", "JupyterLabAppSettings", "CodeEditorAppSettings")
_IMAGE_CONFIG_KEYS = (
    "KernelGatewayImageConfig",
    "JupyterLabAppImageConfig",
    "CodeEditorAppImageConfig",
)


@_builtin(
    id="custom-image-uid",
    title="Custom images run as the non-root user (UID 1000 / GID 100)",
    level="owner",
    severity="high",
    why="A container running as root can change the image and read files it should not; Studio "
    "expects UID 1000 / GID 100 (the image's NB_UID/NB_GID).",
    fix="Build the image with `USER 1000` and update the AppImageConfig: "
    "FileSystemConfig DefaultUid=1000, DefaultGid=100.",
)
def check_custom_image_uid(facts: Facts) -> Result:
    configs: dict[str, str] = {}
    # every level that applies to the subject (domain, owner profile of a private space, the
    # owner itself): an image attached at any of them can be started
    for layer in facts.effective_settings().layers:
        settings = layer.settings
        for key in _APP_SETTINGS:
            for image in (settings.get(key) or {}).get("CustomImages") or []:
                if image.get("AppImageConfigName"):
                    configs[image["AppImageConfigName"]] = image.get("ImageName", "")
    if not configs:
        return passed("no custom images attached", images=[])
    described = facts.app_image_configs(sorted(configs))
    rows = []
    root = []
    for name, desc in described.items():
        uid = gid = None
        for key in _IMAGE_CONFIG_KEYS:
            fs = (desc.get(key) or {}).get("FileSystemConfig")
            if fs is not None:
                uid, gid = fs.get("DefaultUid", 1000), fs.get("DefaultGid", 100)
                break
        if uid is None and any(desc.get(k) for k in _IMAGE_CONFIG_KEYS):
            uid, gid = 1000, 100  # Studio's defaults when no FileSystemConfig is given
        rows.append({"image": configs[name], "app_image_config": name, "uid": uid, "gid": gid})
        if (uid, gid) != (1000, 100):
            root.append(f"{configs[name] or name} ({uid}/{gid})")
    if root:
        return failed("not UID 1000 / GID 100: " + ", ".join(root), images=rows)
    return passed(f"{len(rows)} custom image(s) run as 1000/100", images=rows)


@_builtin(
    id="idle-shutdown",
    title="Idle shutdown is active within the admin maximum",
    level="owner",
    severity="medium",
    why="Forgotten apps keep billing per second around the clock.",
    fix="Turn idle shutdown on (smstudio panel or Insights/IdleShutdown config) with a timeout "
    "at most the admin maximum, or set the space's AppLifecycleManagement.IdleSettings.",
)
def check_idle(facts: Facts) -> Result:
    """Whoever deletes idle apps here (smstudio, the platform's IdleSettings or both: the mode
    of :func:`smstudio_ext.idle.mode.idle_mode`, the same answer the panel, ``smstudio idle
    status`` and the audit give) must do so within the admin maximum; the shorter timeout wins
    when both are on."""
    maximum = facts.config.max_idle_timeout_minutes
    ours = facts.idle_summary()
    classic = facts.owner_app_types() & {"JupyterServer", "KernelGateway"}
    if ours is None and facts.subject.owner_kind == "user-profile" and classic:
        return unknown(
            "Studio Classic has no platform idle shutdown and smstudio idle shutdown is not "
            "running here: can't tell",
            source=None,
            classic_apps=sorted(classic),
        )
    platform = facts.effective_settings().platform_idle()
    mode = idle_mode(ours, platform)
    evidence: dict[str, Any] = {
        "source": {"own": "smstudio", "platform": "platform", "both": "smstudio+platform"}.get(
            mode.mode
        ),
        "max_allowed": maximum,
        "mode": mode.to_dict(),
        "platform": platform.to_dict(),
        "IdleSettings": dict(platform.idle_settings),
    }
    if ours is not None:
        evidence.update(ours)
    if mode.mode == "unknown":
        return unknown(f"can't tell: {'; '.join(mode.reasons)}", **evidence)
    if mode.mode == "none":
        if ours is None and platform.state == IDLE_NOT_APPLICABLE:
            return unknown(
                f"{platform.reason} and smstudio idle shutdown is not running here: can't tell",
                **evidence,
            )
        return failed(
            "no idle shutdown: neither smstudio's nor the platform's ("
            + "; ".join(mode.reasons)
            + ")",
            **evidence,
        )
    limit = maximum
    if mode.own_deletes and ours is not None:
        own_limit = min(maximum, ours.get("max_timeout_minutes") or maximum)
        if mode.mode == "own":
            limit = own_limit
    timeout = mode.effective_timeout_minutes
    if timeout is None or timeout > limit:
        return failed(
            f"timeout {timeout} min exceeds the maximum {limit} min ({'; '.join(mode.reasons)})",
            **evidence,
        )
    who = {
        "own": "smstudio stops idle apps",
        "platform": f"the platform stops idle {platform.app_type} apps",
        "both": "smstudio and the platform stop idle apps (the shorter timeout wins)",
    }[mode.mode]
    return passed(f"{who} after {timeout} min", **evidence)


@_builtin(
    id="backup-recent",
    title="A recent successful home backup",
    level="owner",
    severity="medium",
    why="The home volume cannot be re-attached to another domain; a backup is the only way "
    "back after a deletion or a broken domain.",
    fix="Configure smstudio home backup (HomeBackup.bucket) and check `smstudio backup status`.",
)
def check_backup(facts: Facts) -> Result:
    rpo = facts.config.backup_rpo_hours
    summary = facts.backup_summary()
    if summary is None:
        return unknown("smstudio home backup is not running here: can't tell", rpo_hours=rpo)
    evidence = {"rpo_hours": rpo, **summary}
    if not summary.get("configured"):
        return failed("home backup is not configured", **evidence)
    last = summary.get("last_success")
    if not last:
        return failed("no successful backup yet", **evidence)
    try:
        when = clock.parse_iso(str(last))
    except ValueError:
        return unknown(f"unreadable last_success {last!r}", **evidence)
    age_h = (clock.utcnow() - when).total_seconds() / 3600
    evidence["age_hours"] = round(age_h, 2)
    if age_h > rpo:
        return failed(f"last successful backup is {age_h:.1f} h old (RPO {rpo:g} h)", **evidence)
    return passed(f"last successful backup {age_h:.1f} h ago (RPO {rpo:g} h)", **evidence)
