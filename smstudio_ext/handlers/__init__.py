"""REST doors onto the engines. Each module lists ``ROUTES`` relative to ``<base_url>/smstudio/``."""

from __future__ import annotations

import importlib
from typing import Any

# One module per concern; each exports ROUTES = [(relative_pattern, HandlerClass), ...], or
# ``routes(services)`` when an engine decides at setup which of its routes are served.
MODULES = ("context", "conda", "idle", "insights", "backup")


def all_routes(services: Any = None) -> list[tuple[str, Any]]:
    """Patterns relative to the server's base_url (jupyter_server prepends it). ``services``:
    the engines as built (None: only the routes every server has)."""
    routes: list[tuple[str, Any]] = []
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        declared = module.routes(services) if hasattr(module, "routes") else module.ROUTES
        for pattern, handler in declared:
            if pattern.startswith("/"):  # outside our namespace (e.g. the platform's /api/idle)
                routes.append((pattern, handler))
            else:
                routes.append((f"/smstudio/{pattern}", handler))
    return routes
