"""GET smstudio/conda/envs: persisted environments, their kernels or why they have none."""

from __future__ import annotations

from typing import Any

from tornado import web

from ..conda.document import envs_document
from .base import BaseHandler, handle_errors


def envs_payload(manager: Any, sizes: bool = True) -> dict[str, Any]:
    manager.refresh_kernels()  # a request is a cheap moment to catch up (stat calls only)
    return envs_document(manager, sizes)


class CondaEnvsHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def get(self) -> None:
        manager = self.services.require("conda")
        sizes = self.bool_arg("sizes", True)
        self.write_json(await self.run_blocking(envs_payload, manager, sizes))


ROUTES = [(r"conda/envs", CondaEnvsHandler)]
