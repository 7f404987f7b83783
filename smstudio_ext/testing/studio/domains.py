"""Domains and user profiles, and the first-level merge their Update* operations share."""

from __future__ import annotations

import copy

from smstudio_ext.clock import utcnow

from .errors import already_exists, in_use, invalid
from .lifecycle_configs import check_lcc_settings
from .listing import BY_TIME, list_page, pick, public
from .rules import check_domain_update
from .state import HEX, Record, StoreState, rand_id

_UPDATABLE_DOMAIN_KEYS = (
    "AppSecurityGroupManagement",
    "SubnetIds",
    "AppNetworkAccessType",
    "TagPropagation",
    "VpcId",
)


#: Members whose model pattern ends in ``|None``: the value "None" clears them (botocore model,
#: ResourceSpec.SageMakerImageVersionArn: "To clear the value set ..., pass None as the value").
CLEARABLE = ("LifecycleConfigArn", "BuiltInLifecycleConfigArn", "SageMakerImageVersionArn")


def drop_cleared(value: object) -> None:
    """Remove, in place and at any depth, the clearable members set to "None"."""
    if isinstance(value, dict):
        for key in [k for k in CLEARABLE if value.get(k) == "None"]:
            del value[key]
        for item in value.values():
            drop_cleared(item)
    elif isinstance(value, list):
        for item in value:
            drop_cleared(item)


def merge_first_level(old: Record | None, new: Record | None) -> Record:
    """UpdateDomain/UpdateUserProfile/UpdateSpace: given sub-structures replace, absent stay.

    Whether the service replaces a given sub-structure whole or merges it member by member is
    unverified; our code always sends whole app settings objects and clears a member with an
    explicit value ("None", an empty list), which works under both.
    """
    merged = copy.deepcopy(old or {})
    for key, value in (new or {}).items():
        merged[key] = copy.deepcopy(value)
    drop_cleared(merged)
    return merged


def _check_network(access_type: str | None, subnets: list[str] | None) -> None:
    if access_type == "VpcOnly" and not subnets:
        raise invalid("SubnetIds are required when AppNetworkAccessType is VpcOnly")


