"""The SageMaker Studio APIs that moto lacks, served from moto's own SageMaker endpoint.

``install()`` wraps ``SageMakerResponse.call_action``: an action listed in ``OPERATIONS`` is
validated against the botocore model and handled by a ``StudioStore``; anything else (models,
endpoints, training jobs, ...) goes to moto unchanged. The store hangs off moto's per-account,
per-region ``SageMakerModelBackend`` instance, so ``POST /moto-api/reset`` clears it too.

Behaviour follows the public API reference: ARNs, automatic ``sagemaker:*`` tags, status
transitions (apps ``Pending → InService``, ``Deleting → Deleted``; image versions
``CREATING → CREATED``) applied lazily on the next request, pagination with opaque tokens,
``ResourceInUse`` / ``ResourceNotFound`` / ``ResourceLimitExceeded`` / ``ValidationException``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import random
import string
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from smstudio_ext.clock import utcnow

from .validation import validation_errors, validation_message

log = logging.getLogger(__name__)

#: AWS-owned accounts that publish the SageMaker images, per region (public ARNs).
IMAGE_ACCOUNTS = {
    "us-east-1": "081325390199",
    "us-east-2": "429704687514",
    "us-west-2": "236514542706",
    "eu-west-1": "470317259841",
    "eu-central-1": "936697816551",
}

DEFAULT_IMAGES = {
    "JupyterServer": "jupyter-server-3",
    "KernelGateway": "datascience-1.0",
    "JupyterLab": "sagemaker-distribution-cpu",
    "CodeEditor": "sagemaker-distribution-cpu",
}

DEFAULT_INSTANCE = {"JupyterServer": "system"}

#: Apps per owner per instance type per app type (the KernelGateway one is the documented quota).
APP_QUOTAS = {"KernelGateway": 4}

LIVE_APP_STATES = ("Pending", "InService", "Deleting")

#: ARN resource types served by the store (tag operations on them never reach moto).
STUDIO_RESOURCE_TYPES = frozenset(
    ("domain", "user-profile", "space", "app", "studio-lifecycle-config", "image",
     "image-version", "app-image-config")
)  # fmt: skip

AUTO_TAG_PREFIX = "sagemaker:"


@dataclass
class Settings:
    """Process-wide knobs (moto's state is process-wide too). ``Emulator.reset`` restores them."""

    app_delete_delay: float = 0.5
    app_start_delay: float = 0.0
    image_version_delay: float = 0.2
    default_max_results: int = 10


SETTINGS = Settings()


def reset_settings() -> None:
    fresh = Settings()
    for field in fresh.__dataclass_fields__:
        setattr(SETTINGS, field, getattr(fresh, field))


class AwsError(Exception):
    """An error answered as AWS does: JSON ``{"__type", "message"}`` with an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFound", message)


def in_use(message: str) -> AwsError:
    return AwsError("ResourceInUse", message)


def invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def image_account(region: str) -> str:
    return IMAGE_ACCOUNTS.get(region, IMAGE_ACCOUNTS["us-east-1"])


def _rand(n: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(random.choice(alphabet) for _ in range(n))


def _merge_first_level(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """UpdateDomain/UpdateUserProfile/UpdateSpace: given sub-structures replace, absent stay."""
    merged = copy.deepcopy(old or {})
    for key, value in (new or {}).items():
        merged[key] = copy.deepcopy(value)
    return merged


def _paginate(items: list[Any], params: dict[str, Any], default: int | None = None) -> tuple:
    """Offset pagination with an opaque token; a foreign token is a ValidationException."""
    token = params.get("NextToken")
    start = 0
    if token:
        try:
            start = int(json.loads(base64.b64decode(token).decode())["o"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise invalid(f"Invalid pagination token: {token}") from None
    limit = params.get("MaxResults") or default or SETTINGS.default_max_results
    page = items[start : start + limit]
    nxt = None
    if start + limit < len(items):
        nxt = base64.b64encode(json.dumps({"o": start + limit}).encode()).decode()
    return page, nxt


def _sort(items: list[dict], params: dict[str, Any], keys: dict[str, str], default: str) -> list:
    field = keys.get(params.get("SortBy") or default, keys[default])
    reverse = (params.get("SortOrder") or "Descending").lower() == "descending"
    return sorted(items, key=lambda item: item.get(field) or "", reverse=reverse)


def _time_filters(items: list[dict], params: dict[str, Any], spec: dict[str, tuple]) -> list:
    out = items
    for param, (field, before) in spec.items():
        value = params.get(param)
        if value is None:
            continue
        when = datetime.fromtimestamp(float(value), tz=utcnow().tzinfo)
        if before:
            out = [i for i in out if i[field] < when]
        else:
            out = [i for i in out if i[field] > when]
    return out


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _refers_to(value: Any, arn: str) -> bool:
    if isinstance(value, dict):
        return any(_refers_to(v, arn) for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, arn) for v in value)
    return value == arn


class StudioStore:
    """All Studio resources of one account in one region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.lock = threading.RLock()
        self.domains: dict[str, dict[str, Any]] = {}
        self.profiles: dict[tuple[str, str], dict[str, Any]] = {}
        self.spaces: dict[tuple[str, str], dict[str, Any]] = {}
        self.apps: list[dict[str, Any]] = []
        self.lccs: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}
        self.app_image_configs: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, list[dict[str, str]]] = {}

    # -- helpers -------------------------------------------------------------------------------

    def arn(self, resource: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{resource}"

    def _set_tags(self, arn: str, auto: dict[str, str], given: list[dict[str, str]] | None) -> None:
        tags = [{"Key": k, "Value": v} for k, v in auto.items()]
        self.tags[arn] = tags
        self._add_tags(arn, given or [])

    def _add_tags(self, arn: str, given: list[dict[str, str]]) -> None:
        tags = self.tags.setdefault(arn, [])
        for tag in given:
            for existing in tags:
                if existing["Key"] == tag["Key"]:
                    existing["Value"] = tag.get("Value", "")
                    break
            else:
                tags.append({"Key": tag["Key"], "Value": tag.get("Value", "")})
        if len(tags) > 50:
            raise AwsError("ResourceLimitExceeded", f"Tag limit (50) exceeded for {arn}")

    def tick(self) -> None:
        """Apply the status transitions whose time has come (lazily, on each request)."""
        now = utcnow()
        for app in self.apps:
            if app["Status"] == "Pending" and now >= app["_ready_at"]:
                app["Status"] = "InService"
            elif app["Status"] == "Deleting" and now >= app["_deleted_at"]:
                app["Status"] = "Deleted"
        for image in self.images.values():
            for version in image["_versions"]:
                if version["ImageVersionStatus"] == "CREATING" and now >= version["_ready_at"]:
                    version["ImageVersionStatus"] = "CREATED"
                    version["LastModifiedTime"] = version["_ready_at"]

    def domain(self, domain_id: str) -> dict[str, Any]:
        try:
            return self.domains[domain_id]
        except KeyError:
            raise not_found(
                "Cannot find Domain {}".format(self.arn("domain/" + domain_id))
            ) from None

    def profile(self, domain_id: str, name: str) -> dict[str, Any]:
        self.domain(domain_id)
        try:
            return self.profiles[(domain_id, name)]
        except KeyError:
            raise not_found(
                "User profile does not exist: {}".format(
                    self.arn(f"user-profile/{domain_id}/{name}")
                )
            ) from None

    def space(self, domain_id: str, name: str) -> dict[str, Any]:
        self.domain(domain_id)
        try:
            return self.spaces[(domain_id, name)]
        except KeyError:
            raise not_found(
                "Space does not exist: {}".format(self.arn(f"space/{domain_id}/{name}"))
            ) from None

    def _check_lcc_settings(self, settings: dict[str, Any] | None, where: str) -> None:
        """Classic JupyterServer apps need a DefaultResourceSpec when LCCs are attached."""
        jupyter = (settings or {}).get("JupyterServerAppSettings") or {}
        if jupyter.get("LifecycleConfigArns") and not jupyter.get("DefaultResourceSpec"):
            raise invalid(
                f"{where}.JupyterServerAppSettings.DefaultResourceSpec must be provided when "
                "LifecycleConfigArns are specified"
            )
        for app_settings in (settings or {}).values():
            if not isinstance(app_settings, dict):
                continue
            for lcc_arn in app_settings.get("LifecycleConfigArns") or []:
                if not any(
                    lcc["StudioLifecycleConfigArn"] == lcc_arn for lcc in self.lccs.values()
                ):
                    raise not_found(f"Studio Lifecycle Config {lcc_arn} does not exist")

    # -- domains -------------------------------------------------------------------------------

    def create_domain(self, p: dict[str, Any]) -> dict[str, Any]:
        for existing in self.domains.values():
            if existing["DomainName"] == p["DomainName"]:
                raise in_use("Domain with name {} already exists".format(p["DomainName"]))
        if p.get("AppNetworkAccessType") == "VpcOnly" and not p.get("SubnetIds"):
            raise invalid("SubnetIds are required when AppNetworkAccessType is VpcOnly")
        self._check_lcc_settings(p.get("DefaultUserSettings"), "DefaultUserSettings")
        domain_id = "d-" + _rand(12)
        arn = self.arn("domain/" + domain_id)
        now = utcnow()
        kms = p.get("KmsKeyId") or p.get("HomeEfsFileSystemKmsKeyId")
        record = {
            "DomainArn": arn,
            "DomainId": domain_id,
            "DomainName": p["DomainName"],
            "HomeEfsFileSystemId": "fs-" + _rand(17, "0123456789abcdef"),
            "Status": "InService",
            "CreationTime": now,
            "LastModifiedTime": now,
            "SecurityGroupIdForDomainBoundary": "sg-" + _rand(17, "0123456789abcdef"),
            "AuthMode": p["AuthMode"],
            "DefaultUserSettings": copy.deepcopy(p["DefaultUserSettings"]),
            "DomainSettings": copy.deepcopy(p.get("DomainSettings") or {}),
            "AppNetworkAccessType": p.get("AppNetworkAccessType") or "PublicInternetOnly",
            "HomeEfsFileSystemKmsKeyId": kms,
            "KmsKeyId": kms,
            "SubnetIds": list(p.get("SubnetIds") or []),
            "VpcId": p.get("VpcId"),
            "Url": f"https://{domain_id}.studio.{self.region}.sagemaker.aws",
            "AppSecurityGroupManagement": p.get("AppSecurityGroupManagement"),
            "TagPropagation": p.get("TagPropagation") or "DISABLED",
            "DefaultSpaceSettings": copy.deepcopy(p.get("DefaultSpaceSettings") or {}),
            "_next_uid": 200001,
        }
        if p["AuthMode"] == "SSO":
            record["SingleSignOnManagedApplicationInstanceId"] = "ins-" + _rand(16)
        self.domains[domain_id] = record
        self._set_tags(arn, {}, p.get("Tags"))
        return {"DomainArn": arn, "DomainId": domain_id, "Url": record["Url"]}

    def describe_domain(self, p: dict[str, Any]) -> dict[str, Any]:
        return _public(self.domain(p["DomainId"]))

    def list_domains(self, p: dict[str, Any]) -> dict[str, Any]:
        items = sorted(self.domains.values(), key=lambda d: d["CreationTime"], reverse=True)
        page, nxt = _paginate(items, p)
        keys = ("DomainArn", "DomainId", "DomainName", "Status", "CreationTime")
        keys += ("LastModifiedTime", "Url")
        summaries = [{k: d[k] for k in keys} for d in page]
        return {"Domains": summaries, "NextToken": nxt}

    def update_domain(self, p: dict[str, Any]) -> dict[str, Any]:
        domain = self.domain(p["DomainId"])
        user_settings = _merge_first_level(
            domain["DefaultUserSettings"], p.get("DefaultUserSettings")
        )
        self._check_lcc_settings(user_settings, "DefaultUserSettings")
        domain["DefaultUserSettings"] = user_settings
        if "DomainSettingsForUpdate" in p:
            update = dict(p["DomainSettingsForUpdate"])
            rstudio = update.pop("RStudioServerProDomainSettingsForUpdate", None)
            if rstudio is not None:
                update["RStudioServerProDomainSettings"] = rstudio
            domain["DomainSettings"] = _merge_first_level(domain["DomainSettings"], update)
        if "DefaultSpaceSettings" in p:
            domain["DefaultSpaceSettings"] = _merge_first_level(
                domain["DefaultSpaceSettings"], p["DefaultSpaceSettings"]
            )
        for key in ("AppSecurityGroupManagement", "SubnetIds", "AppNetworkAccessType",
                    "TagPropagation", "VpcId"):  # fmt: skip
            if key in p:
                domain[key] = copy.deepcopy(p[key])
        if domain["AppNetworkAccessType"] == "VpcOnly" and not domain["SubnetIds"]:
            raise invalid("SubnetIds are required when AppNetworkAccessType is VpcOnly")
        domain["LastModifiedTime"] = utcnow()
        return {"DomainArn": domain["DomainArn"]}

    def delete_domain(self, p: dict[str, Any]) -> dict[str, Any]:
        domain = self.domain(p["DomainId"])
        domain_id = domain["DomainId"]
        if any(key[0] == domain_id for key in list(self.profiles) + list(self.spaces)):
            raise in_use(
                "Domain {} has user profiles or spaces; delete them first".format(
                    domain["DomainArn"]
                )
            )
        del self.domains[domain_id]
        self.tags.pop(domain["DomainArn"], None)
        return {}

    # -- user profiles -------------------------------------------------------------------------

    def create_user_profile(self, p: dict[str, Any]) -> dict[str, Any]:
        domain = self.domain(p["DomainId"])
        key = (domain["DomainId"], p["UserProfileName"])
        arn = self.arn("user-profile/{}/{}".format(*key))
        if key in self.profiles:
            raise in_use(f"Resource Already Exists: UserProfile with ARN {arn} already exists")
        self._check_lcc_settings(p.get("UserSettings"), "UserSettings")
        now = utcnow()
        uid = domain["_next_uid"]
        domain["_next_uid"] += 1
        self.profiles[key] = {
            "DomainId": domain["DomainId"],
            "UserProfileArn": arn,
            "UserProfileName": p["UserProfileName"],
            "HomeEfsFileSystemUid": str(uid),
            "Status": "InService",
            "LastModifiedTime": now,
            "CreationTime": now,
            "SingleSignOnUserIdentifier": p.get("SingleSignOnUserIdentifier"),
            "SingleSignOnUserValue": p.get("SingleSignOnUserValue"),
            "UserSettings": copy.deepcopy(p.get("UserSettings") or {}),
        }
        auto = {"sagemaker:domain-arn": domain["DomainArn"], "sagemaker:user-profile-arn": arn}
        self._set_tags(arn, auto, p.get("Tags"))
        return {"UserProfileArn": arn}

    def describe_user_profile(self, p: dict[str, Any]) -> dict[str, Any]:
        return _public(self.profile(p["DomainId"], p["UserProfileName"]))

    def list_user_profiles(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self.profiles.values())
        if p.get("DomainIdEquals"):
            items = [i for i in items if i["DomainId"] == p["DomainIdEquals"]]
        if p.get("UserProfileNameContains"):
            items = [i for i in items if p["UserProfileNameContains"] in i["UserProfileName"]]
        keys = {"CreationTime": "CreationTime", "LastModifiedTime": "LastModifiedTime"}
        page, nxt = _paginate(_sort(items, p, keys, "CreationTime"), p)
        fields = ("DomainId", "UserProfileName", "Status", "CreationTime", "LastModifiedTime")
        return {"UserProfiles": [{k: i[k] for k in fields} for i in page], "NextToken": nxt}

    def update_user_profile(self, p: dict[str, Any]) -> dict[str, Any]:
        profile = self.profile(p["DomainId"], p["UserProfileName"])
        settings = _merge_first_level(profile["UserSettings"], p.get("UserSettings"))
        self._check_lcc_settings(settings, "UserSettings")
        profile["UserSettings"] = settings
        profile["LastModifiedTime"] = utcnow()
        return {"UserProfileArn": profile["UserProfileArn"]}

    def delete_user_profile(self, p: dict[str, Any]) -> dict[str, Any]:
        profile = self.profile(p["DomainId"], p["UserProfileName"])
        key = (p["DomainId"], p["UserProfileName"])
        if self._live_apps(p["DomainId"], "UserProfileName", p["UserProfileName"]):
            raise in_use(
                "User profile {} has apps that are not deleted".format(profile["UserProfileArn"])
            )
        for space in self.spaces.values():
            owner = (space.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
            if space["DomainId"] == p["DomainId"] and owner == p["UserProfileName"]:
                raise in_use("User profile {} owns space {}".format(key[1], space["SpaceName"]))
        del self.profiles[key]
        self.tags.pop(profile["UserProfileArn"], None)
        return {}

    # -- spaces --------------------------------------------------------------------------------

    def create_space(self, p: dict[str, Any]) -> dict[str, Any]:
        domain = self.domain(p["DomainId"])
        key = (domain["DomainId"], p["SpaceName"])
        arn = self.arn("space/{}/{}".format(*key))
        if key in self.spaces:
            raise in_use(f"Resource Already Exists: Space with ARN {arn} already exists")
        owner = (p.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
        if owner:
            self.profile(domain["DomainId"], owner)
        sharing = (p.get("SpaceSharingSettings") or {}).get("SharingType")
        if bool(owner) != bool(sharing):
            raise invalid("OwnershipSettings and SpaceSharingSettings must be provided together")
        self._check_lcc_settings(p.get("SpaceSettings"), "SpaceSettings")
        now = utcnow()
        uid = domain["_next_uid"]
        domain["_next_uid"] += 1
        self.spaces[key] = {
            "DomainId": domain["DomainId"],
            "SpaceArn": arn,
            "SpaceName": p["SpaceName"],
            "HomeEfsFileSystemUid": str(uid),
            "Status": "InService",
            "LastModifiedTime": now,
            "CreationTime": now,
            "SpaceSettings": copy.deepcopy(p.get("SpaceSettings") or {}),
            "OwnershipSettings": copy.deepcopy(p.get("OwnershipSettings")),
            "SpaceSharingSettings": copy.deepcopy(p.get("SpaceSharingSettings")),
            "SpaceDisplayName": p.get("SpaceDisplayName") or p["SpaceName"],
            "Url": f"https://{_rand(15)}.studio.{self.region}.sagemaker.aws/jupyterlab/default",
        }
        auto = {"sagemaker:domain-arn": domain["DomainArn"], "sagemaker:space-arn": arn}
        self._set_tags(arn, auto, p.get("Tags"))
        return {"SpaceArn": arn}

    def describe_space(self, p: dict[str, Any]) -> dict[str, Any]:
        return _public(self.space(p["DomainId"], p["SpaceName"]))

    def list_spaces(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self.spaces.values())
        if p.get("DomainIdEquals"):
            items = [i for i in items if i["DomainId"] == p["DomainIdEquals"]]
        if p.get("SpaceNameContains"):
            items = [i for i in items if p["SpaceNameContains"] in i["SpaceName"]]
        keys = {"CreationTime": "CreationTime", "LastModifiedTime": "LastModifiedTime"}
        page, nxt = _paginate(_sort(items, p, keys, "CreationTime"), p)
        out = []
        for space in page:
            settings = space["SpaceSettings"]
            summary = {
                k: space[k]
                for k in ("DomainId", "SpaceName", "Status", "CreationTime", "LastModifiedTime")
            }
            summary["SpaceDisplayName"] = space["SpaceDisplayName"]
            summary["SpaceSettingsSummary"] = {
                k: settings[k]
                for k in ("AppType", "RemoteAccess", "SpaceStorageSettings")
                if k in settings
            }
            if space["SpaceSharingSettings"]:
                summary["SpaceSharingSettingsSummary"] = space["SpaceSharingSettings"]
            if space["OwnershipSettings"]:
                summary["OwnershipSettingsSummary"] = space["OwnershipSettings"]
            out.append(summary)
        return {"Spaces": out, "NextToken": nxt}

    def update_space(self, p: dict[str, Any]) -> dict[str, Any]:
        space = self.space(p["DomainId"], p["SpaceName"])
        settings = _merge_first_level(space["SpaceSettings"], p.get("SpaceSettings"))
        self._check_lcc_settings(settings, "SpaceSettings")
        space["SpaceSettings"] = settings
        if p.get("SpaceDisplayName"):
            space["SpaceDisplayName"] = p["SpaceDisplayName"]
        space["LastModifiedTime"] = utcnow()
        return {"SpaceArn": space["SpaceArn"]}

    def delete_space(self, p: dict[str, Any]) -> dict[str, Any]:
        space = self.space(p["DomainId"], p["SpaceName"])
        if self._live_apps(p["DomainId"], "SpaceName", p["SpaceName"]):
            raise in_use("Space {} has apps that are not deleted".format(space["SpaceArn"]))
        del self.spaces[(p["DomainId"], p["SpaceName"])]
        self.tags.pop(space["SpaceArn"], None)
        return {}

    # -- apps ----------------------------------------------------------------------------------

    def _live_apps(self, domain_id: str, owner_key: str, owner: str) -> list[dict[str, Any]]:
        return [
            a
            for a in self.apps
            if a["DomainId"] == domain_id
            and a.get(owner_key) == owner
            and a["Status"] in LIVE_APP_STATES
        ]

    def _owner(self, p: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        """(key, name, record) of the app owner: exactly one of UserProfileName / SpaceName."""
        user, space = p.get("UserProfileName"), p.get("SpaceName")
        if bool(user) == bool(space):
            raise invalid("Exactly one of UserProfileName or SpaceName must be specified")
        if user:
            return "UserProfileName", user, self.profile(p["DomainId"], user)
        return "SpaceName", space, self.space(p["DomainId"], space)

    def _find_app(self, p: dict[str, Any]) -> dict[str, Any] | None:
        owner_key, owner, _ = self._owner(p)
        found = None
        for app in self.apps:
            if (
                app["DomainId"] == p["DomainId"]
                and app.get(owner_key) == owner
                and app["AppType"] == p["AppType"]
                and app["AppName"] == p["AppName"]
            ):
                found = app  # the latest one wins
        return found

    def _default_resource_spec(self, app_type: str, owner_key: str, owner: dict) -> dict:
        settings_key = app_type + "AppSettings"
        domain = self.domains[owner["DomainId"]]
        layers = [domain["DefaultUserSettings"]]
        if owner_key == "SpaceName":
            layers.append(domain.get("DefaultSpaceSettings") or {})
            layers.append(owner["SpaceSettings"])
        else:
            layers.append(owner["UserSettings"])
        spec: dict[str, Any] = {}
        for layer in layers:
            spec.update((layer.get(settings_key) or {}).get("DefaultResourceSpec") or {})
        return spec

    def create_app(self, p: dict[str, Any]) -> dict[str, Any]:
        owner_key, owner_name, owner = self._owner(p)
        domain = self.domains[p["DomainId"]]
        app_type = p["AppType"]
        existing = self._find_app(p)
        if existing is not None and existing["Status"] in LIVE_APP_STATES:
            raise in_use(
                "Resource Already Exists: App with ARN {} already exists".format(existing["AppArn"])
            )
        if owner_key == "SpaceName" and app_type in ("JupyterLab", "CodeEditor"):
            for app in self._live_apps(p["DomainId"], "SpaceName", owner_name):
                if app["AppType"] in ("JupyterLab", "CodeEditor"):
                    raise in_use(f"Space {owner_name} already has a running app")
        spec = self._default_resource_spec(app_type, owner_key, owner)
        spec.update(p.get("ResourceSpec") or {})
        spec.setdefault("InstanceType", DEFAULT_INSTANCE.get(app_type, "ml.t3.medium"))
        if "SageMakerImageArn" not in spec and app_type in DEFAULT_IMAGES:
            spec["SageMakerImageArn"] = (
                f"arn:aws:sagemaker:{self.region}:{image_account(self.region)}:image/{DEFAULT_IMAGES[app_type]}"
            )
        if spec.get("SageMakerImageArn") and "SageMakerImageVersionArn" not in spec:
            version_arn = spec["SageMakerImageArn"].replace(":image/", ":image-version/", 1)
            spec["SageMakerImageVersionArn"] = version_arn + "/1"
        quota = APP_QUOTAS.get(app_type)
        if quota is not None:
            same = [
                a
                for a in self._live_apps(p["DomainId"], owner_key, owner_name)
                if a["AppType"] == app_type
                and a["ResourceSpec"].get("InstanceType") == spec["InstanceType"]
            ]
            if len(same) >= quota:
                raise AwsError(
                    "ResourceLimitExceeded",
                    f"The account-level service limit 'Studio {app_type} Apps running on "
                    f"{spec['InstanceType']} instance' is {quota} Apps, with current utilization "
                    f"of {len(same)} Apps and a request delta of 1 Apps.",
                )
        owner_arn = owner["UserProfileArn" if owner_key == "UserProfileName" else "SpaceArn"]
        arn = self.arn(
            "app/{}/{}/{}/{}".format(p["DomainId"], owner_name, app_type.lower(), p["AppName"])
        )
        now = utcnow()
        start = SETTINGS.app_start_delay
        app = {
            "AppArn": arn,
            "AppType": app_type,
            "AppName": p["AppName"],
            "DomainId": p["DomainId"],
            owner_key: owner_name,
            "Status": "Pending" if start > 0 else "InService",
            "CreationTime": now,
            "LastUserActivityTimestamp": now,
            "LastHealthCheckTimestamp": now,
            "ResourceSpec": spec,
            "_ready_at": now + timedelta(seconds=start),
        }
        if p.get("RecoveryMode") is not None:
            app["RecoveryMode"] = p["RecoveryMode"]
        self.apps.append(app)
        owner_tag = (
            "sagemaker:user-profile-arn"
            if owner_key == "UserProfileName"
            else ("sagemaker:space-arn")
        )
        auto = {"sagemaker:domain-arn": domain["DomainArn"], owner_tag: owner_arn}
        self._set_tags(arn, auto, p.get("Tags"))
        return {"AppArn": arn}

    def describe_app(self, p: dict[str, Any]) -> dict[str, Any]:
        app = self._find_app(p)
        if app is None:
            raise not_found("App with name {} does not exist".format(p["AppName"]))
        return _public(app)

    def list_apps(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self.apps)
        if p.get("DomainIdEquals"):
            items = [a for a in items if a["DomainId"] == p["DomainIdEquals"]]
        if p.get("UserProfileNameEquals"):
            items = [a for a in items if a.get("UserProfileName") == p["UserProfileNameEquals"]]
        if p.get("SpaceNameEquals"):
            items = [a for a in items if a.get("SpaceName") == p["SpaceNameEquals"]]
        items = _sort(items, p, {"CreationTime": "CreationTime"}, "CreationTime")
        page, nxt = _paginate(items, p)
        fields = ("DomainId", "UserProfileName", "SpaceName", "AppType", "AppName", "Status",
                  "CreationTime", "ResourceSpec")  # fmt: skip
        return {"Apps": [{k: a[k] for k in fields if k in a} for a in page], "NextToken": nxt}

    def delete_app(self, p: dict[str, Any]) -> dict[str, Any]:
        app = self._find_app(p)
        if app is None or app["Status"] in ("Deleted", "Failed"):
            raise not_found("App with name {} does not exist".format(p["AppName"]))
        if app["Status"] == "Deleting":
            raise in_use("App {} is already being deleted".format(app["AppArn"]))
        app["Status"] = "Deleting"
        app["_deleted_at"] = utcnow() + timedelta(seconds=SETTINGS.app_delete_delay)
        return {}

    # -- studio lifecycle configs --------------------------------------------------------------

    def _lcc(self, name: str) -> dict[str, Any]:
        try:
            return self.lccs[name]
        except KeyError:
            raise not_found(f"Studio Lifecycle Config {name} does not exist") from None

    def create_studio_lifecycle_config(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["StudioLifecycleConfigName"]
        arn = self.arn("studio-lifecycle-config/" + name)
        if name in self.lccs:
            raise in_use(
                f"Resource Already Exists: Studio Lifecycle Config with ARN {arn} already exists"
            )
        content = p["StudioLifecycleConfigContent"]
        try:
            base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise invalid("StudioLifecycleConfigContent must be base64 encoded") from None
        now = utcnow()
        self.lccs[name] = {
            "StudioLifecycleConfigArn": arn,
            "StudioLifecycleConfigName": name,
            "CreationTime": now,
            "LastModifiedTime": now,
            "StudioLifecycleConfigContent": content,
            "StudioLifecycleConfigAppType": p["StudioLifecycleConfigAppType"],
        }
        self._set_tags(arn, {}, p.get("Tags"))
        return {"StudioLifecycleConfigArn": arn}

    def describe_studio_lifecycle_config(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self._lcc(p["StudioLifecycleConfigName"]))

    def list_studio_lifecycle_configs(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self.lccs.values())
        if p.get("NameContains"):
            items = [i for i in items if p["NameContains"] in i["StudioLifecycleConfigName"]]
        if p.get("AppTypeEquals"):
            items = [i for i in items if i["StudioLifecycleConfigAppType"] == p["AppTypeEquals"]]
        items = _time_filters(
            items,
            p,
            {
                "CreationTimeBefore": ("CreationTime", True),
                "CreationTimeAfter": ("CreationTime", False),
                "ModifiedTimeBefore": ("LastModifiedTime", True),
                "ModifiedTimeAfter": ("LastModifiedTime", False),
            },
        )
        keys = {
            "CreationTime": "CreationTime",
            "LastModifiedTime": "LastModifiedTime",
            "Name": "StudioLifecycleConfigName",
        }
        page, nxt = _paginate(_sort(items, p, keys, "CreationTime"), p)
        summaries = [
            {k: v for k, v in i.items() if k != "StudioLifecycleConfigContent"} for i in page
        ]
        return {"StudioLifecycleConfigs": summaries, "NextToken": nxt}

    def delete_studio_lifecycle_config(self, p: dict[str, Any]) -> dict[str, Any]:
        lcc = self._lcc(p["StudioLifecycleConfigName"])
        arn = lcc["StudioLifecycleConfigArn"]
        users = (
            [d["DefaultUserSettings"] for d in self.domains.values()]
            + [d["DefaultSpaceSettings"] for d in self.domains.values()]
            + [u["UserSettings"] for u in self.profiles.values()]
            + [s["SpaceSettings"] for s in self.spaces.values()]
            + [a["ResourceSpec"] for a in self.apps if a["Status"] in LIVE_APP_STATES]
        )
        if any(_refers_to(u, arn) for u in users):
            raise in_use(f"Studio Lifecycle Config {arn} is in use; detach it first")
        del self.lccs[lcc["StudioLifecycleConfigName"]]
        self.tags.pop(arn, None)
        return {}

    # -- images --------------------------------------------------------------------------------

    def _image(self, name: str) -> dict[str, Any]:
        try:
            return self.images[name]
        except KeyError:
            raise not_found("Image {} does not exist".format(self.arn("image/" + name))) from None

    def create_image(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["ImageName"]
        arn = self.arn("image/" + name)
        if name in self.images:
            raise in_use(f"Resource Already Exists: Image with ARN {arn} already exists")
        now = utcnow()
        self.images[name] = {
            "CreationTime": now,
            "Description": p.get("Description"),
            "DisplayName": p.get("DisplayName"),
            "ImageArn": arn,
            "ImageName": name,
            "ImageStatus": "CREATED",
            "LastModifiedTime": now,
            "RoleArn": p["RoleArn"],
            "_versions": [],
        }
        self._set_tags(arn, {}, p.get("Tags"))
        return {"ImageArn": arn}

    def describe_image(self, p: dict[str, Any]) -> dict[str, Any]:
        return _public(self._image(p["ImageName"]))

    def update_image(self, p: dict[str, Any]) -> dict[str, Any]:
        image = self._image(p["ImageName"])
        for prop in p.get("DeleteProperties") or []:
            image[prop] = None
        for key in ("Description", "DisplayName", "RoleArn"):
            if p.get(key):
                image[key] = p[key]
        image["LastModifiedTime"] = utcnow()
        return {"ImageArn": image["ImageArn"]}

    def delete_image(self, p: dict[str, Any]) -> dict[str, Any]:
        image = self._image(p["ImageName"])
        del self.images[p["ImageName"]]
        self.tags.pop(image["ImageArn"], None)
        for version in image["_versions"]:
            self.tags.pop(version["ImageVersionArn"], None)
        return {}

    def list_images(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self.images.values())
        if p.get("NameContains"):
            items = [i for i in items if p["NameContains"] in i["ImageName"]]
        items = _time_filters(
            items,
            p,
            {
                "CreationTimeBefore": ("CreationTime", True),
                "CreationTimeAfter": ("CreationTime", False),
                "LastModifiedTimeBefore": ("LastModifiedTime", True),
                "LastModifiedTimeAfter": ("LastModifiedTime", False),
            },
        )
        keys = {
            "CREATION_TIME": "CreationTime",
            "LAST_MODIFIED_TIME": "LastModifiedTime",
            "IMAGE_NAME": "ImageName",
        }
        page, nxt = _paginate(_sort(items, p, keys, "CREATION_TIME"), p)
        return {"Images": [_public(i) for i in page], "NextToken": nxt}

    def create_image_version(self, p: dict[str, Any]) -> dict[str, Any]:
        image = self._image(p["ImageName"])
        versions = image["_versions"]
        for version in versions:
            if version["_token"] == p.get("ClientToken"):
                return {"ImageVersionArn": version["ImageVersionArn"]}  # idempotent retry
            if version["ImageVersionStatus"] == "CREATING":
                raise in_use("Image {} has a version being created".format(image["ImageArn"]))
        number = max([v["Version"] for v in versions] or [0]) + 1
        arn = self.arn(f"image-version/{image['ImageName']}/{number}")
        now = utcnow()
        record = {
            "BaseImage": p["BaseImage"],
            "ContainerImage": p["BaseImage"],
            "CreationTime": now,
            "ImageArn": image["ImageArn"],
            "ImageVersionArn": arn,
            "ImageVersionStatus": "CREATING",
            "LastModifiedTime": now,
            "Version": number,
            "_aliases": list(p.get("Aliases") or []),
            "_ready_at": now + timedelta(seconds=SETTINGS.image_version_delay),
            "_token": p.get("ClientToken"),
        }
        for key in ("VendorGuidance", "JobType", "MLFramework", "ProgrammingLang", "Processor",
                    "Horovod", "ReleaseNotes"):  # fmt: skip
            if key in p:
                record[key] = p[key]
        versions.append(record)
        image["LastModifiedTime"] = now
        if SETTINGS.image_version_delay <= 0:
            self.tick()
        return {"ImageVersionArn": arn}

    def _image_version(self, p: dict[str, Any]) -> dict[str, Any]:
        image = self._image(p["ImageName"])
        versions = image["_versions"]
        chosen = None
        if p.get("Version") is not None:
            chosen = next((v for v in versions if v["Version"] == p["Version"]), None)
        elif p.get("Alias"):
            chosen = next((v for v in versions if p["Alias"] in v["_aliases"]), None)
        elif versions:
            chosen = versions[-1]
        if chosen is None:
            raise not_found("Image version of {} does not exist".format(image["ImageArn"]))
        return chosen

    def describe_image_version(self, p: dict[str, Any]) -> dict[str, Any]:
        return _public(self._image_version(p))

    def delete_image_version(self, p: dict[str, Any]) -> dict[str, Any]:
        version = self._image_version(p)
        self.images[p["ImageName"]]["_versions"].remove(version)
        return {}

    def list_image_versions(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self._image(p["ImageName"])["_versions"])
        items = _time_filters(
            items,
            p,
            {
                "CreationTimeBefore": ("CreationTime", True),
                "CreationTimeAfter": ("CreationTime", False),
                "LastModifiedTimeBefore": ("LastModifiedTime", True),
                "LastModifiedTimeAfter": ("LastModifiedTime", False),
            },
        )
        keys = {
            "CREATION_TIME": "CreationTime",
            "LAST_MODIFIED_TIME": "LastModifiedTime",
            "VERSION": "Version",
        }
        page, nxt = _paginate(_sort(items, p, keys, "CREATION_TIME"), p)
        fields = ("CreationTime", "FailureReason", "ImageArn", "ImageVersionArn",
                  "ImageVersionStatus", "LastModifiedTime", "Version")  # fmt: skip
        return {
            "ImageVersions": [{k: v[k] for k in fields if k in v} for v in page],
            "NextToken": nxt,
        }

    # -- app image configs ---------------------------------------------------------------------

    CONFIG_KEYS = (
        "KernelGatewayImageConfig",
        "JupyterLabAppImageConfig",
        "CodeEditorAppImageConfig",
    )

    def _aic(self, name: str) -> dict[str, Any]:
        try:
            return self.app_image_configs[name]
        except KeyError:
            raise not_found(f"AppImageConfig {name} does not exist") from None

    def create_app_image_config(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["AppImageConfigName"]
        arn = self.arn("app-image-config/" + name)
        if name in self.app_image_configs:
            raise in_use(f"Resource Already Exists: AppImageConfig with ARN {arn} already exists")
        now = utcnow()
        record: dict[str, Any] = {
            "AppImageConfigArn": arn,
            "AppImageConfigName": name,
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        for key in self.CONFIG_KEYS:
            if key in p:
                record[key] = copy.deepcopy(p[key])
        self.app_image_configs[name] = record
        self._set_tags(arn, {}, p.get("Tags"))
        return {"AppImageConfigArn": arn}

    def describe_app_image_config(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self._aic(p["AppImageConfigName"]))

    def update_app_image_config(self, p: dict[str, Any]) -> dict[str, Any]:
        record = self._aic(p["AppImageConfigName"])
        for key in self.CONFIG_KEYS:
            if key in p:
                record[key] = copy.deepcopy(p[key])
        record["LastModifiedTime"] = utcnow()
        return {"AppImageConfigArn": record["AppImageConfigArn"]}

    def delete_app_image_config(self, p: dict[str, Any]) -> dict[str, Any]:
        record = self._aic(p["AppImageConfigName"])
        del self.app_image_configs[p["AppImageConfigName"]]
        self.tags.pop(record["AppImageConfigArn"], None)
        return {}

    def list_app_image_configs(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self.app_image_configs.values())
        if p.get("NameContains"):
            items = [i for i in items if p["NameContains"] in i["AppImageConfigName"]]
        items = _time_filters(
            items,
            p,
            {
                "CreationTimeBefore": ("CreationTime", True),
                "CreationTimeAfter": ("CreationTime", False),
                "ModifiedTimeBefore": ("LastModifiedTime", True),
                "ModifiedTimeAfter": ("LastModifiedTime", False),
            },
        )
        keys = {
            "CreationTime": "CreationTime",
            "LastModifiedTime": "LastModifiedTime",
            "Name": "AppImageConfigName",
        }
        page, nxt = _paginate(_sort(items, p, keys, "CreationTime"), p)
        return {"AppImageConfigs": [dict(i) for i in page], "NextToken": nxt}

    # -- tags ----------------------------------------------------------------------------------

    def owns(self, arn: str | None) -> bool:
        """Whether ``arn`` names a resource type this store serves (existing or not)."""
        if not arn or not arn.startswith("arn:aws:sagemaker:"):
            return False
        resource = arn.split(":", 5)[-1].split("/", 1)[0]
        return resource in STUDIO_RESOURCE_TYPES

    def _tags_of(self, arn: str) -> list[dict[str, str]]:
        try:
            return self.tags[arn]
        except KeyError:
            raise not_found(f"Resource {arn} does not exist") from None

    def add_tags(self, p: dict[str, Any]) -> dict[str, Any]:
        self._tags_of(p["ResourceArn"])
        self._add_tags(p["ResourceArn"], p.get("Tags") or [])
        return {"Tags": self.tags[p["ResourceArn"]]}

    def list_tags(self, p: dict[str, Any]) -> dict[str, Any]:
        page, nxt = _paginate(self._tags_of(p["ResourceArn"]), p, default=50)
        return {"Tags": page, "NextToken": nxt}

    def delete_tags(self, p: dict[str, Any]) -> dict[str, Any]:
        keys = set(p.get("TagKeys") or [])
        tags = self._tags_of(p["ResourceArn"])
        self.tags[p["ResourceArn"]] = [t for t in tags if t["Key"] not in keys]
        return {}

    # -- in-process helpers for the Emulator ---------------------------------------------------

    def app_by_arn(self, arn: str) -> dict[str, Any]:
        for app in reversed(self.apps):
            if app["AppArn"] == arn:
                return app
        raise KeyError(arn)


def _op_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_STORE_METHODS = [
    "create_domain", "describe_domain", "list_domains", "update_domain", "delete_domain",
    "create_user_profile", "describe_user_profile", "list_user_profiles", "update_user_profile",
    "delete_user_profile", "create_space", "describe_space", "list_spaces", "update_space",
    "delete_space", "create_app", "describe_app", "list_apps", "delete_app",
    "create_studio_lifecycle_config", "describe_studio_lifecycle_config",
    "list_studio_lifecycle_configs", "delete_studio_lifecycle_config", "create_image",
    "describe_image", "update_image", "delete_image", "list_images", "create_image_version",
    "describe_image_version", "delete_image_version", "list_image_versions",
    "create_app_image_config", "describe_app_image_config", "update_app_image_config",
    "delete_app_image_config", "list_app_image_configs",
]  # fmt: skip

#: Action name (X-Amz-Target suffix) → StudioStore method.
OPERATIONS: dict[str, Callable[[StudioStore, dict[str, Any]], dict[str, Any]]] = {
    _op_name(name): getattr(StudioStore, name) for name in _STORE_METHODS
}
#: Served by the store only when the ARN is one of ours; otherwise by moto.
TAG_OPERATIONS = {
    "AddTags": StudioStore.add_tags,
    "ListTags": StudioStore.list_tags,
    "DeleteTags": StudioStore.delete_tags,
}

_store_lock = threading.Lock()


def get_store(account_id: str, region: str) -> StudioStore:
    """The store of one account and region, created on first use, dropped by moto's reset."""
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[account_id][region]
    with _store_lock:
        store = backend.__dict__.get("_smstudio_store")
        if store is None:
            store = StudioStore(account_id, region)
            backend.__dict__["_smstudio_store"] = store
    return store


def _error_response(response: Any, error: AwsError) -> tuple[int, dict[str, str], str]:
    body = json.dumps({"__type": error.code, "message": error.message})
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "x-amzn-ErrorType": error.code,
        "x-amzn-RequestId": _rand(8, "0123456789abcdef") + "-" + _rand(4, "0123456789abcdef"),
    }
    return error.status, headers, body


def _handle(response: Any, action: str) -> tuple[int, dict[str, str], Any] | None:
    """Serve ``action`` from the store, or return None to let moto do it."""
    from moto.core.responses import ActionResult

    try:
        params = json.loads(response.body or "{}")
    except ValueError:
        return _error_response(response, AwsError("SerializationException", "Invalid JSON body"))
    store = get_store(response.current_account, response.region)
    handler = OPERATIONS.get(action)
    if handler is None:
        handler = TAG_OPERATIONS.get(action)
        if handler is None or not store.owns(params.get("ResourceArn")):
            return None
    try:
        errors = validation_errors("sagemaker", action, params)
        if errors:
            raise invalid(validation_message(errors))
        with store.lock:
            store.tick()
            result = handler(store, params)
    except AwsError as error:
        log.debug("sagemaker %s -> %s: %s", action, error.code, error.message)
        return _error_response(response, error)
    status, headers, body = response.serialized(ActionResult(result))
    return status, headers, body


def install() -> None:
    """Patch moto's SageMaker response class (idempotent; safe to call from many emulators)."""
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(SageMakerResponse, "_smstudio_installed", False):
        return
    original = SageMakerResponse.call_action

    def call_action(self: Any) -> Any:
        action = self._get_action()
        if action in OPERATIONS or action in TAG_OPERATIONS:
            handled = _handle(self, action)
            if handled is not None:
                return handled
        return original(self)

    SageMakerResponse.call_action = call_action  # type: ignore[method-assign]
    SageMakerResponse._smstudio_installed = True  # type: ignore[attr-defined]
