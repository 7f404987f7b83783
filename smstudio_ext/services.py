"""The seam between Jupyter and the engines: what handlers reach through
``settings["smstudio"]``, typed.

Each engine's ``<engine>/server.py::setup_<engine>(app)`` sets its service here; an engine whose
configuration is invalid is *unavailable* instead, with the reason (the same path for every
engine: ``StudioExtensionApp`` catches the bad section and calls ``disable``). A door asks with
``require(name)``, which answers the service or raises ``NotConfigured`` naming the engine and
why: the panel shows that per section (409 ``not_configured``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Literal, overload

from . import __version__, clock
from .apps import describe_app
from .aws import AwsClients
from .context import StudioContext
from .errors import NotConfigured, SmStudioError

if TYPE_CHECKING:
    from .backup.engine import BackupService
    from .conda.manage import CondaManager
    from .idle.monitor import IdleMonitor
    from .insights.engine import InsightsEngine
    from .rollout import RolloutRecord

log = logging.getLogger("smstudio_ext")

ENGINES = ("conda", "backup", "idle", "insights")


class Services:
    """The context, AWS clients and the engines of one server."""

    def __init__(
        self,
        context: StudioContext,
        aws: AwsClients,
        *,
        aws_error: dict[str, Any] | None = None,
        describe_cache_seconds: float = 300.0,
    ) -> None:
        self.context = context
        self.aws = aws
        self.aws_error = aws_error  # why no AWS call can succeed (e.g. an unknown region)
        self.version = __version__
        self.conda: CondaManager | None = None
        self.backup: BackupService | None = None
        self.idle: IdleMonitor | None = None
        self.insights: InsightsEngine | None = None
        self.rollout: RolloutRecord | None = None
        # engine name -> why it is unavailable (bad configuration)
        self.unavailable: dict[str, str] = {}
        self.describe_cache_seconds = describe_cache_seconds
        self._self_info: dict[str, Any] | None = None
        self._self_info_at = 0.0
        self._lock = threading.Lock()

    def disable(self, name: str, why: str) -> None:
        """Engine ``name`` is unavailable in this server, because ``why``."""
        if name not in ENGINES:
            raise ValueError(f"unknown engine {name!r}")
        setattr(self, name, None)
        self.unavailable[name] = why

    @overload
    def require(self, name: Literal["conda"]) -> CondaManager: ...
    @overload
    def require(self, name: Literal["backup"]) -> BackupService: ...
    @overload
    def require(self, name: Literal["idle"]) -> IdleMonitor: ...
    @overload
    def require(self, name: Literal["insights"]) -> InsightsEngine: ...

    def require(self, name: str) -> Any:
        """The service of engine ``name``, or ``NotConfigured`` saying why there is none."""
        service = getattr(self, name) if name in ENGINES else None
        if service is None:
            why = self.unavailable.get(name)
            if why:
                raise NotConfigured(f"the {name} engine is disabled: {why}")
            raise NotConfigured(f"the {name} engine is not set up in this server")
        return service

    def summary_of(self, name: str) -> Callable[[], dict[str, Any] | None]:
        """A provider reading ``<engine>.summary()`` at call time (engines may come later),
        None while the engine is not there."""

        def provide() -> dict[str, Any] | None:
            summary = getattr(getattr(self, name, None), "summary", None)
            return summary() if callable(summary) else None

        return provide

    def describe_self(self) -> dict[str, Any]:
        """The context plus this app's instance type/status/creation (DescribeApp, cached)."""
        info = self.context.to_dict()
        info.update(version=self.version, instance_type=None, app_status=None, app_created=None)
        info["aws_error"] = self.aws_error
        ctx = self.context
        if not (ctx.in_studio and ctx.domain_id and ctx.app_type and ctx.app_name):
            return info
        if self.aws_error:  # e.g. an unknown region: no call can succeed
            return info
        with self._lock:
            fresh = time.monotonic() - self._self_info_at < self.describe_cache_seconds
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
