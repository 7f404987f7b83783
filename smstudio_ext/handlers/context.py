"""GET smstudio/context: where this server runs (and, in Studio, this app's instance type)."""

from __future__ import annotations

from tornado import web

from .base import BaseHandler, handle_errors


class ContextHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def get(self) -> None:
        info = await self.run_blocking(self.services.describe_self)
        self.write_json(info)


ROUTES = [(r"context", ContextHandler)]
