"""Engine reports as Jupyter events: the seam between the engines and the server's event bus.

jupyter_server (2.0+) has an ``event_logger`` (jupyter_events) that validates each event against
a registered schema and hands it to its listeners, among them ``GET /api/events/subscribe``, the
websocket JupyterLab's ``IEventManager`` reads. The idle engine reports each decision through a
plain callable (``IdleMonitor(events=...)``) and never imports jupyter_events or tornado: this
module builds that callable for the server extension.

Publishing never fails the engine: a schema the installed jupyter_events refuses, an event that
does not validate or a listener error is logged once and the decision goes on (the JSON log
line is written either way).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("smstudio_ext")

SCHEMAS = Path(__file__).parent / "event_schemas"
IDLE_DECISION_SCHEMA = SCHEMAS / "idle_decision" / "v1.yaml"
IDLE_DECISION_ID = "https://smstudio-ext.github.io/events/idle/decision/v1"

Publish = Callable[[dict[str, Any]], None]


def load_schema(path: Path) -> dict[str, Any]:
    """The schema as a dict, its ``version`` in the type the installed jupyter_events wants.

    jupyter_events 0.11 made ``version`` a string (jupyter/jupyter_events#104); older releases
    (SMD 2.0.0's jupyter_server 2.14 runs with one) require an integer and refuse a string.
    """
    import yaml  # a dependency of jupyter_events

    schema: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if _version_type() == "integer":
        schema["version"] = int(schema["version"])
    return schema


def _version_type() -> str:
    try:
        from jupyter_events.validators import EVENT_METASCHEMA
    except ImportError:  # a jupyter_events without that module: the current form
        return "string"
    version = EVENT_METASCHEMA.get("properties", {}).get("version", {})
    return str(version.get("type", "string"))


class EventPublisher:
    """Emits one schema's events on a server's event logger; called by an engine."""

    def __init__(self, event_logger: Any, schema: dict[str, Any], loop: Any = None) -> None:
        self.event_logger = event_logger
        self.schema_id = str(schema["$id"])
        # only the schema's fields: the engine's line may carry more than the event promises
        self.fields = tuple(schema.get("properties", {}))
        self.loop = loop
        self._failing = False

    def __call__(self, line: dict[str, Any]) -> None:
        data = {key: line[key] for key in self.fields if key in line}
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # jupyter_events hands the event to async listeners as tasks on the running loop:
            # from a worker thread, emit on the server's loop instead
            if self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self._emit, data)
                return
        self._emit(data)

    def _emit(self, data: dict[str, Any]) -> None:
        try:
            self.event_logger.emit(schema_id=self.schema_id, data=data)
        except Exception as exc:
            if not self._failing:  # once per run of failures, not at every check
                log.warning("smstudio: cannot emit %s: %s", self.schema_id, exc)
            self._failing = True
            return
        self._failing = False


def idle_decision_publisher(serverapp: Any) -> Publish | None:
    """Registers the idle-decision schema with the server's event logger and returns the
    callable the idle monitor reports through; None when this server has no event logger or
    the schema cannot be registered (the JSON log line still carries every decision)."""
    event_logger = getattr(serverapp, "event_logger", None)
    if event_logger is None or not hasattr(event_logger, "register_event_schema"):
        return None
    try:
        schema = load_schema(IDLE_DECISION_SCHEMA)
        if schema["$id"] not in getattr(event_logger, "schemas", ()):
            event_logger.register_event_schema(schema)
    except Exception as exc:
        log.warning("smstudio: idle decisions are not published as Jupyter events: %s", exc)
        return None
    io_loop = getattr(serverapp, "io_loop", None)
    return EventPublisher(event_logger, schema, getattr(io_loop, "asyncio_loop", None))
