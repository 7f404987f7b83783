"""Lifecycle configs, registration (AWS): create under a content-versioned name, attach, detach.

Configs are immutable, so the name carries a hash of the content; attaching keeps every other
config attached to the domain, user profile or space. Rendering lives in :mod:`.render`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ..._version import __version__
from ...aws import AwsClients, call
from ...errors import AwsError, BadInput, Conflict, NotFound, SmStudioError
from .. import validate as v
from .render import APP_TYPES, RenderedLcc

log = logging.getLogger("smstudio_ext")

SETTINGS_KEY = {
    "JupyterServer": "JupyterServerAppSettings",
    "KernelGateway": "KernelGatewayAppSettings",
    "JupyterLab": "JupyterLabAppSettings",
}
_VERSIONED = re.compile(r"^(?P<base>.+?)-(?P<hash>[0-9a-f]{8})(-v(?P<n>\d+))?$")


@dataclass
class ApiCall:
    operation: str
    params: dict[str, Any]
    done: bool = False
    result: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "params": self.params}


@dataclass
class Plan:
    """What register/detach did (or, in a dry run, would do)."""

    dry_run: bool
    calls: list[ApiCall] = field(default_factory=list)
    name: str | None = None
    arn: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "name": self.name,
            "arn": self.arn,
            "calls": [c.to_dict() for c in self.calls],
            "notes": self.notes,
        }


def versioned_name(base: str, script: str, attempt: int = 1) -> str:
    """``base-<8 hex of the content>`` (``-vN`` from the 2nd attempt): same content, same name."""
    v.sm_name(base, "lifecycle config name")
    digest = hashlib.sha256(script.encode("utf-8")).hexdigest()[:8]
    suffix = f"-{digest}" + (f"-v{attempt}" if attempt > 1 else "")
    if len(base) + len(suffix) > 63:
        raise v.refuse("lifecycle config name", base, f"at most {63 - len(suffix)} characters")
    return base + suffix


def _aws_code(exc: SmStudioError) -> str:
    return str(exc.extra.get("aws_code") or "")


def _describe_lcc(clients: AwsClients, name: str) -> dict | None:
    sm = clients.client("sagemaker")
    try:
        out = call(
            sm, "DescribeStudioLifecycleConfig", resource=name, StudioLifecycleConfigName=name
        )
    except NotFound:
        return None
    return out


def create_config(
    clients: AwsClients, base_name: str, rendered: RenderedLcc, plan: Plan
) -> tuple[str, str]:
    """Create (or reuse an identical) config; a name taken by other content gets ``-vN``."""
    sm = clients.client("sagemaker")
    content = rendered.content_b64
    for attempt in range(1, 10):
        name = versioned_name(base_name, rendered.script, attempt)
        existing = _describe_lcc(clients, name)
        if existing is not None:
            same = (
                existing.get("StudioLifecycleConfigContent") == content
                and existing.get("StudioLifecycleConfigAppType") == rendered.app_type
            )
            if same:
                plan.notes.append(f"lifecycle config {name} exists with this content: reused")
                return name, existing["StudioLifecycleConfigArn"]
            plan.notes.append(f"lifecycle config {name} exists with other content: next version")
            continue
        params = {
            "StudioLifecycleConfigName": name,
            "StudioLifecycleConfigContent": content,
            "StudioLifecycleConfigAppType": rendered.app_type,
            "Tags": [{"Key": "smstudio:generated-by", "Value": f"smstudio-ext {__version__}"}],
        }
        step = ApiCall("CreateStudioLifecycleConfig", params)
        plan.calls.append(step)
        if plan.dry_run:
            return name, f"<arn of {name}>"
        try:
            out = call(sm, "CreateStudioLifecycleConfig", resource=name, **params)
        except (AwsError, Conflict) as exc:
            if "ResourceInUse" in _aws_code(exc):  # created concurrently: look again
                plan.calls.pop()
                continue
            raise
        step.done, step.result = True, out.get("StudioLifecycleConfigArn")
        return name, out["StudioLifecycleConfigArn"]
    raise Conflict(f"no free versioned name for lifecycle config {base_name!r} after 9 attempts")


def _target(domain: str, profile: str | None, space: str | None) -> tuple[str, dict[str, Any]]:
    v.domain_id(domain)
    if profile and space:
        raise BadInput("give --profile or --space, not both")
    if profile:
        return "profile", {"DomainId": domain, "UserProfileName": v.sm_name(profile, "profile")}
    if space:
        return "space", {"DomainId": domain, "SpaceName": v.sm_name(space, "space")}
    return "domain", {"DomainId": domain}


def _read_settings(clients: AwsClients, kind: str, ident: dict[str, Any], key: str) -> dict:
    sm = clients.client("sagemaker")
    if kind == "domain":
        out = call(sm, "DescribeDomain", resource=ident["DomainId"], **ident)
        return dict((out.get("DefaultUserSettings") or {}).get(key) or {})
    if kind == "profile":
        out = call(sm, "DescribeUserProfile", resource=ident["UserProfileName"], **ident)
        return dict((out.get("UserSettings") or {}).get(key) or {})
    out = call(sm, "DescribeSpace", resource=ident["SpaceName"], **ident)
    return dict((out.get("SpaceSettings") or {}).get(key) or {})


def _update(kind: str, ident: dict[str, Any], key: str, app_settings: dict) -> ApiCall:
    if kind == "domain":
        return ApiCall("UpdateDomain", {**ident, "DefaultUserSettings": {key: app_settings}})
    if kind == "profile":
        return ApiCall("UpdateUserProfile", {**ident, "UserSettings": {key: app_settings}})
    return ApiCall("UpdateSpace", {**ident, "SpaceSettings": {key: app_settings}})


def _supports_arn_list(kind: str, app_type: str) -> bool:
    # A space's JupyterLab settings (SpaceJupyterLabAppSettings) have no LifecycleConfigArns.
    return not (kind == "space" and app_type == "JupyterLab")


def attach_settings(
    current: dict, arn: str, app_type: str, *, default: bool, arn_list: bool = True
) -> tuple[dict, list[str]]:
    """The app settings with ``arn`` attached; other configs and resource spec fields kept."""
    new = json.loads(json.dumps(current, default=str))
    notes: list[str] = []
    if arn_list:
        arns = list(new.get("LifecycleConfigArns") or [])
        if arn not in arns:
            arns.append(arn)
        new["LifecycleConfigArns"] = arns
    else:
        default = True
        notes.append("this settings object has no LifecycleConfigArns: set as the default")
    spec = dict(new.get("DefaultResourceSpec") or {})
    if app_type == "JupyterServer":
        if not default:
            notes.append("Classic JupyterServer runs only its default config: made it the default")
        default = True
        if "InstanceType" not in spec:
            spec["InstanceType"] = "system"
    if default:
        spec["LifecycleConfigArn"] = arn
    if spec:
        new["DefaultResourceSpec"] = spec
    return new, notes


def detach_settings(current: dict, match: Any) -> tuple[dict, list[str]]:
    """The app settings without the ARNs for which ``match(arn)`` is true."""
    new = json.loads(json.dumps(current, default=str))
    removed = [a for a in new.get("LifecycleConfigArns") or [] if match(a)]
    if "LifecycleConfigArns" in new:
        new["LifecycleConfigArns"] = [a for a in new["LifecycleConfigArns"] if not match(a)]
    spec = dict(new.get("DefaultResourceSpec") or {})
    if spec.get("LifecycleConfigArn") and match(spec["LifecycleConfigArn"]):
        removed.append(spec.pop("LifecycleConfigArn"))
        new["DefaultResourceSpec"] = spec
    return new, sorted(set(removed))


def _apply(clients: AwsClients, plan: Plan, step: ApiCall) -> None:
    plan.calls.append(step)
    if not plan.dry_run:
        step.result = call(clients.client("sagemaker"), step.operation, **step.params)
        step.done = True


def register(
    clients: AwsClients,
    rendered: RenderedLcc,
    *,
    domain: str,
    name: str,
    profile: str | None = None,
    space: str | None = None,
    default: bool = False,
    dry_run: bool = False,
) -> Plan:
    """Create the config (versioned name) and attach it. A dry run only reads (Describe*)."""
    kind, ident = _target(domain, profile, space)
    key = SETTINGS_KEY[rendered.app_type]
    plan = Plan(dry_run=dry_run)
    current = _read_settings(clients, kind, ident, key)  # fails early on a wrong target
    plan.name, plan.arn = create_config(clients, name, rendered, plan)
    new, notes = attach_settings(
        current,
        plan.arn,
        rendered.app_type,
        default=default,
        arn_list=_supports_arn_list(kind, rendered.app_type),
    )
    plan.notes += notes
    if new == current:
        plan.notes.append(f"already attached to the {kind}: nothing to update")
        return plan
    _apply(clients, plan, _update(kind, ident, key, new))
    return plan


GENERATED_TAG = "smstudio:generated-by"


def generated_by_us(clients: AwsClients, arn: str) -> bool:
    """Whether the config carries the tag :func:`create_config` sets (a missing one: no)."""
    try:
        out = call(clients.client("sagemaker"), "ListTags", resource=arn, ResourceArn=arn)
    except NotFound:
        return False
    return any(t.get("Key") == GENERATED_TAG for t in out.get("Tags") or [])


def name_matcher(name_or_arn: str, ours: Any = None) -> Any:
    """Match an attached ARN by exact ARN, exact name, or versioned name ``NAME-<hash>[-vN]``.

    A versioned-name match also needs ``ours(arn)`` (the generated-by tag), so a base name never
    catches someone else's config that merely looks versioned (``jupyter-20240115``).
    """
    if name_or_arn.startswith("arn:"):
        return lambda arn: arn == name_or_arn
    v.sm_name(name_or_arn, "lifecycle config name")
    checked: dict[str, bool] = {}

    def match(arn: str) -> bool:
        config = arn.rsplit("/", 1)[-1]
        if config == name_or_arn:
            return True
        m = _VERSIONED.match(config)
        if not (m and m.group("base") == name_or_arn):
            return False
        if ours is None:
            return True
        if arn not in checked:
            checked[arn] = bool(ours(arn))
        return checked[arn]

    return match


def detach(
    clients: AwsClients,
    *,
    domain: str,
    app_type: str,
    name: str,
    profile: str | None = None,
    space: str | None = None,
    delete: bool = False,
    dry_run: bool = False,
) -> Plan:
    """Remove matching configs from the target's app settings (and delete them if asked)."""
    if app_type not in APP_TYPES:
        raise v.refuse("app type", app_type, "one of " + ", ".join(APP_TYPES))
    kind, ident = _target(domain, profile, space)
    key = SETTINGS_KEY[app_type]
    plan = Plan(dry_run=dry_run)
    current = _read_settings(clients, kind, ident, key)
    matcher = name_matcher(name, ours=lambda arn: generated_by_us(clients, arn))
    new, removed = detach_settings(current, matcher)
    if not removed:
        raise NotFound(f"no lifecycle config matching {name!r} is attached to the {kind} ({key})")
    plan.notes.append("detached: " + ", ".join(removed))
    _apply(clients, plan, _update(kind, ident, key, new))
    if delete:
        for arn in removed:
            config = arn.rsplit("/", 1)[-1]
            _apply(
                clients,
                plan,
                ApiCall("DeleteStudioLifecycleConfig", {"StudioLifecycleConfigName": config}),
            )
    return plan