class DomainsMixin(StoreState):
    # -- domains --------------------------------------------------------------------------------

    def create_domain(self, p: Record) -> Record:
        for existing in self.domains.values():
            if existing["DomainName"] == p["DomainName"]:
                raise in_use("Domain with name {} already exists".format(p["DomainName"]))
        _check_network(p.get("AppNetworkAccessType"), p.get("SubnetIds"))
        check_lcc_settings(self, p.get("DefaultUserSettings"), "DefaultUserSettings")
        check_lcc_settings(
            self, p.get("DefaultSpaceSettings"), "DefaultSpaceSettings", "space-defaults"
        )
        domain_id = "d-" + rand_id(12)
        arn = self.arn("domain/" + domain_id)
        now = utcnow()
        kms = p.get("KmsKeyId") or p.get("HomeEfsFileSystemKmsKeyId")
        record = {
            "DomainArn": arn,
            "DomainId": domain_id,
            "DomainName": p["DomainName"],
            "HomeEfsFileSystemId": "fs-" + rand_id(17, HEX),
            "Status": "InService",
            "CreationTime": now,
            "LastModifiedTime": now,
            "SecurityGroupIdForDomainBoundary": "sg-" + rand_id(17, HEX),
            "AuthMode": p["AuthMode"],
            "DefaultUserSettings": merge_first_level(None, p["DefaultUserSettings"]),
            "DomainSettings": copy.deepcopy(p.get("DomainSettings") or {}),
            "AppNetworkAccessType": p.get("AppNetworkAccessType") or "PublicInternetOnly",
            "HomeEfsFileSystemKmsKeyId": kms,
            "KmsKeyId": kms,
            "SubnetIds": list(p.get("SubnetIds") or []),
            "VpcId": p.get("VpcId"),
            "Url": f"https://{domain_id}.studio.{self.region}.sagemaker.aws",
            "AppSecurityGroupManagement": p.get("AppSecurityGroupManagement"),
            "TagPropagation": p.get("TagPropagation") or "DISABLED",
            "DefaultSpaceSettings": merge_first_level(None, p.get("DefaultSpaceSettings")),
            "_next_uid": 200001,
        }
        if p["AuthMode"] == "SSO":
            record["SingleSignOnManagedApplicationInstanceId"] = "ins-" + rand_id(16)
        self.domains[domain_id] = record
        self._set_tags(arn, {}, p.get("Tags"))
        return {"DomainArn": arn, "DomainId": domain_id, "Url": record["Url"]}

    def describe_domain(self, p: Record) -> Record:
        return public(self.domain(p["DomainId"]))

    def list_domains(self, p: Record) -> Record:
        return list_page(
            self.domains.values(),
            {**p, "SortBy": None, "SortOrder": None},  # ListDomains: newest first, always
            "Domains",
            summary=pick(
                "DomainArn",
                "DomainId",
                "DomainName",
                "Status",
                "CreationTime",
                "LastModifiedTime",
                "Url",
            ),  # fmt: skip
        )

    def update_domain(self, p: Record) -> Record:
        domain = self.domain(p["DomainId"])
        check_domain_update(self, domain, p)
        user_settings = merge_first_level(
            domain["DefaultUserSettings"], p.get("DefaultUserSettings")
        )
        check_lcc_settings(self, user_settings, "DefaultUserSettings")
        space_settings = domain["DefaultSpaceSettings"]
        if "DefaultSpaceSettings" in p:
            space_settings = merge_first_level(space_settings, p["DefaultSpaceSettings"])
            check_lcc_settings(self, space_settings, "DefaultSpaceSettings", "space-defaults")
        domain["DefaultUserSettings"] = user_settings
        if "DomainSettingsForUpdate" in p:
            update = dict(p["DomainSettingsForUpdate"])
            rstudio = update.pop("RStudioServerProDomainSettingsForUpdate", None)
            if rstudio is not None:
                update["RStudioServerProDomainSettings"] = rstudio
            domain["DomainSettings"] = merge_first_level(domain["DomainSettings"], update)
        domain["DefaultSpaceSettings"] = space_settings
        for key in _UPDATABLE_DOMAIN_KEYS:
            if key in p:
                domain[key] = copy.deepcopy(p[key])
        _check_network(domain["AppNetworkAccessType"], domain["SubnetIds"])
        domain["LastModifiedTime"] = utcnow()
        return {"DomainArn": domain["DomainArn"]}

    def delete_domain(self, p: Record) -> Record:
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

    # -- user profiles --------------------------------------------------------------------------

    def create_user_profile(self, p: Record) -> Record:
        domain = self.domain(p["DomainId"])
        key = (domain["DomainId"], p["UserProfileName"])
        arn = self.arn("user-profile/{}/{}".format(*key))
        if key in self.profiles:
            raise already_exists("UserProfile", arn)
        check_lcc_settings(self, p.get("UserSettings"), "UserSettings")
        now = utcnow()
        self.profiles[key] = {
            "DomainId": domain["DomainId"],
            "UserProfileArn": arn,
            "UserProfileName": p["UserProfileName"],
            "HomeEfsFileSystemUid": self.next_uid(domain),
            "Status": "InService",
            "LastModifiedTime": now,
            "CreationTime": now,
            "SingleSignOnUserIdentifier": p.get("SingleSignOnUserIdentifier"),
            "SingleSignOnUserValue": p.get("SingleSignOnUserValue"),
            "UserSettings": merge_first_level(None, p.get("UserSettings")),
        }
        auto = {"sagemaker:domain-arn": domain["DomainArn"], "sagemaker:user-profile-arn": arn}
        self._set_tags(arn, auto, p.get("Tags"))
        return {"UserProfileArn": arn}

    def describe_user_profile(self, p: Record) -> Record:
        return public(self.profile(p["DomainId"], p["UserProfileName"]))

    def list_user_profiles(self, p: Record) -> Record:
        return list_page(
            self.profiles.values(),
            p,
            "UserProfiles",
            summary=pick(
                "DomainId", "UserProfileName", "Status", "CreationTime", "LastModifiedTime"
            ),
            equals={"DomainIdEquals": "DomainId"},
            contains={"UserProfileNameContains": "UserProfileName"},
            sort_keys=BY_TIME,
        )

    def update_user_profile(self, p: Record) -> Record:
        profile = self.profile(p["DomainId"], p["UserProfileName"])
        settings = merge_first_level(profile["UserSettings"], p.get("UserSettings"))
        check_lcc_settings(self, settings, "UserSettings")
        profile["UserSettings"] = settings
        profile["LastModifiedTime"] = utcnow()
        return {"UserProfileArn": profile["UserProfileArn"]}

    def delete_user_profile(self, p: Record) -> Record:
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
