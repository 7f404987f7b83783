"""Export a domain's people (profiles, spaces) and re-create them in another domain.

Recovery (STUDIO.md "Domain recovery"): an EFS volume cannot be re-attached to a new domain, so
the profiles and spaces are re-created there, each gets a new ``HomeEfsFileSystemUid``, and the
homes are copied. Where a home lives decides how: user profiles and Studio Classic spaces keep
it on the domain's EFS volume (copied EFS to EFS on a host mounting both, then ``chown`` to the
new UID, or through S3); JupyterLab and Code Editor spaces keep it on the space's own **EBS**
volume, which no EFS copy reaches: those always move through S3, as smstudio home-backup
snapshots copied to the new domain's folder and restored on the new space's first start.

Create calls carry only what the service accepts on create: members botocore's model of the
``CreateUserProfile`` / ``CreateSpace`` input lacks are dropped, and so are members the service
refuses there although ``Describe*`` returns them (listed in ``CREATE_REFUSED`` with sources);
the plan names every dropped member.

Import is validate-then-apply: every problem (format version, missing roles or lifecycle
configs, name clashes with different settings, unknown space owners) is collected and reported
before the first write call, so a bad manifest changes nothing. Existing identical profiles and
spaces are skipped, never duplicated, so a re-run after a partial failure finishes the job.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import clock
from ..aws import AwsClients, call, paginate
from ..context import home_key
from ..errors import BadInput, NotFound
from ..fsutil import MB, ReadRefused, read_capped

FORMAT_VERSION = 1
STUDIO_TAG_PREFIXES = ("sagemaker:", "aws:")
APP_SETTINGS_KEYS = (
    "JupyterServerAppSettings",
    "KernelGatewayAppSettings",
    "JupyterLabAppSettings",
    "CodeEditorAppSettings",
    "RSessionAppSettings",
)
NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")
UID_RE = re.compile(r"[0-9]{1,10}\Z")
FOLDER_RE = re.compile(r"([a-zA-Z0-9_-]{1,63}/){0,3}[a-zA-Z0-9-]{1,63}\Z")
DOMAIN_RE = re.compile(r"d-[a-z0-9]{1,63}\Z")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$")
# App types whose space home is the space's own EBS volume (STUDIO.md, "A JupyterLab space from
# the inside"); every other home (profiles, Classic spaces) is on the domain's EFS volume.
EBS_HOME_APP_TYPES = ("JupyterLab", "CodeEditor")
# Members Describe* returns (or a manifest may carry) that the service refuses on create, with
# the reason. Paths are from the create call's input.
CREATE_REFUSED = {
    ("CreateSpace", ("SpaceSettings", "JupyterServerAppSettings", "CodeRepositories")): (
        "the service refuses CodeRepositories in a space's JupyterServerAppSettings "
        '("ValidationException: Unknown parameter CodeRepositories in JupyterServerAppSettings '
        'for SpaceSettings", hashicorp/terraform-provider-aws#36089)'
    ),
}


# -- export ------------------------------------------------------------------------------------


def _paginate(sm: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    params.setdefault("MaxResults", 100)
    fetch = functools.partial(call, sm, operation, params.get("DomainIdEquals"))
    return paginate(fetch, key, **params)


def user_tags(sm: Any, arn: str) -> dict[str, str]:
    """The resource's tags without the ones Studio adds itself (``sagemaker:*``, ``aws:*``)."""
    fetch = functools.partial(call, sm, "ListTags", arn)
    return {
        t["Key"]: t.get("Value", "")
        for t in paginate(fetch, "Tags", ResourceArn=arn, MaxResults=100)
        if not t["Key"].startswith(STUDIO_TAG_PREFIXES)
    }


def attached_lccs(settings: dict[str, Any] | None) -> list[str]:
    """Every lifecycle config ARN named in a settings block (list and default spec)."""
    found: list[str] = []
    for key in APP_SETTINGS_KEYS:
        app = (settings or {}).get(key) or {}
        found.extend(app.get("LifecycleConfigArns") or [])
        default = (app.get("DefaultResourceSpec") or {}).get("LifecycleConfigArn")
        if default:
            found.append(default)
    return list(dict.fromkeys(found))


