"""Spaces (shared and private), with their summaries for ListSpaces."""

from __future__ import annotations

import copy

from smstudio_ext.clock import utcnow

from .domains import merge_first_level
from .errors import already_exists, in_use, invalid
from .inherit import persist_default
from .lifecycle_configs import check_lcc_settings
from .listing import BY_TIME, list_page, public
from .rules import check_space_update
from .state import Record, StoreState, rand_id


def _space_summary(space: Record) -> Record:
    settings = space["SpaceSettings"]
    summary = {
        k: space[k] for k in ("DomainId", "SpaceName", "Status", "CreationTime", "LastModifiedTime")
    }
    summary["SpaceDisplayName"] = space["SpaceDisplayName"]
    summary["SpaceSettingsSummary"] = {
        k: settings[k] for k in ("AppType", "RemoteAccess", "SpaceStorageSettings") if k in settings
    }
    if space["SpaceSharingSettings"]:
        summary["SpaceSharingSettingsSummary"] = space["SpaceSharingSettings"]
    if space["OwnershipSettings"]:
        summary["OwnershipSettingsSummary"] = space["OwnershipSettings"]
    return summary


class SpacesMixin(StoreState):
    def create_space(self, p: Record) -> Record:
        domain = self.domain(p["DomainId"])
        key = (domain["DomainId"], p["SpaceName"])
        arn = self.arn("space/{}/{}".format(*key))
        if key in self.spaces:
            raise already_exists("Space", arn)
        owner = (p.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
        if owner:
            self.profile(domain["DomainId"], owner)
        sharing = (p.get("SpaceSharingSettings") or {}).get("SharingType")
        if bool(owner) != bool(sharing):
            raise invalid("OwnershipSettings and SpaceSharingSettings must be provided together")
        check_lcc_settings(self, p.get("SpaceSettings"), "SpaceSettings", "space")
        now = utcnow()
        self.spaces[key] = {
            "DomainId": domain["DomainId"],
            "SpaceArn": arn,
            "SpaceName": p["SpaceName"],
            "HomeEfsFileSystemUid": self.next_uid(domain),
            "Status": "InService",
            "LastModifiedTime": now,
            "CreationTime": now,
            "SpaceSettings": merge_first_level(None, persist_default(self, domain, p)),
            "OwnershipSettings": copy.deepcopy(p.get("OwnershipSettings")),
            "SpaceSharingSettings": copy.deepcopy(p.get("SpaceSharingSettings")),
            "SpaceDisplayName": p.get("SpaceDisplayName") or p["SpaceName"],
            "Url": f"https://{rand_id(15)}.studio.{self.region}.sagemaker.aws/jupyterlab/default",
        }
        auto = {"sagemaker:domain-arn": domain["DomainArn"], "sagemaker:space-arn": arn}
        self._set_tags(arn, auto, p.get("Tags"))
        return {"SpaceArn": arn}

    def describe_space(self, p: Record) -> Record:
        return public(self.space(p["DomainId"], p["SpaceName"]))

    def list_spaces(self, p: Record) -> Record:
        return list_page(
            self.spaces.values(),
            p,
            "Spaces",
            summary=_space_summary,
            equals={"DomainIdEquals": "DomainId"},
            contains={"SpaceNameContains": "SpaceName"},
            sort_keys=BY_TIME,
        )

    def update_space(self, p: Record) -> Record:
        space = self.space(p["DomainId"], p["SpaceName"])
        check_space_update(p)
        settings = merge_first_level(space["SpaceSettings"], p.get("SpaceSettings"))
        check_lcc_settings(self, settings, "SpaceSettings", "space")
        space["SpaceSettings"] = settings
        if p.get("SpaceDisplayName"):
            space["SpaceDisplayName"] = p["SpaceDisplayName"]
        space["LastModifiedTime"] = utcnow()
        return {"SpaceArn": space["SpaceArn"]}

    def delete_space(self, p: Record) -> Record:
        space = self.space(p["DomainId"], p["SpaceName"])
        if self._live_apps(p["DomainId"], "SpaceName", p["SpaceName"]):
            raise in_use("Space {} has apps that are not deleted".format(space["SpaceArn"]))
        del self.spaces[(p["DomainId"], p["SpaceName"])]
        self.tags.pop(space["SpaceArn"], None)
        return {}
