"""App image configs: the kernel/file-system settings that attach a custom image to an app type."""

from __future__ import annotations

import copy

from smstudio_ext.clock import utcnow

from .errors import already_exists
from .listing import BY_TIME, list_page, time_filters
from .rules import check_app_image_config
from .state import Record, StoreState, lookup

#: The per-app-type configuration members (copied as given, replaced whole on update).
CONFIG_KEYS = (
    "KernelGatewayImageConfig",
    "JupyterLabAppImageConfig",
    "CodeEditorAppImageConfig",
)


def _copy_configs(record: Record, p: Record) -> None:
    for key in CONFIG_KEYS:
        if key in p:
            record[key] = copy.deepcopy(p[key])


class AppImageConfigsMixin(StoreState):
    def _aic(self, name: str) -> Record:
        return lookup(self.app_image_configs, name, f"AppImageConfig {name} does not exist")

    def create_app_image_config(self, p: Record) -> Record:
        name = p["AppImageConfigName"]
        arn = self.arn("app-image-config/" + name)
        if name in self.app_image_configs:
            raise already_exists("AppImageConfig", arn)
        check_app_image_config(p)
        now = utcnow()
        record: Record = {
            "AppImageConfigArn": arn,
            "AppImageConfigName": name,
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        _copy_configs(record, p)
        self.app_image_configs[name] = record
        self._set_tags(arn, {}, p.get("Tags"))
        return {"AppImageConfigArn": arn}

    def describe_app_image_config(self, p: Record) -> Record:
        return dict(self._aic(p["AppImageConfigName"]))

    def update_app_image_config(self, p: Record) -> Record:
        record = self._aic(p["AppImageConfigName"])
        check_app_image_config(p)
        _copy_configs(record, p)
        record["LastModifiedTime"] = utcnow()
        return {"AppImageConfigArn": record["AppImageConfigArn"]}

    def delete_app_image_config(self, p: Record) -> Record:
        record = self._aic(p["AppImageConfigName"])
        del self.app_image_configs[p["AppImageConfigName"]]
        self.tags.pop(record["AppImageConfigArn"], None)
        return {}

    def list_app_image_configs(self, p: Record) -> Record:
        return list_page(
            self.app_image_configs.values(),
            p,
            "AppImageConfigs",
            summary=dict,
            contains={"NameContains": "AppImageConfigName"},
            times=time_filters("ModifiedTime"),
            sort_keys={**BY_TIME, "Name": "AppImageConfigName"},
        )
