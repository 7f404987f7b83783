"""GET smstudio/conda/envs: persisted environments, their kernels or why they have none."""

from __future__ import annotations

from typing import Any

from tornado import web

from ..errors import BadInput
from .base import BaseHandler, handle_errors


def envs_payload(manager: Any, sizes: bool = True) -> dict[str, Any]:
    manager.refresh_kernels()  # a request is a cheap moment to catch up (stat calls only)
    listing = manager.list_envs(sizes=sizes)
    envs = [
        {
            "name": e.name,
            "path": e.path,
            "size_bytes": e.size_bytes,
            "python_version": e.python_version,
            "r_version": e.r_version,
            "language": "python" if e.python else "R",
            "kernels": e.kernels,
            "kernel_name": e.kernels[0] if e.kernels else None,
            "reason": e.reason,
            "fix": e.fix,
        }
        for e in listing.envs
    ]
    return {
        "envs_dir": manager.envs_dir,
        "kernel_mode": getattr(manager, "kernel_mode", None),
        "tool": listing.tool,
        "tool_message": listing.tool_message,
        "warnings": listing.warnings,
        "envs": envs,
    }


class CondaEnvsHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def get(self) -> None:
        manager = self.services.require("conda")
        flag = self.get_query_argument("sizes", "true").lower()
        if flag not in ("true", "false", "1", "0"):
            raise BadInput("sizes must be true or false")
        sizes = flag in ("true", "1")
        self.write_json(await self.run_blocking(envs_payload, manager, sizes))


ROUTES = [(r"conda/envs", CondaEnvsHandler)]
