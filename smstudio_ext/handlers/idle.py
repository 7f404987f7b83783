"""Idle shutdown doors: GET smstudio/idle, PUT smstudio/idle/settings, POST smstudio/idle/keepalive,
and (opt-in, ``IdleShutdown.serve_api_idle``) GET /api/idle in the platform's format.

None of these requests counts as user activity (``BaseHandler._track_activity = False``).
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ..errors import BadInput
from ..idle.monitor import IdleMonitor
from ..services import Services
from .base import BaseHandler, handle_errors


def _idle(handler: BaseHandler) -> IdleMonitor:
    return handler.services.require("idle")


class IdleStatusHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def get(self) -> None:
        idle = _idle(self)
        refresh = self.bool_arg("refresh")
        if refresh or idle.last is None:
            await idle.refresh()
        self.write_json(idle.status())


class IdleSettingsHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def put(self) -> None:
        idle = _idle(self)
        idle.update_settings(self.json_body())
        await idle.refresh()
        self.write_json(idle.status())


class IdleKeepAliveHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def post(self) -> None:
        idle = _idle(self)
        body = self.json_body()
        if "minutes" not in body:
            raise BadInput('missing "minutes" (e.g. {"minutes": 120}; 0 cancels)')
        idle.keepalive(body["minutes"])
        await idle.refresh()  # never waits behind a running check (a final backup)
        self.write_json(idle.status())


class ApiIdleHandler(BaseHandler):
    """``{"lastActiveTimestamp": "2026-11-30T02:17:30.123456z"}``, never going backwards."""

    @web.authenticated
    @handle_errors
    async def get(self) -> None:
        self.write_json({"lastActiveTimestamp": _idle(self).last_active_timestamp()})


ROUTES = [
    (r"idle", IdleStatusHandler),
    (r"idle/settings", IdleSettingsHandler),
    (r"idle/keepalive", IdleKeepAliveHandler),
]

# Served only when the idle engine says so (``IdleShutdown.serve_api_idle`` on and Studio's own
# activity-monitor extension, which serves the same path in SageMaker Distribution images, off).
API_IDLE_ROUTE = (r"/api/idle", ApiIdleHandler)


def routes(services: Services | None) -> list[tuple[str, Any]]:
    """The idle routes this server serves, as the engine declared them."""
    idle = services.idle if services is not None else None
    return ROUTES + ([API_IDLE_ROUTE] if idle is not None and idle.serves_api_idle else [])
