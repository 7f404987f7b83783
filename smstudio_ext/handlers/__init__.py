"""REST doors onto the engines. Each module lists ``ROUTES`` relative to ``<base_url>/smstudio/``."""

from __future__ import annotations

import importlib
from typing import Any

# One module per concern; each exports ROUTES = [(relative_pattern, HandlerClass), ...].
MODULES = ("context", "conda", "idle", "insights", "backup")


def all_routes() -> list[tuple[str, Any]]:
    """Patterns relative to the server's base_url (jupyter_server prepends it)."""
    routes: list[tuple[str, Any]] = []
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        for pattern, handler in module.ROUTES:
            if pattern.startswith("/"):  # outside our namespace (e.g. the platform's /api/idle)
                routes.append((pattern, handler))
            else:
                routes.append((f"/smstudio/{pattern}", handler))
    return routes
