"""The Jupyter server extension: config sections, the engines it builds, its routes and loops.

Shape (jupyter_server ExtensionApp): traits and per-engine ``Configurable`` sections, services
built in ``initialize_settings``, routes from ``handlers``, background loops started in
``_start_jupyter_server_extension`` and cancelled in ``stop_extension``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any, Callable

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float

from . import clock
from ._version import __version__
from .apps import describe_app
from .aws import Aws, AwsClients
from .backup.config import HomeBackup
from .backup.server import setup_backup
from .conda.config import CondaEnvs
from .conda.server import setup_conda
from .context import Studio, StudioContext, context_from_config
from .errors import SmStudioError
from .handlers import all_routes
from .idle.config import IdleShutdown
from .idle.server import setup_idle
from .insights.config import Insights
from .insights.server import setup_insights
from .rollout import setup_rollout
from .runtime_marker import remove_marker, write_marker

log = logging.getLogger("smstudio_ext")


class Services:
    """What handlers reach through ``settings["smstudio"]``: the context, AWS and the engines."""

    def __init__(self, app: StudioExtensionApp, context: StudioContext, aws: AwsClients) -> None:
        self.app = app
        self.context = context
        self.aws = aws
        self.version = __version__
        self._self_info: dict[str, Any] | None = None
        self._self_info_at = 0.0
        self._lock = threading.Lock()

    def describe_self(self) -> dict[str, Any]:
        """The context plus this app's instance type/status/creation (DescribeApp, cached)."""
        info = self.context.to_dict()
        info.update(version=self.version, instance_type=None, app_status=None, app_created=None)
        info["aws_error"] = self.app.aws_error
        ctx = self.context
        if not (ctx.in_studio and ctx.domain_id and ctx.app_type and ctx.app_name):
            return info
        if self.app.aws_error:  # e.g. an unknown region: no call can succeed
            return info
        with self._lock:
            fresh = time.monotonic() - self._self_info_at < self.app.describe_cache_seconds
            if self._self_info is None or not fresh:
                try:
                    app = describe_app(
                        self.aws,
                        ctx.domain_id,
                        ctx.app_type,
                        ctx.app_name,
                        user_profile_name=ctx.user_profile_name,
                        space_name=ctx.space_name if ctx.kind == "spaces" else None,
                    )
                    self._self_info = {
                        "instance_type": app.instance_type,
                        "app_status": app.status,
                        "app_created": clock.isoformat_z(app.created) if app.created else None,
                        "image_arn": app.image_arn,
                        "app_arn": app.app_arn,
                        "describe_error": None,
                    }
                except SmStudioError as exc:
                    log.warning("smstudio: DescribeApp of this app failed: %s", exc)
                    self._self_info = {"describe_error": exc.to_dict()}
                self._self_info_at = time.monotonic()
            info.update(self._self_info)
        return info


class StudioExtensionApp(ExtensionApp):
    """smstudio-ext inside Jupyter Server (Studio Classic JupyterServer or Studio JupyterLab)."""

    name = "smstudio_ext"
    load_other_extensions = True
    classes = [Studio, Aws, CondaEnvs, HomeBackup, IdleShutdown, Insights]

    describe_cache_seconds = Float(
        300.0, help="How long DescribeApp of this app is cached for GET smstudio/context."
    ).tag(config=True)

    aws_error: dict[str, Any] | None = None

    def _route_package_logs(self) -> None:
        """Send the engines' ``smstudio_ext`` log records to the server's log (stdout/stderr,
        which Studio ships to CloudWatch), unless logging is already configured globally."""
        pkg = logging.getLogger("smstudio_ext")
        if pkg.handlers or logging.getLogger().handlers:
            return
        for handler in self.log.handlers:
            pkg.addHandler(handler)
        pkg.setLevel(self.log.level)

    def initialize_settings(self) -> None:
        self._route_package_logs()
        self.studio = Studio(parent=self)
        self.aws_config = Aws(parent=self)
        context = context_from_config(self.studio)
        try:
            clients = AwsClients.from_config(self.aws_config, context.region)
        except SmStudioError as exc:  # e.g. an unknown region: report it, keep the server up
            log.error("smstudio: %s; AWS calls will fail until this is fixed", exc.message)
            clients = AwsClients(
                context.region,
                endpoint_urls=self.aws_config.endpoint_urls,
                max_attempts=self.aws_config.max_attempts,
                connect_timeout=self.aws_config.connect_timeout,
                read_timeout=self.aws_config.read_timeout,
                validate=False,
            )
            self.aws_error = exc.to_dict()
        self.services = Services(self, context, clients)
        self._tasks: list[asyncio.Task[Any]] = []
        self._loops: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.settings.update({"smstudio": self.services})
        # One setup per engine, each adding its service to self.services (and loops):
        # --- engine setup calls (keep one line each) ---
        setup_conda(self)
        setup_backup(self)
        setup_idle(self)
        setup_insights(self)
        setup_rollout(self)  # proof of rollout: our version as a tag on the space, once a start
        # --- end engine setup calls ---
        log.info(
            "smstudio %s: %s mode (domain=%s owner=%s app=%s/%s region=%s)",
            __version__,
            context.kind,
            context.domain_id,
            context.owner_name,
            context.app_type,
            context.app_name,
            clients.region,
        )
        self._marker = write_marker(self.serverapp)  # tells the lifecycle script we loaded

    def initialize_handlers(self) -> None:
        self.handlers.extend(all_routes())

    def add_loop(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Register a background coroutine started with the server and cancelled at stop."""
        self._loops.append(factory)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        for factory in self._loops:
            self._tasks.append(asyncio.ensure_future(factory()))

    async def stop_extension(self) -> None:
        remove_marker(getattr(self, "_marker", None))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
