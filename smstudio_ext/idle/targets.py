"""What the idle monitor may shut down, and which observations belong to which of it.

Studio (spaces): this app (DescribeApp once for its instance type and creation time). Studio
Classic: this user profile's KernelGateway apps (and, if the admin allows, its JupyterServer),
listed through AWS every check, never another profile's. Local: nothing (a target that cannot
be deleted, so the status still shows the decision).
"""

from __future__ import annotations

import logging
from typing import Any

from ..apps import AppInfo, describe_app, iter_apps
from ..aws import AwsClients
from ..context import StudioContext
from ..errors import SmStudioError
from .classic import kernel_app, terminal_app
from .policy import Target
from .signals import KernelInfo, Observation, SignalReport, TerminalInfo

log = logging.getLogger("smstudio_ext")


class Targets:
    """Finds the targets of each check (``find``); remembers this app's DescribeApp."""

    def __init__(
        self, context: StudioContext, clients: AwsClients | None, *, delete_jupyter_server: bool
    ) -> None:
        self.context = context
        self.clients = clients
        self.delete_jupyter_server = delete_jupyter_server
        self._self_app: AppInfo | None = None

    def find(self) -> tuple[list[Target], dict[str, Any] | None]:
        """The targets now, and the error (``last_error`` shape) that left some out."""
        ctx = self.context
        if ctx.kind == "spaces":
            return [self._self_target()], None
        if ctx.kind == "classic" and self.clients is not None and ctx.domain_id:
            return self._classic_targets(self.clients, ctx.domain_id)
        return [Target(key="local", deletable=False)], None

    def _classic_targets(
        self, clients: AwsClients, domain_id: str
    ) -> tuple[list[Target], dict[str, Any] | None]:
        profile = self.context.user_profile_name
        if not profile:
            # ListApps without a profile lists the whole domain: other users' apps. Never.
            return [], {
                "error": "no_user_profile",
                "detail": "UserProfileName is missing from the resource metadata: cannot "
                "tell this user's apps from others', deleting nothing",
                "action": None,
            }
        try:
            apps = list(
                iter_apps(clients, domain_id, user_profile_name=profile, statuses=("InService",))
            )
        except SmStudioError as exc:
            log.warning("smstudio idle: cannot list this profile's apps: %s", exc.message)
            return [], exc.to_dict()
        targets = []
        for app in apps:
            if app.user_profile_name != profile:
                continue  # only apps of this user profile (strictly)
            if app.space_name:
                continue
            if app.app_type == "KernelGateway" or (
                app.app_type == "JupyterServer" and self.delete_jupyter_server
            ):
                targets.append(Target.of(app))
        return targets, None

    def _self_target(self) -> Target:
        ctx = self.context
        deletable = bool(ctx.domain_id and ctx.app_type and ctx.app_name and self.clients)
        if self._self_app is None and deletable and self.clients is not None:
            try:
                self._self_app = describe_app(
                    self.clients,
                    ctx.domain_id or "",
                    ctx.app_type or "",
                    ctx.app_name or "",
                    space_name=ctx.space_name,
                    user_profile_name=None if ctx.space_name else ctx.user_profile_name,
                )
            except SmStudioError as exc:
                log.info(
                    "smstudio idle: DescribeApp of this app failed (%s); will retry", exc.message
                )
        app = self._self_app or AppInfo(
            domain_id=ctx.domain_id or "",
            app_type=ctx.app_type or "",
            app_name=ctx.app_name or "",
            status="InService",
            space_name=ctx.space_name,
            user_profile_name=None if ctx.space_name else ctx.user_profile_name,
        )
        return Target.of(app, deletable=deletable)


def attribute(
    kind: str, reports: list[SignalReport], targets: list[Target]
) -> dict[str, list[Observation]]:
    """Which observations belong to which target (Classic: kernel/terminal -> app; elsewhere
    every observation is the one app's)."""
    per: dict[str, list[Observation]] = {t.key: [] for t in targets}
    if kind != "classic":
        for r in reports:
            for o in r.observations:
                for key in per:
                    per[key].append(o)
        return per
    apps = [t.app for t in targets if t.app is not None]
    kg_keys = [t.key for t in targets if t.app_type == "KernelGateway"]
    js_keys = [t.key for t in targets if t.app_type == "JupyterServer"]
    for r in reports:
        for o in r.observations:
            if r.scope == "all":
                keys = list(per)
            elif isinstance(o.ref, KernelInfo):
                m = kernel_app(o.ref, apps)
                keys = [f"KernelGateway/{a}" for a in m.apps]
                if not m.mapped:
                    o.reason += f" [not mapped to an app: {m.how}]"
                    # an active kernel we cannot place keeps every app alive
                    keys = kg_keys if o.active else js_keys
            elif isinstance(o.ref, TerminalInfo):
                m = terminal_app(o.ref.name, apps)
                keys = [f"KernelGateway/{a}" for a in m.apps] if m.mapped else js_keys
            else:  # processes on the JupyterServer instance
                keys = js_keys
            for key in keys:
                if key in per:
                    per[key].append(o)
    return per
