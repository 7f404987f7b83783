"""Studio lifecycle configurations, and the check that settings only attach existing ones."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from smstudio_ext.clock import utcnow

from .errors import already_exists, in_use, invalid
from .listing import BY_TIME, list_page, time_filters
from .rules import check_settings
from .state import LIVE_APP_STATES, Record, StoreState, lookup


def check_lcc_settings(
    store: StoreState, settings: Record | None, where: str, kind: str = "user"
) -> None:
    """Every attached LCC exists and fits its app settings (see :mod:`.rules`)."""
    check_settings(store, settings, where, kind)


def _refers_to(value: Any, arn: str) -> bool:
    if isinstance(value, dict):
        return any(_refers_to(v, arn) for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, arn) for v in value)
    return bool(value == arn)


class LifecycleConfigsMixin(StoreState):
    def _lcc(self, name: str) -> Record:
        return lookup(self.lccs, name, f"Studio Lifecycle Config {name} does not exist")

    def create_studio_lifecycle_config(self, p: Record) -> Record:
        name = p["StudioLifecycleConfigName"]
        arn = self.arn("studio-lifecycle-config/" + name)
        if name in self.lccs:
            raise already_exists("Studio Lifecycle Config", arn)
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

    def describe_studio_lifecycle_config(self, p: Record) -> Record:
        return dict(self._lcc(p["StudioLifecycleConfigName"]))

    def list_studio_lifecycle_configs(self, p: Record) -> Record:
        return list_page(
            self.lccs.values(),
            p,
            "StudioLifecycleConfigs",
            summary=lambda i: {k: v for k, v in i.items() if k != "StudioLifecycleConfigContent"},
            contains={"NameContains": "StudioLifecycleConfigName"},
            equals={"AppTypeEquals": "StudioLifecycleConfigAppType"},
            times=time_filters("ModifiedTime"),
            sort_keys={**BY_TIME, "Name": "StudioLifecycleConfigName"},
        )

    def delete_studio_lifecycle_config(self, p: Record) -> Record:
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
