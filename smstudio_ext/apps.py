"""The Studio apps of one user profile or space: list, describe, delete (shared by every engine).

Studio Classic: a profile owns a ``JupyterServer`` app (instance type ``system``) and
``KernelGateway`` apps; Studio (spaces): a space owns one ``JupyterLab`` or ``CodeEditor`` app.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from . import clock
from .aws import AwsClients, call, paginate
from .errors import NotFound

LIVE_STATUSES = ("InService", "Pending")

# ``...:image/NAME`` and ``...:image-version/NAME/VERSION`` (botocore's ImageArn and
# ImageVersionArn patterns); the name ends at the next "/".
_IMAGE_RE = re.compile(r"^arn:aws[a-z-]*:sagemaker:[^:]*:[^:]*:(?:image|image-version)/([^/]+)")


def image_name(arn: str | None) -> str | None:
    """The image's identity from an image or image-version ARN, **lowercased**; None if ``arn``
    is not one.

    Why lowercased: botocore's model lets an ImageName and an ImageArn hold capitals
    (``[a-zA-Z0-9]([-.]?[a-zA-Z0-9]){0,62}``) but an ImageVersionArn only lowercase
    (``image-version/[a-z0-9]([-.]?[a-z0-9])*/[0-9]+``): the service lowercases the name in
    version ARNs, so one image is named ``Team-Image`` in its image ARN and ``team-image`` in
    its version ARNs. Names are therefore compared case-insensitively, and this is the one
    place that says how (sources in docs/studio-facts.md)."""
    if not arn:
        return None
    m = _IMAGE_RE.match(arn)
    return m.group(1).lower() if m else None


@dataclass
class AppInfo:
    domain_id: str
    app_type: str
    app_name: str
    status: str
    user_profile_name: str | None = None
    space_name: str | None = None
    app_arn: str | None = None
    instance_type: str | None = None
    image_arn: str | None = None
    image_version_arn: str | None = None
    # What real JupyterLab/CodeEditor apps report instead of a version ARN (e.g. "1.6.0"):
    # ResourceSpec.SageMakerImageVersionAlias
    image_version_alias: str | None = None
    lifecycle_config_arn: str | None = None
    created: datetime | None = None
    last_user_activity: datetime | None = None

    @property
    def owner(self) -> str | None:
        return self.space_name or self.user_profile_name

    def key(self) -> tuple[str, str, str]:
        return (self.owner or "", self.app_type, self.app_name)

    @property
    def image_name(self) -> str | None:
        """The image's lowercased name (see ``image_name``), from the image or version ARN."""
        return image_name(self.image_arn) or image_name(self.image_version_arn)

    @property
    def image(self) -> str | None:
        """One label for the image as the service reports it: ``NAME@ALIAS`` (spaces),
        the version ARN (pinned versions, Classic), else the image ARN."""
        if self.image_version_alias and self.image_name:
            return f"{self.image_name}@{self.image_version_alias}"
        return self.image_version_arn or self.image_arn

    def image_ids(self) -> set[str]:
        """Every identity an allow-list may name this image by, lowercased: the image ARN, the
        version ARN, the name, and ``NAME@ALIAS`` / ``NAME:ALIAS`` when an alias is reported."""
        ids = {self.image_arn, self.image_version_arn, self.image_name}
        if self.image_name and self.image_version_alias:
            ids |= {
                f"{self.image_name}@{self.image_version_alias}",
                f"{self.image_name}:{self.image_version_alias}",
            }
        return {i.lower() for i in ids if i}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("created", "last_user_activity"):
            if data[name] is not None:
                data[name] = clock.isoformat_z(data[name])
        return data


def _app_from(item: dict[str, Any]) -> AppInfo:
    spec = item.get("ResourceSpec") or {}
    return AppInfo(
        domain_id=item.get("DomainId", ""),
        app_type=item.get("AppType", ""),
        app_name=item.get("AppName", ""),
        status=item.get("Status", ""),
        user_profile_name=item.get("UserProfileName"),
        space_name=item.get("SpaceName"),
        app_arn=item.get("AppArn"),
        instance_type=spec.get("InstanceType"),
        image_arn=spec.get("SageMakerImageArn"),
        image_version_arn=spec.get("SageMakerImageVersionArn"),
        image_version_alias=spec.get("SageMakerImageVersionAlias"),
        lifecycle_config_arn=spec.get("LifecycleConfigArn"),
        created=item.get("CreationTime"),
        last_user_activity=item.get("LastUserActivityTimestamp"),
    )


def iter_apps(
    clients: AwsClients,
    domain_id: str,
    *,
    user_profile_name: str | None = None,
    space_name: str | None = None,
    statuses: tuple[str, ...] | None = LIVE_STATUSES,
) -> Iterator[AppInfo]:
    """Every app of the domain (optionally of one owner), following NextToken."""
    sm = clients.client("sagemaker")
    params: dict[str, Any] = {"DomainIdEquals": domain_id, "MaxResults": 100}
    if user_profile_name:
        params["UserProfileNameEquals"] = user_profile_name
    if space_name:
        params["SpaceNameEquals"] = space_name
    fetch = functools.partial(call, sm, "ListApps", domain_id)
    for item in paginate(fetch, "Apps", **params):
        app = _app_from(item)
        if statuses is None or app.status in statuses:
            yield app


def describe_app(
    clients: AwsClients,
    domain_id: str,
    app_type: str,
    app_name: str,
    *,
    user_profile_name: str | None = None,
    space_name: str | None = None,
) -> AppInfo:
    params: dict[str, Any] = {"DomainId": domain_id, "AppType": app_type, "AppName": app_name}
    if space_name:
        params["SpaceName"] = space_name
    elif user_profile_name:
        params["UserProfileName"] = user_profile_name
    item = call(clients.client("sagemaker"), "DescribeApp", resource=app_name, **params)
    return _app_from(item)


def delete_app(clients: AwsClients, app: AppInfo, **client_config: Any) -> bool:
    """DeleteApp; returns False when the app was already gone (ResourceNotFound)."""
    params: dict[str, Any] = {
        "DomainId": app.domain_id,
        "AppType": app.app_type,
        "AppName": app.app_name,
    }
    if app.space_name:
        params["SpaceName"] = app.space_name
    else:
        params["UserProfileName"] = app.user_profile_name
    sm = clients.client("sagemaker", **client_config)
    try:
        call(sm, "DeleteApp", resource=app.app_arn or app.app_name, **params)
    except NotFound:
        return False
    return True
