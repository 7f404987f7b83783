"""Custom SageMaker images and their versions (``CREATING → CREATED`` after a delay)."""

from __future__ import annotations

from datetime import datetime, timedelta

from smstudio_ext.clock import utcnow

from .errors import already_exists, in_use, not_found
from .listing import list_page, pick, public, time_filters
from .settings import SETTINGS
from .state import Record, StoreState, lookup

#: ``SortBy`` values common to ListImages and ListImageVersions.
_BY_TIME = {"CREATION_TIME": "CreationTime", "LAST_MODIFIED_TIME": "LastModifiedTime"}

_VERSION_DETAILS = (
    "VendorGuidance",
    "JobType",
    "MLFramework",
    "ProgrammingLang",
    "Processor",
    "Horovod",
    "ReleaseNotes",
)


class ImagesMixin(StoreState):
    def _advance(self, now: datetime) -> None:
        super()._advance(now)
        for image in self.images.values():
            for version in image["_versions"]:
                if version["ImageVersionStatus"] == "CREATING" and now >= version["_ready_at"]:
                    version["ImageVersionStatus"] = "CREATED"
                    version["LastModifiedTime"] = version["_ready_at"]

    # -- images ---------------------------------------------------------------------------------

    def _image(self, name: str) -> Record:
        arn = self.arn("image/" + name)
        return lookup(self.images, name, f"Image {arn} does not exist")

    def create_image(self, p: Record) -> Record:
        name = p["ImageName"]
        arn = self.arn("image/" + name)
        if name in self.images:
            raise already_exists("Image", arn)
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

    def describe_image(self, p: Record) -> Record:
        return public(self._image(p["ImageName"]))

    def update_image(self, p: Record) -> Record:
        image = self._image(p["ImageName"])
        for prop in p.get("DeleteProperties") or []:
            image[prop] = None
        for key in ("Description", "DisplayName", "RoleArn"):
            if p.get(key):
                image[key] = p[key]
        image["LastModifiedTime"] = utcnow()
        return {"ImageArn": image["ImageArn"]}

    def delete_image(self, p: Record) -> Record:
        image = self._image(p["ImageName"])
        del self.images[p["ImageName"]]
        self.tags.pop(image["ImageArn"], None)
        for version in image["_versions"]:
            self.tags.pop(version["ImageVersionArn"], None)
        return {}

    def list_images(self, p: Record) -> Record:
        return list_page(
            self.images.values(),
            p,
            "Images",
            contains={"NameContains": "ImageName"},
            times=time_filters("LastModifiedTime"),
            sort_keys={**_BY_TIME, "IMAGE_NAME": "ImageName"},
            default_sort="CREATION_TIME",
        )

    # -- image versions -------------------------------------------------------------------------

    def create_image_version(self, p: Record) -> Record:
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
        for key in _VERSION_DETAILS:
            if key in p:
                record[key] = p[key]
        versions.append(record)
        image["LastModifiedTime"] = now
        if SETTINGS.image_version_delay <= 0:
            self.tick()
        return {"ImageVersionArn": arn}

    def _image_version(self, p: Record) -> Record:
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

    def describe_image_version(self, p: Record) -> Record:
        return public(self._image_version(p))

    def delete_image_version(self, p: Record) -> Record:
        version = self._image_version(p)
        self.images[p["ImageName"]]["_versions"].remove(version)
        return {}

    def list_image_versions(self, p: Record) -> Record:
        return list_page(
            self._image(p["ImageName"])["_versions"],
            p,
            "ImageVersions",
            summary=pick(
                "CreationTime",
                "FailureReason",
                "ImageArn",
                "ImageVersionArn",
                "ImageVersionStatus",
                "LastModifiedTime",
                "Version",
            ),  # fmt: skip
            times=time_filters("LastModifiedTime"),
            sort_keys={**_BY_TIME, "VERSION": "Version"},
            default_sort="CREATION_TIME",
        )