def overrides_only(
    settings: dict[str, Any] | None, defaults: dict[str, Any] | None
) -> dict[str, Any]:
    """The first-level keys of ``settings`` that differ from the domain's defaults."""
    defaults = defaults or {}
    return {k: v for k, v in (settings or {}).items() if defaults.get(k) != v}


def export_domain(clients: AwsClients, domain_id: str) -> dict[str, Any]:
    """The manifest (a JSON-able dict) of a domain's profiles and spaces."""
    sm = clients.client("sagemaker")
    domain = call(sm, "DescribeDomain", resource=domain_id, DomainId=domain_id)
    defaults = domain.get("DefaultUserSettings") or {}
    space_defaults = domain.get("DefaultSpaceSettings") or {}
    profiles = []
    for summary in _paginate(sm, "ListUserProfiles", "UserProfiles", DomainIdEquals=domain_id):
        name = summary["UserProfileName"]
        desc = call(
            sm, "DescribeUserProfile", resource=name, DomainId=domain_id, UserProfileName=name
        )
        settings = desc.get("UserSettings") or {}
        arn = desc.get("UserProfileArn") or ""
        entry: dict[str, Any] = {
            "name": name,
            "execution_role": settings.get("ExecutionRole") or defaults.get("ExecutionRole"),
            "tags": user_tags(sm, arn) if arn else {},
            "settings": overrides_only(settings, defaults),
            "lifecycle_configs": attached_lccs(settings),
            "home_efs_uid": desc.get("HomeEfsFileSystemUid"),
        }
        if desc.get("SingleSignOnUserIdentifier"):
            entry["sso"] = {
                "identifier": desc["SingleSignOnUserIdentifier"],
                "value": desc.get("SingleSignOnUserValue"),
            }
        profiles.append(entry)
    spaces = []
    for summary in _paginate(sm, "ListSpaces", "Spaces", DomainIdEquals=domain_id):
        name = summary["SpaceName"]
        desc = call(sm, "DescribeSpace", resource=name, DomainId=domain_id, SpaceName=name)
        settings = desc.get("SpaceSettings") or {}
        arn = desc.get("SpaceArn") or ""
        spaces.append(
            {
                "name": name,
                "display_name": desc.get("SpaceDisplayName"),
                "owner": (desc.get("OwnershipSettings") or {}).get("OwnerUserProfileName"),
                "sharing_type": (desc.get("SpaceSharingSettings") or {}).get("SharingType"),
                "tags": user_tags(sm, arn) if arn else {},
                "settings": settings,
                "lifecycle_configs": attached_lccs(settings),
                "home_efs_uid": desc.get("HomeEfsFileSystemUid"),
            }
        )
    return {
        "format_version": FORMAT_VERSION,
        "exported_at": clock.isoformat_z(clock.utcnow()),
        "source": {
            "domain_id": domain_id,
            "domain_arn": domain.get("DomainArn"),
            "domain_name": domain.get("DomainName"),
            "region": clients.region,
            "home_efs_file_system_id": domain.get("HomeEfsFileSystemId"),
            "default_execution_role": defaults.get("ExecutionRole"),
            "default_space_execution_role": space_defaults.get("ExecutionRole"),
            "domain_lifecycle_configs": attached_lccs(defaults),
            # cannot be changed after creation: kept for the record and for comparison
            "immutable": {
                "auth_mode": domain.get("AuthMode"),
                "vpc_id": domain.get("VpcId"),
                "subnet_ids": domain.get("SubnetIds") or [],
                "app_network_access_type": domain.get("AppNetworkAccessType"),
                "kms_key_id": domain.get("KmsKeyId") or domain.get("HomeEfsFileSystemKmsKeyId"),
            },
        },
        "profiles": profiles,
        "spaces": spaces,
    }


