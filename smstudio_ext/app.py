"""The Jupyter server extension: config sections, the engines it builds, its routes and loops.

Shape (jupyter_server ExtensionApp): traits and per-engine ``Configurable`` sections, services
built in ``initialize_settings``, routes from ``handlers``, background loops started in
``_start_jupyter_server_extension`` and cancelled in ``stop_extension``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Callable

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, TraitError
from traitlets.config import Configurable

from ._version import __version__
from .aws import Aws, AwsClients
from .backup.config import HomeBackup
from .backup.server import setup_backup
from .conda.config import CondaEnvs
from .conda.server import setup_conda
from .context import Studio, context_from_config
from .errors import SmStudioError
from .handlers import all_routes
from .idle.config import IdleShutdown
from .idle.server import setup_idle
from .insights.config import Insights
from .insights.server import setup_insights
from .rollout import setup_rollout
from .runtime_marker import remove_marker, write_marker
from .services import Services

log = logging.getLogger("smstudio_ext")


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
        self.services = Services(
            context,
            clients,
            aws_error=self.aws_error,
            describe_cache_seconds=self.describe_cache_seconds,
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._loops: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.settings.update({"smstudio": self.services})
        # One setup per engine, each setting its service on self.services (and loops); an
        # invalid section disables its engine with the reason, the same way for every engine
        for name, section, setup in (
            ("conda", CondaEnvs, setup_conda),
            ("backup", HomeBackup, setup_backup),
            ("idle", IdleShutdown, setup_idle),
            ("insights", Insights, setup_insights),
        ):
            self._setup_engine(name, section, setup)
        setup_rollout(self)  # proof of rollout: our version as a tag on the space, once a start
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

    def _setup_engine(
        self, name: str, section: type[Configurable], setup: Callable[[Any], Any]
    ) -> None:
        """``setup(self)``; a bad ``section`` (a trait refused by its validation, or a value
        the engine refuses) disables only this engine, with the reason naming the trait."""
        try:
            setup(self)
        except (TraitError, SmStudioError) as exc:
            message = exc.message if isinstance(exc, SmStudioError) else str(exc)
            why = f"invalid {section.__name__} config: {message}"
            log.error("smstudio %s: disabled: %s", name, why)
            self.services.disable(name, why)

    def initialize_handlers(self) -> None:
        self.handlers.extend(all_routes(self.services))

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
