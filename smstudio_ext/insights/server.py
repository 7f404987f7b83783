"""Wiring the insights engine into the Jupyter server (``setup_insights(app)``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from traitlets import TraitError

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
    services = app.services
    config_error = None
    try:
        config = Insights(parent=app)
    except TraitError as exc:  # a bad admin value must not take the whole extension down
        config_error = f"invalid Insights config, using the defaults: {exc}"
        log.error("smstudio: %s", config_error)
        config = Insights()
    engine = InsightsEngine(
        services.aws,
        config,
        services.context,
        providers={
            "idle": summary_provider(services, "idle"),
            "backup": summary_provider(services, "backup"),
        },
    )
    engine.config_error = config_error
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
