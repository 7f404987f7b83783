"""Wiring the insights engine into the Jupyter server (``setup_insights(app)``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from .config import Insights
from .engine import InsightsEngine

log = logging.getLogger("smstudio_ext")


def summary_provider(services: Any, name: str) -> Callable[[], dict[str, Any] | None]:
    """A provider reading ``services.<name>.summary()`` at call time (engines may come later)."""

    def provide() -> dict[str, Any] | None:
        engine = getattr(services, name, None)
        summary = getattr(engine, "summary", None)
        return summary() if callable(summary) else None

    return provide


def setup_insights(app: Any) -> InsightsEngine:
    """Build the engine from the ``Insights`` section and expose it as ``services.insights``."""
    config = Insights(parent=app)
    services = app.services
    engine = InsightsEngine(
        services.aws,
        config,
        services.context,
        providers={
            "idle": summary_provider(services, "idle"),
            "backup": summary_provider(services, "backup"),
        },
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
