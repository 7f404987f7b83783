"""Apps: owners, default resource specs and images, quotas, and status transitions.

Apps go ``Pending → InService`` after ``SETTINGS.app_start_delay`` and ``Deleting → Deleted``
after ``SETTINGS.app_delete_delay``, applied lazily by ``tick()`` on the next request.

``LastUserActivityTimestamp`` is reported equal to ``LastHealthCheckTimestamp`` (botocore model,
DescribeAppResponse: "LastUserActivityTimestamp is also updated when SageMaker AI performs health
checks without user activity. As a result, this value is set to the same value as
LastHealthCheckTimestamp"), and a running app is health-checked every
``SETTINGS.health_check_interval`` seconds (the real interval is unverified): it is never a sign
of user activity. Images: see :mod:`.platform_images`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from smstudio_ext.clock import utcnow

from .errors import already_exists, in_use, invalid, limit_exceeded, not_found
from .inherit import built_in, profile_layers, resolved_spec, space_layers
from .listing import list_page, pick, public
from .platform_images import default_image_arn, reported_spec
from .rules import check_app_lcc
from .settings import SETTINGS
from .state import LIVE_APP_STATES, Record, StoreState

DEFAULT_INSTANCE = {"JupyterServer": "system"}

#: Apps per owner per instance type per app type (the KernelGateway one is the documented quota).
APP_QUOTAS = {"KernelGateway": 4}

#: App types of which a space runs one at a time.
_ONE_PER_SPACE = ("JupyterLab", "CodeEditor")

#: Owner key (request parameter and app field) → (owner's ARN field, its automatic tag).
_OWNER_ARNS = {
    "UserProfileName": ("UserProfileArn", "sagemaker:user-profile-arn"),
    "SpaceName": ("SpaceArn", "sagemaker:space-arn"),
}


def _with_activity(app: Record) -> Record:
    app["LastUserActivityTimestamp"] = app["LastHealthCheckTimestamp"]
    return app


class AppsMixin(StoreState):
    def _advance(self, now: datetime) -> None:
        super()._advance(now)
        for app in self.apps:
            if app["Status"] == "Pending" and now >= app["_ready_at"]:
                app["Status"] = "InService"
                app["LastHealthCheckTimestamp"] = now
            elif app["Status"] == "InService":
                last = app["LastHealthCheckTimestamp"]
                if (now - last).total_seconds() >= SETTINGS.health_check_interval:
                    app["LastHealthCheckTimestamp"] = now
            elif app["Status"] == "Deleting" and now >= app["_deleted_at"]:
                app["Status"] = "Deleted"

    def _owner(self, p: Record) -> tuple[str, str, Record]:
        """(key, name, record) of the app owner: exactly one of UserProfileName / SpaceName."""
        user, space = p.get("UserProfileName"), p.get("SpaceName")
        if bool(user) == bool(space):
            raise invalid("Exactly one of UserProfileName or SpaceName must be specified")
        if user:
            return "UserProfileName", user, self.profile(p["DomainId"], user)
        assert space  # for mypy: exactly one of the two is set
        return "SpaceName", space, self.space(p["DomainId"], space)

    def _find_app(self, p: Record) -> Record | None:
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

    def _layers(self, owner_key: str, owner: Record) -> list[Record]:
        """The settings an app of ``owner`` inherits (see :mod:`.inherit`)."""
        domain = self.domains[owner["DomainId"]]
        if owner_key == "SpaceName":
            return space_layers(self, domain, owner)
        return profile_layers(domain, owner)

    def _resource_spec(self, p: Record, layers: list[Record]) -> Record:
        app_type = p["AppType"]
        spec = resolved_spec(layers, app_type)
        spec.update(p.get("ResourceSpec") or {})
        spec.setdefault("InstanceType", DEFAULT_INSTANCE.get(app_type, "ml.t3.medium"))
        if "SageMakerImageArn" not in spec:
            image = default_image_arn(self.region, app_type)
            if image:
                spec["SageMakerImageArn"] = image
        if spec.get("LifecycleConfigArn") == "None":
            del spec["LifecycleConfigArn"]
        return reported_spec(app_type, self.region, spec)

    def _check_quota(self, p: Record, owner_key: str, owner_name: str, spec: Record) -> None:
        app_type = p["AppType"]
        quota = APP_QUOTAS.get(app_type)
        if quota is None:
            return
        same = [
            a
            for a in self._live_apps(p["DomainId"], owner_key, owner_name)
            if a["AppType"] == app_type
            and a["ResourceSpec"].get("InstanceType") == spec["InstanceType"]
        ]
        if len(same) >= quota:
            raise limit_exceeded(
                f"The account-level service limit 'Studio {app_type} Apps running on "
                f"{spec['InstanceType']} instance' is {quota} Apps, with current utilization "
                f"of {len(same)} Apps and a request delta of 1 Apps."
            )

    def create_app(self, p: Record) -> Record:
        owner_key, owner_name, owner = self._owner(p)
        domain = self.domains[p["DomainId"]]
        app_type = p["AppType"]
        existing = self._find_app(p)
        if existing is not None and existing["Status"] in LIVE_APP_STATES:
            raise already_exists("App", existing["AppArn"])
        if owner_key == "SpaceName" and app_type in _ONE_PER_SPACE:
            for app in self._live_apps(p["DomainId"], "SpaceName", owner_name):
                if app["AppType"] in _ONE_PER_SPACE:
                    raise in_use(f"Space {owner_name} already has a running app")
        check_app_lcc(self, app_type, p.get("ResourceSpec") or {})
        layers = self._layers(owner_key, owner)
        spec = self._resource_spec(p, layers)
        self._check_quota(p, owner_key, owner_name, spec)
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
            "LastHealthCheckTimestamp": now,
            "ResourceSpec": spec,
            "_ready_at": now + timedelta(seconds=start),
        }
        if p.get("RecoveryMode") is not None:
            app["RecoveryMode"] = p["RecoveryMode"]
        built_in_arn = built_in(layers, app_type)
        if built_in_arn:
            app["BuiltInLifecycleConfigArn"] = built_in_arn
        self.apps.append(app)
        arn_field, owner_tag = _OWNER_ARNS[owner_key]
        auto = {"sagemaker:domain-arn": domain["DomainArn"], owner_tag: owner[arn_field]}
        self._set_tags(arn, auto, p.get("Tags"))
        return {"AppArn": arn}

    def describe_app(self, p: Record) -> Record:
        app = self._find_app(p)
        if app is None:
            raise not_found("App with name {} does not exist".format(p["AppName"]))
        return _with_activity(public(app))

    def list_apps(self, p: Record) -> Record:
        return list_page(
            self.apps,
            p,
            "Apps",
            summary=pick(
                "DomainId",
                "UserProfileName",
                "SpaceName",
                "AppType",
                "AppName",
                "Status",
                "CreationTime",
                "ResourceSpec",
            ),  # fmt: skip
            equals={
                "DomainIdEquals": "DomainId",
                "UserProfileNameEquals": "UserProfileName",
                "SpaceNameEquals": "SpaceName",
            },
        )

    def delete_app(self, p: Record) -> Record:
        app = self._find_app(p)
        if app is None or app["Status"] in ("Deleted", "Failed"):
            raise not_found("App with name {} does not exist".format(p["AppName"]))
        if app["Status"] == "Deleting":
            raise in_use("App {} is already being deleted".format(app["AppArn"]))
        app["Status"] = "Deleting"
        app["_deleted_at"] = utcnow() + timedelta(seconds=SETTINGS.app_delete_delay)
        return {}
