"""Lifecycle configs, registration (AWS): create under a content-versioned name, attach, detach.

Configs are immutable, so the name carries a hash of the content. Attaching replaces the older
versions of *our own* config (same base name, proven ours by :mod:`.ours`) and keeps every other
config attached to the domain, user profile, space or the domain's shared-space defaults; it
refuses to go past the 30 entries ``LifecycleConfigArns`` holds. ``--built-in`` sets the
JupyterLab/CodeEditor ``BuiltInLifecycleConfigArn`` instead, the only kind that reaches existing
spaces on their next start. Rendering lives in :mod:`.render`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..._version import __version__
from ...aws import AwsClients, call
from ...errors import AwsError, BadInput, Conflict, NotFound, SmStudioError
from .. import validate as v
from .ours import Ownership, Verdict
from .render import APP_TYPES, RenderedLcc

log = logging.getLogger("smstudio_ext")

SETTINGS_KEY = {
    "JupyterServer": "JupyterServerAppSettings",
    "KernelGateway": "KernelGatewayAppSettings",
    "JupyterLab": "JupyterLabAppSettings",
    "CodeEditor": "CodeEditorAppSettings",
}
#: ``LifecycleConfigArns`` entries per app settings object: CloudFormation's schema caps the list
#: at 30 (the API reference names no limit; the stricter one is used).
MAX_LCC_ARNS = 30
#: App types whose settings have ``BuiltInLifecycleConfigArn`` (botocore model:
#: JupyterLabAppSettings, CodeEditorAppSettings; not a space's own settings).
BUILT_IN_APP_TYPES = ("JupyterLab", "CodeEditor")
#: What clears a default or built-in config in an update (the model's patterns end in ``|None``).
CLEARED = "None"
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


def _target(
    domain: str, profile: str | None, space: str | None, shared_spaces: bool = False
) -> tuple[str, dict[str, Any]]:
    v.domain_id(domain)
    if sum(bool(x) for x in (profile, space, shared_spaces)) > 1:
        raise BadInput("give one of --profile, --space or --shared-spaces")
    if shared_spaces:
        return "shared-spaces", {"DomainId": domain}
    if profile:
        return "profile", {"DomainId": domain, "UserProfileName": v.sm_name(profile, "profile")}
    if space:
        return "space", {"DomainId": domain, "SpaceName": v.sm_name(space, "space")}
    return "domain", {"DomainId": domain}


def _read_settings(clients: AwsClients, kind: str, ident: dict[str, Any], key: str) -> dict:
    sm = clients.client("sagemaker")
    if kind in ("domain", "shared-spaces"):
        out = call(sm, "DescribeDomain", resource=ident["DomainId"], **ident)
        field = "DefaultUserSettings" if kind == "domain" else "DefaultSpaceSettings"
        return dict((out.get(field) or {}).get(key) or {})
    if kind == "profile":
        out = call(sm, "DescribeUserProfile", resource=ident["UserProfileName"], **ident)
        return dict((out.get("UserSettings") or {}).get(key) or {})
    out = call(sm, "DescribeSpace", resource=ident["SpaceName"], **ident)
    return dict((out.get("SpaceSettings") or {}).get(key) or {})


def _update(kind: str, ident: dict[str, Any], key: str, app_settings: dict) -> ApiCall:
    if kind == "domain":
        return ApiCall("UpdateDomain", {**ident, "DefaultUserSettings": {key: app_settings}})
    if kind == "shared-spaces":
        return ApiCall("UpdateDomain", {**ident, "DefaultSpaceSettings": {key: app_settings}})
    if kind == "profile":
        return ApiCall("UpdateUserProfile", {**ident, "UserSettings": {key: app_settings}})
    return ApiCall("UpdateSpace", {**ident, "SpaceSettings": {key: app_settings}})


WHERE = {
    "domain": "the domain's DefaultUserSettings",
    "shared-spaces": "the domain's DefaultSpaceSettings (shared spaces)",
    "profile": "the user profile",
    "space": "the space",
}


def _supports_arn_list(kind: str, app_type: str) -> bool:
    # A space's JupyterLab / CodeEditor settings (SpaceJupyterLabAppSettings,
    # SpaceCodeEditorAppSettings) have no LifecycleConfigArns.
    return not (kind == "space" and app_type in BUILT_IN_APP_TYPES)


def _check_built_in(clients: AwsClients, kind: str, app_type: str) -> None:
    """Refuse --built-in where the service has no such setting, or botocore is too old for it."""
    if app_type not in BUILT_IN_APP_TYPES:
        raise BadInput(
            f"--built-in is for JupyterLab and CodeEditor configs, not {app_type} "
            "(Studio Classic has no built-in lifecycle config)"
        )
    if kind == "space":
        raise BadInput(
            "--built-in is set on the domain, a user profile or --shared-spaces: a space's own "
            "settings have no BuiltInLifecycleConfigArn (it resolves from the domain at launch)"
        )
    if kind == "shared-spaces" and app_type != "JupyterLab":
        raise BadInput("the domain's DefaultSpaceSettings have JupyterLab settings only")
    model = clients.client("sagemaker").meta.service_model
    if "BuiltInLifecycleConfigArn" not in model.shape_for(SETTINGS_KEY[app_type]).members:
        import botocore

        raise BadInput(
            f"botocore {botocore.__version__} is too old to send BuiltInLifecycleConfigArn: "
            "upgrade boto3/botocore to use --built-in"
        )


def attach_settings(
    current: dict,
    arn: str,
    app_type: str,
    *,
    default: bool,
    built_in: bool = False,
    arn_list: bool = True,
    replaces: Callable[[str], bool] | None = None,
) -> tuple[dict, list[str]]:
    """The app settings with ``arn`` attached: the configs ``replaces`` matches (older versions
    of ours) taken out, every other config and resource spec field kept.

    A replaced default (or built-in) is taken over by ``arn``. ``built_in`` sets
    ``BuiltInLifecycleConfigArn`` and keeps ``arn`` out of the list and the default: the
    built-in runs at every start, and a listed copy picked as a space's default would run it a
    second time (AWS docs: the built-in runs first, then the default).
    """
    new = json.loads(json.dumps(current, default=str))
    notes: list[str] = []
    old = replaces or (lambda a: False)

    def gone(a: str) -> bool:
        return a != arn and bool(old(a))

    arns = list(new.get("LifecycleConfigArns") or [])
    replaced = [a for a in arns if gone(a)]
    arns = [a for a in arns if not gone(a)]
    spec = dict(new.get("DefaultResourceSpec") or {})
    spec_arn = spec.get("LifecycleConfigArn")
    if spec_arn and spec_arn != CLEARED and gone(spec_arn):
        replaced.append(spec_arn)
        if not built_in:
            default = True
            notes.append(f"the default was an older version of ours ({_name(spec_arn)}): replaced")
        spec["LifecycleConfigArn"] = CLEARED
    built_in_arn = new.get("BuiltInLifecycleConfigArn")
    if built_in_arn and built_in_arn != CLEARED and gone(built_in_arn):
        replaced.append(built_in_arn)
        if not built_in:
            built_in = True
            notes.append(
                f"the built-in was an older version of ours ({_name(built_in_arn)}): replaced"
            )
    if built_in:
        new["BuiltInLifecycleConfigArn"] = arn
        if arn in arns:
            arns.remove(arn)
            notes.append("built-in: taken out of LifecycleConfigArns (it would run twice)")
        if spec.get("LifecycleConfigArn") == arn:
            spec["LifecycleConfigArn"] = CLEARED
            notes.append("built-in: no longer the default as well (it would run twice)")
        default = False
    if arn_list:
        if not built_in and arn not in arns:
            arns.append(arn)
        if arns or "LifecycleConfigArns" in new:
            new["LifecycleConfigArns"] = arns
    elif not built_in:
        default = True
        notes.append("this settings object has no LifecycleConfigArns: set as the default")
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
    if replaced:
        notes.append(
            "replaced older versions of ours: " + ", ".join(sorted({_name(a) for a in replaced}))
        )
    return new, notes


def _name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def detach_settings(current: dict, match: Any) -> tuple[dict, list[str]]:
    """The app settings without the ARNs for which ``match(arn)`` is true (a default or built-in
    removed is sent as ``"None"``, which clears it: an absent member might be left unchanged)."""
    new = json.loads(json.dumps(current, default=str))
    removed = [a for a in new.get("LifecycleConfigArns") or [] if match(a)]
    if "LifecycleConfigArns" in new:
        new["LifecycleConfigArns"] = [a for a in new["LifecycleConfigArns"] if not match(a)]
    spec = dict(new.get("DefaultResourceSpec") or {})
    if spec.get("LifecycleConfigArn") not in (None, CLEARED) and match(spec["LifecycleConfigArn"]):
        removed.append(spec["LifecycleConfigArn"])
        spec["LifecycleConfigArn"] = CLEARED
        new["DefaultResourceSpec"] = spec
    built_in = new.get("BuiltInLifecycleConfigArn")
    if built_in not in (None, CLEARED) and match(built_in):
        removed.append(built_in)
        new["BuiltInLifecycleConfigArn"] = CLEARED
    return new, sorted(set(removed))


def _apply(clients: AwsClients, plan: Plan, step: ApiCall) -> None:
    plan.calls.append(step)
    if not plan.dry_run:
        step.result = call(clients.client("sagemaker"), step.operation, **step.params)
        step.done = True


def our_versions(base: str, ownership: Ownership, notes: list[str]) -> Callable[[str], bool]:
    """Matches ``base-<hash>[-vN]`` configs proven ours (tag or marker). One whose ownership
    can't be read is kept, with a note: never replace what may be someone else's."""
    checked: dict[str, bool] = {}

    def match(arn: str) -> bool:
        if arn in checked:
            return checked[arn]
        m = _VERSIONED.match(_name(arn))
        ours = False
        if m and m.group("base") == base:
            verdict = ownership.judge(arn)
            ours = verdict.proven
            if not ours and verdict.error:
                notes.append(f"kept {_name(arn)}: can't tell whether it is ours ({verdict.error})")
        checked[arn] = ours
        return ours

    return match


def _check_room(current: dict, replaces: Callable[[str], bool], where: str, key: str) -> None:
    """Refuse before creating anything when ours would be entry 31 of LifecycleConfigArns."""
    arns = list(current.get("LifecycleConfigArns") or [])
    after = len([a for a in arns if not replaces(a)]) + 1
    if after > MAX_LCC_ARNS:
        raise Conflict(
            f"{where} already lists {len(arns)} lifecycle configs in {key}; with ours that "
            f"would be {after}, more than the {MAX_LCC_ARNS} allowed: detach one first "
            "(smstudio lcc detach --name NAME)"
        )


def register(
    clients: AwsClients,
    rendered: RenderedLcc,
    *,
    domain: str,
    name: str,
    profile: str | None = None,
    space: str | None = None,
    shared_spaces: bool = False,
    default: bool = False,
    built_in: bool = False,
    dry_run: bool = False,
) -> Plan:
    """Create the config (versioned name) and attach it in place of our older versions.

    A dry run only reads (Describe*, ListTags). ``built_in`` sets BuiltInLifecycleConfigArn
    (JupyterLab/CodeEditor; domain, profile or shared spaces), ``default`` the
    DefaultResourceSpec; neither: the config is only listed (users pick it).
    """
    if built_in and default:
        raise BadInput(
            "give --built-in or --default, not both: the built-in runs at every start, a "
            "default as well would run it twice"
        )
    kind, ident = _target(domain, profile, space, shared_spaces)
    if built_in:
        _check_built_in(clients, kind, rendered.app_type)
    key = SETTINGS_KEY[rendered.app_type]
    plan = Plan(dry_run=dry_run)
    current = _read_settings(clients, kind, ident, key)  # fails early on a wrong target
    arn_list = _supports_arn_list(kind, rendered.app_type)
    older = our_versions(name, Ownership(clients), plan.notes)
    if arn_list and not built_in:
        _check_room(current, older, WHERE[kind], key)
    plan.name, plan.arn = create_config(clients, name, rendered, plan)
    new, notes = attach_settings(
        current,
        plan.arn,
        rendered.app_type,
        default=default,
        built_in=built_in,
        arn_list=arn_list,
        replaces=older,
    )
    plan.notes += notes
    if new == current:
        plan.notes.append(f"already attached to {WHERE[kind]}: nothing to update")
        return plan
    _apply(clients, plan, _update(kind, ident, key, new))
    return plan


def generated_by_us(clients: AwsClients, arn: str) -> bool:
    """Whether the config is proven ours (:mod:`.ours`: our tag or our marker line)."""
    return Ownership(clients).is_ours(arn)


def name_matcher(name_or_arn: str, ours: Any = None) -> Any:
    """Match an attached ARN by exact ARN, exact name, or versioned name ``NAME-<hash>[-vN]``.

    A versioned-name match also needs ``ours(arn)`` (proven ours, :mod:`.ours`), so a base name
    never catches someone else's config that merely looks versioned (``jupyter-20240115``).
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
    shared_spaces: bool = False,
    delete: bool = False,
    dry_run: bool = False,
) -> Plan:
    """Remove matching configs from the target's app settings: the list, the default and the
    built-in (and delete them if asked)."""
    if app_type not in APP_TYPES:
        raise v.refuse("app type", app_type, "one of " + ", ".join(APP_TYPES))
    kind, ident = _target(domain, profile, space, shared_spaces)
    key = SETTINGS_KEY[app_type]
    plan = Plan(dry_run=dry_run)
    current = _read_settings(clients, kind, ident, key)
    ownership = Ownership(clients)
    unreadable: list[Verdict] = []

    def ours(arn: str) -> bool:
        verdict = ownership.judge(arn)
        if not verdict.proven and verdict.failure is not None:
            unreadable.append(verdict)
        return verdict.proven

    matcher = name_matcher(name, ours=ours)
    new, removed = detach_settings(current, matcher)
    if not removed and unreadable:  # e.g. denied: say so rather than "nothing matches"
        raise unreadable[0].failure  # type: ignore[misc]
    if not removed:
        raise NotFound(
            f"no lifecycle config matching {name!r} is attached to {WHERE[kind]} ({key})"
        )
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
