"""GET smstudio/insights: tags, costs and guardrails of this profile/space (the panel's data)."""

from __future__ import annotations

from tornado import web

from ..errors import BadInput
from ..insights.engine import PARTS
from .base import BaseHandler, handle_errors


class InsightsHandler(BaseHandler):
    @web.authenticated
    @handle_errors
    async def get(self) -> None:
        engine = self.services.require("insights")
        refresh = self.bool_arg("refresh")
        raw_parts = self.get_argument("parts", ",".join(PARTS))
        parts = [p.strip() for p in raw_parts.split(",") if p.strip()]
        unknown = [p for p in parts if p not in PARTS]
        if unknown or not parts:
            raise BadInput(
                f"parts must be a comma-separated subset of {', '.join(PARTS)}; got {raw_parts!r}"
            )
        data = await self.run_blocking(engine.collect, refresh=refresh, parts=parts)
        self.write_json(data)


ROUTES = [(r"insights", InsightsHandler)]
