"""The shared shape of every REST handler: authenticated, JSON in/out, typed errors mapped once.

Handlers are thin: parse, call an engine, map ``SmStudioError`` to ``{"error", "detail"}`` with
its status. Our own traffic (the panel polling) never counts as user activity: jupyter_server's
``api_last_activity`` is not touched (``_track_activity = False``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, Callable, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado import web

from .. import clock
from ..errors import BadInput, SmStudioError
from ..services import Services
from ..units import parse_bool

log = logging.getLogger("smstudio_ext")
T = TypeVar("T")


class BaseHandler(APIHandler):
    """Base for every smstudio route. Subclasses decorate verbs with ``@web.authenticated``."""

    _track_activity = False
    auth_resource = "smstudio"

    @property
    def services(self) -> Services:
        services: Services = self.settings["smstudio"]
        return services

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, default=_json_default))

    def bool_arg(self, name: str, default: bool = False) -> bool:
        """A yes/no query argument (``?refresh=1``), parsed the same way on every route
        (``units.parse_bool``: 1/0, true/false, yes/no, on/off); anything else is a 400."""
        return parse_bool(self.get_query_argument(name, None), name, default)

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; ``{}`` when empty; 400 when not an object."""
        raw = self.request.body or b""
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise BadInput(f"request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadInput("request body must be a JSON object")
        return data

    async def run_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking engine work (boto3, disk) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    async def run_in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run long blocking work (minutes) in a dedicated thread, not the shared executor."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def work() -> None:
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # delivered to the awaiting handler
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

        threading.Thread(target=work, name="smstudio-request", daemon=True).start()
        return await future

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        if isinstance(exc, web.HTTPError):
            body = {"error": "http_error", "detail": exc.log_message or self._reason}
        else:
            body = {"error": "internal_error", "detail": "unexpected error; see the server log"}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


def handle_errors(method: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Map ``SmStudioError`` from an engine to its HTTP status and JSON body (logged once)."""

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
        try:
            await method(self, *args, **kwargs)
        except SmStudioError as exc:
            level = logging.INFO if exc.status < 500 else logging.WARNING
            log.log(
                level,
                "smstudio %s %s -> %s: %s",
                self.request.method,
                self.request.path,
                exc.status,
                exc.message,
            )
            self.write_json(exc.to_dict(), status=exc.status)

    return wrapper


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return clock.isoformat_z(value)  # the one REST timestamp format (uppercase Z)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
