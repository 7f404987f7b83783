"""Wiring the insights engine into the Jupyter server (``setup_insights(app)``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .config import Insights
from .engine import InsightsEngine

log = logging.getLogger("smstudio_ext")


def setup_insights(app: Any) -> InsightsEngine:
    """Build the engine from the ``Insights`` section and expose it as ``services.insights``."""
    services = app.services
    config = Insights(parent=app)  # a bad section raises: the app disables the engine
    engine = InsightsEngine(
        services.aws,
        config,
        services.context,
        providers={"idle": services.summary_of("idle"), "backup": services.summary_of("backup")},
    )
    services.insights = engine
    app.add_loop(lambda: _close_at_stop(engine))
    log.info("smstudio: insights ready (%d guardrail checks)", len(engine.registry.ids()))
    return engine


async def _close_at_stop(engine: InsightsEngine) -> None:
    """Not a loop: waits until the server stops (the task is cancelled), then frees the pools."""
    try:
        await asyncio.Event().wait()
    finally:
        engine.close()
