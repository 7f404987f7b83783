"""The Studio apps of one user profile or space: list, describe, delete (shared by every engine).

Studio Classic: a profile owns a ``JupyterServer`` app (instance type ``system``) and
``KernelGateway`` apps; Studio (spaces): a space owns one ``JupyterLab`` or ``CodeEditor`` app.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from .aws import AwsClients, call, paginate
from .errors import NotFound

LIVE_STATUSES = ("InService", "Pending")


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
    lifecycle_config_arn: str | None = None
    created: datetime | None = None
    last_user_activity: datetime | None = None

    @property
    def owner(self) -> str | None:
        return self.space_name or self.user_profile_name

    def key(self) -> tuple[str, str, str]:
        return (self.owner or "", self.app_type, self.app_name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("created", "last_user_activity"):
            if data[name] is not None:
                data[name] = data[name].isoformat()
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