# -- import ------------------------------------------------------------------------------------


@dataclass
class PlannedCall:
    operation: str
    params: dict[str, Any]
    target: str  # "profile:NAME" / "space:NAME"


@dataclass
class ImportPlan:
    domain_id: str
    calls: list[PlannedCall] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # identical, already there
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how each home moves, dropped members


@dataclass
class ImportResult:
    plan: ImportPlan
    created: list[str] = field(default_factory=list)
    uid_map: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain_id": self.plan.domain_id,
            "dry_run": self.dry_run,
            "calls": [
                {"operation": c.operation, "target": c.target, "params": c.params}
                for c in self.plan.calls
            ],
            "created": self.created,
            "skipped": self.plan.skipped,
            "warnings": self.plan.warnings,
            "notes": self.plan.notes,
            "uid_map": self.uid_map,
        }


def load_manifest(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"manifest not found: {p}")
    try:
        data = json.loads(read_capped(p, 256 * MB, what="a domain manifest"))
    except ReadRefused as exc:
        raise BadInput(str(exc)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"manifest {p} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"manifest {p} is not a JSON object")
    return data


def _check_structure(manifest: dict[str, Any]) -> list[str]:
    problems = []
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        problems.append(
            f"manifest format_version is {version!r}; this smstudio reads version "
            f"{FORMAT_VERSION} (export it again with a matching smstudio)"
        )
        return problems
    for kind in ("profiles", "spaces"):
        items = manifest.get(kind)
        if not isinstance(items, list):
            problems.append(f"manifest '{kind}' must be a list")
            continue
        seen = set()
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not NAME_RE.match(name):
                problems.append(f"{kind}[{i}]: invalid name {name!r}")
                continue
            if name in seen:
                problems.append(f"{kind}[{i}]: {name} appears twice")
            seen.add(name)
            uid = item.get("home_efs_uid")
            if uid is not None and not UID_RE.match(str(uid)):
                problems.append(f"{kind} {name}: home_efs_uid {uid!r} is not a number")
            if not isinstance(item.get("tags", {}), dict):
                problems.append(f"{kind} {name}: tags must be an object")
            if not isinstance(item.get("settings", {}), dict):
                problems.append(f"{kind} {name}: settings must be an object")
            sso = item.get("sso")
            if sso is not None and not (
                isinstance(sso, dict)
                and isinstance(sso.get("identifier"), str)
                and isinstance(sso.get("value"), str)
            ):
                problems.append(f"{kind} {name}: sso needs a string identifier and value")
    source_domain = (manifest.get("source") or {}).get("domain_id")
    if source_domain is not None and not (
        isinstance(source_domain, str) and DOMAIN_RE.match(source_domain)
    ):
        problems.append(f"source.domain_id {source_domain!r} is not a domain id (d-...)")
    return problems


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _profile_params(
    domain_id: str, item: dict[str, Any], default_role: str | None = None
) -> dict[str, Any]:
    settings = copy.deepcopy(item.get("settings") or {})
    role = item.get("execution_role")
    if role and role != default_role and "ExecutionRole" not in settings:
        settings["ExecutionRole"] = role  # the new domain's default differs: keep the old role
    params: dict[str, Any] = {"DomainId": domain_id, "UserProfileName": item["name"]}
    if settings:
        params["UserSettings"] = settings
    if item.get("tags"):
        params["Tags"] = _tag_list(item["tags"])
    sso = item.get("sso")
    if sso:
        params["SingleSignOnUserIdentifier"] = sso["identifier"]
        params["SingleSignOnUserValue"] = sso.get("value")
    return params


def _space_params(domain_id: str, item: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"DomainId": domain_id, "SpaceName": item["name"]}
    if item.get("settings"):
        params["SpaceSettings"] = copy.deepcopy(item["settings"])
    if item.get("display_name"):
        params["SpaceDisplayName"] = item["display_name"]
    if item.get("owner"):
        params["OwnershipSettings"] = {"OwnerUserProfileName": item["owner"]}
        params["SpaceSharingSettings"] = {"SharingType": item.get("sharing_type") or "Private"}
    if item.get("tags"):
        params["Tags"] = _tag_list(item["tags"])
    return params


def backup_folder(kind: str, item: dict[str, Any]) -> str:
    """The home's smstudio backup folder under ``<bucket>/<prefix>/<domain>/`` (context.home_key:
    a private space sits under its owner's profile, a shared one under ``_shared``)."""
    if kind in ("spaces", "space"):
        shared = item.get("sharing_type") == "Shared"
        key = home_key("d", profile=item.get("owner"), space=item["name"], shared=shared)
    else:
        key = home_key("d", profile=item["name"])
    return "/".join(key[1:])


def home_storage(kind: str, item: dict[str, Any]) -> str:
    """``ebs`` for a JupyterLab or Code Editor space (its own volume), else ``efs``."""
    if kind in ("spaces", "space"):
        app_type = (item.get("settings") or {}).get("AppType")
        if app_type in EBS_HOME_APP_TYPES:
            return "ebs"
    return "efs"


def creatable(
    service_model: Any, operation: str, params: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """``params`` without what ``operation`` refuses on create, and a note per dropped member:
    members its input shape (botocore's model) does not have, and ``CREATE_REFUSED``."""
    dropped: list[str] = []

    def clean(shape: Any, value: Any, path: tuple[str, ...]) -> Any:
        kind = getattr(shape, "type_name", None)
        if kind == "structure" and isinstance(value, dict):
            out = {}
            for key, member_value in value.items():
                where = (*path, key)
                refused = CREATE_REFUSED.get((operation, where))
                if refused:
                    dropped.append(f"{'.'.join(where)} dropped: {refused}")
                    continue
                if key not in shape.members:
                    dropped.append(
                        f"{'.'.join(where)} dropped: not accepted by {operation} (botocore's "
                        "model of its input has no such member)"
                    )
                    continue
                out[key] = clean(shape.members[key], member_value, where)
            return out
        if kind == "list" and isinstance(value, list):
            return [clean(shape.member, v, (*path, "[]")) for v in value]
        return copy.deepcopy(value)

    shape = service_model.operation_model(operation).input_shape
    return clean(shape, params, ()), dropped


def _role_exists(clients: AwsClients, arn: str, cache: dict[str, bool]) -> bool:
    if arn not in cache:
        m = _ROLE_ARN_RE.match(arn)
        if not m:
            cache[arn] = False
        else:
            try:
                got = call(clients.client("iam"), "GetRole", resource=arn, RoleName=m.group(1))
                cache[arn] = got.get("Role", {}).get("Arn", arn) == arn
            except NotFound:  # IAM's NoSuchEntity
                cache[arn] = False
    return cache[arn]


def _lcc_exists(clients: AwsClients, arn: str, cache: dict[str, bool]) -> bool:
    if arn not in cache:
        name = arn.rsplit("/", 1)[-1]
        try:
            got = call(
                clients.client("sagemaker"),
                "DescribeStudioLifecycleConfig",
                resource=arn,
                StudioLifecycleConfigName=name,
            )
            cache[arn] = got.get("StudioLifecycleConfigArn", arn) == arn
        except NotFound:
            cache[arn] = False
    return cache[arn]


def _describe_or_none(sm: Any, operation: str, **params: Any) -> dict[str, Any] | None:
    try:
        return call(sm, operation, **params)
    except NotFound:
        return None


def plan_import(clients: AwsClients, manifest: dict[str, Any], domain_id: str) -> ImportPlan:
    """Validate the manifest against the target domain and list the create calls to make."""
    plan = ImportPlan(domain_id=domain_id)
    if not DOMAIN_RE.match(domain_id or ""):
        raise BadInput(f"invalid target domain id {domain_id!r} (expected d-...)")
    plan.problems = _check_structure(manifest)
    if plan.problems:
        return plan
    sm = clients.client("sagemaker")
    domain = call(sm, "DescribeDomain", resource=domain_id, DomainId=domain_id)
    source = manifest.get("source") or {}
    immutable = source.get("immutable") or {}
    if immutable.get("auth_mode") and immutable["auth_mode"] != domain.get("AuthMode"):
        plan.problems.append(
            f"auth mode differs: manifest {immutable['auth_mode']}, domain {domain_id} "
            f"{domain.get('AuthMode')}; profiles cannot move between IAM and SSO domains"
        )
    for key, label, now in (
        ("app_network_access_type", "network access", domain.get("AppNetworkAccessType")),
        ("vpc_id", "VPC", domain.get("VpcId")),
        ("kms_key_id", "KMS key", domain.get("KmsKeyId")),
    ):
        if immutable.get(key) and immutable[key] != now:
            plan.warnings.append(f"{label} differs: was {immutable[key]}, now {now}")
    if source.get("domain_id") == domain_id:
        plan.warnings.append("importing into the domain the manifest was exported from")

    roles: dict[str, bool] = {}
    lccs: dict[str, bool] = {}
    defaults = domain.get("DefaultUserSettings") or {}
    existing_profiles = set()
    model = sm.meta.service_model
    for item in manifest["profiles"]:
        name = item["name"]
        params, dropped = creatable(
            model,
            "CreateUserProfile",
            _profile_params(domain_id, item, defaults.get("ExecutionRole")),
        )
        plan.notes.extend(f"profile {name}: {d}" for d in dropped)
        role = (params.get("UserSettings") or {}).get("ExecutionRole") or defaults.get(
            "ExecutionRole"
        )
        if role and not _role_exists(clients, role, roles):
            plan.problems.append(f"profile {name}: execution role {role} does not exist")
        for lcc in item.get("lifecycle_configs") or []:
            if not _lcc_exists(clients, lcc, lccs):
                plan.problems.append(f"profile {name}: lifecycle config {lcc} does not exist")
        current = _describe_or_none(
            sm, "DescribeUserProfile", resource=name, DomainId=domain_id, UserProfileName=name
        )
        if current is None:
            plan.calls.append(PlannedCall("CreateUserProfile", params, f"profile:{name}"))
            continue
        existing_profiles.add(name)
        diff = _differences(
            overrides_only(params.get("UserSettings"), defaults),
            overrides_only(current.get("UserSettings"), defaults),
            item.get("tags") or {},
            user_tags(sm, current.get("UserProfileArn", "")),
        )
        if diff:
            plan.problems.append(
                f"profile {name} already exists in {domain_id} with different {', '.join(diff)}"
            )
        else:
            plan.skipped.append(f"profile:{name}")
    known_profiles = {p["name"] for p in manifest["profiles"]} | existing_profiles
    space_role = source.get("default_space_execution_role")
    now_space_role = (domain.get("DefaultSpaceSettings") or {}).get("ExecutionRole")
    if manifest["spaces"] and space_role and not now_space_role:
        plan.warnings.append(
            f"domain {domain_id} has no default space execution role (was {space_role}): "
            "set DefaultSpaceSettings.ExecutionRole before users open the spaces"
        )
    for item in manifest["spaces"]:
        name = item["name"]
        owner = item.get("owner")
        if owner and owner not in known_profiles:
            owner_exists = _describe_or_none(
                sm, "DescribeUserProfile", resource=owner, DomainId=domain_id, UserProfileName=owner
            )
            if owner_exists is None:
                plan.problems.append(f"space {name}: owner profile {owner} is in neither place")
        for lcc in item.get("lifecycle_configs") or []:
            if not _lcc_exists(clients, lcc, lccs):
                plan.problems.append(f"space {name}: lifecycle config {lcc} does not exist")
        params, dropped = creatable(model, "CreateSpace", _space_params(domain_id, item))
        plan.notes.extend(f"space {name}: {d}" for d in dropped)
        sharing = (params.get("SpaceSharingSettings") or {}).get("SharingType")
        if sharing == "Private" and not (params.get("SpaceSettings") or {}).get("AppType"):
            plan.problems.append(
                f"space {name}: a private space is created with SpaceSettings.AppType; the "
                'service refuses one without ("SpaceSettings must be provided for creating '
                'private space", hashicorp/terraform-provider-aws#38370)'
            )
        if home_storage("spaces", item) == "ebs":
            app_type = (item.get("settings") or {}).get("AppType")
            plan.notes.append(
                f"space {name}: a {app_type} space keeps its home on its own EBS volume, not the "
                "domain's EFS: it moves through S3 (the copy plan's 's3' step: its last smstudio "
                "backup snapshot, restored on the new space's first start)"
            )
        current = _describe_or_none(
            sm, "DescribeSpace", resource=name, DomainId=domain_id, SpaceName=name
        )
        if current is None:
            plan.calls.append(PlannedCall("CreateSpace", params, f"space:{name}"))
            continue
        diff = _differences(
            params.get("SpaceSettings") or {},
            current.get("SpaceSettings") or {},
            item.get("tags") or {},
            user_tags(sm, current.get("SpaceArn", "")),
        )
        cur_owner = (current.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
        if (owner or None) != (cur_owner or None):
            diff.append("owner")
        if diff:
            plan.problems.append(
                f"space {name} already exists in {domain_id} with different {', '.join(diff)}"
            )
        else:
            plan.skipped.append(f"space:{name}")
    return plan


def _differences(
    want: dict[str, Any], have: dict[str, Any], want_tags: dict[str, Any], have_tags: dict[str, Any]
) -> list[str]:
    diff = []
    if want != have:
        diff.append("settings")
    if want_tags != have_tags:
        diff.append("tags")
    return diff


def import_domain(
    clients: AwsClients,
    manifest: dict[str, Any],
    domain_id: str,
    *,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Create-or-skip every profile and space; raise ``BadInput`` listing all problems first."""
    plan = plan_import(clients, manifest, domain_id)
    if plan.problems:
        raise BadInput(
            f"{len(plan.problems)} problem(s) in the import, nothing was changed:\n  - "
            + "\n  - ".join(plan.problems),
            problems=plan.problems,
        )
    result = ImportResult(plan=plan, dry_run=dry_run)
    if dry_run:
        result.uid_map = _uid_map(clients, manifest, domain_id, resolve=False)
        return result
    sm = clients.client("sagemaker")
    for planned in plan.calls:  # profiles first: spaces name their owners
        if progress:
            progress(f"{planned.operation} {planned.target}")
        call(sm, planned.operation, resource=planned.target, **planned.params)
        result.created.append(planned.target)
    result.uid_map = _uid_map(clients, manifest, domain_id, resolve=True)
    return result


def _uid_map(
    clients: AwsClients, manifest: dict[str, Any], domain_id: str, *, resolve: bool
) -> dict[str, dict[str, dict[str, str | None]]]:
    sm = clients.client("sagemaker")
    out: dict[str, dict[str, dict[str, str | None]]] = {"profiles": {}, "spaces": {}}
    for kind, op, param in (
        ("profiles", "DescribeUserProfile", "UserProfileName"),
        ("spaces", "DescribeSpace", "SpaceName"),
    ):
        for item in manifest[kind]:
            new_uid = None
            if resolve:
                desc = _describe_or_none(
                    sm, op, resource=item["name"], DomainId=domain_id, **{param: item["name"]}
                )
                new_uid = (desc or {}).get("HomeEfsFileSystemUid")
            old = item.get("home_efs_uid")
            out[kind][item["name"]] = {
                "old_uid": str(old) if old is not None else None,
                "new_uid": str(new_uid) if new_uid is not None else None,
                "home": home_storage(kind, item),
                "folder": backup_folder(kind, item),
            }
    return out
