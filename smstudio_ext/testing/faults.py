"""Request accounting and fault injection, as WSGI middleware in front of the moto server.

Every AWS request is attributed to a ``(service, operation)`` pair: the service from the SigV4
credential scope, the operation from ``X-Amz-Target`` (JSON protocols), the ``Action`` form field
(query protocols) or the botocore REST routing table (S3 and other REST services). Tests then ask
``count("sagemaker", "ListApps")``, or make an operation fail for its next N calls with the error
code and HTTP status of their choice, answered in the service's own error format.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs

log = logging.getLogger(__name__)

_SCOPE_RE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_XML_SERVICES = {"s3", "sts", "iam", "ec2", "sns", "sqs", "cloudformation"}

StartResponse = Callable[..., Any]


@dataclass
class Fault:
    service: str
    operation: str
    code: str
    status: int
    message: str
    remaining: int | None  # None: until cleared


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    region: str


def _service_and_region(environ: dict[str, Any]) -> tuple[str, str]:
    match = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(2), match.group(1)
    if "X-Amz-Credential" in environ.get("QUERY_STRING", ""):  # presigned URL
        query = parse_qs(environ["QUERY_STRING"])
        parts = query.get("X-Amz-Credential", [""])[0].split("/")
        if len(parts) >= 4:
            return parts[3], parts[2]
    return "", ""


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the body once and put it back so the wrapped app can read it too."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _rest_operation(service: str, environ: dict[str, Any]) -> str:
    try:
        from moto.core.request import Request
        from moto.core.routing import get_service_router

        request = Request(environ)
        operation, _ = get_service_router(service).match(request)
        return str(operation.name)
    except Exception:
        return "unknown"


def identify(environ: dict[str, Any]) -> tuple[str, str, str, bytes | None]:
    """(service, operation, region, body-if-read) of one WSGI request."""
    service, region = _service_and_region(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1], region, None
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        body = _read_body(environ)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if action:
            return service, action, region, body
    query_action = parse_qs(environ.get("QUERY_STRING", "")).get("Action", [""])[0]
    if query_action:
        return service, query_action, region, None
    if service:
        return service, _rest_operation(service, environ), region, None
    return "", "", region, None


def error_response(service: str, code: str, message: str) -> tuple[str, list[tuple[str, str]]]:
    """An error body in the service's protocol (XML for REST-XML/query, JSON otherwise)."""
    if service in _XML_SERVICES:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>emulated</RequestId>"
            "</ErrorResponse>"
        )
        if service == "s3":
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message><RequestId>emulated</RequestId></Error>"
            )
        return body, [("Content-Type", "text/xml")]
    body = json.dumps({"__type": code, "message": message, "Message": message})
    return body, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]


class FaultInjector:
    """Counts requests and applies faults; wraps a WSGI app (see ``middleware``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self.calls: list[Call] = []
        self.handlers: dict[str, Callable[[str, bytes, str], tuple[int, str]]] = {}

    # -- faults ---------------------------------------------------------------------------------

    def fail(
        self,
        operation: str,
        code: str = "InternalFailure",
        status: int = 500,
        times: int | None = None,
        service: str = "sagemaker",
        message: str | None = None,
    ) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._faults.append(
                Fault(
                    service=service,
                    operation=operation,
                    code=code,
                    status=status,
                    message=message or f"Injected fault for {service}:{operation}",
                    remaining=times,
                )
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, service: str, operation: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation in (operation, "*") and fault.service in (service, "*"):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # -- counts ---------------------------------------------------------------------------------

    def count(self, service: str, operation: str | None = None) -> int:
        with self._lock:
            if operation is None:
                return sum(n for (s, _), n in self._counts.items() if s == service)
            return self._counts[(service, operation)]

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self.calls.clear()

    # -- WSGI -----------------------------------------------------------------------------------

    def middleware(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if environ.get("PATH_INFO", "").startswith("/moto-api"):
                return app(environ, start_response)
            service, operation, region, body = identify(environ)
            if service:
                with self._lock:
                    self._counts[(service, operation)] += 1
                    self.calls.append(Call(service, operation, region))
                fault = self._take_fault(service, operation)
                if fault is not None:
                    log.debug("injected %s on %s:%s", fault.code, service, operation)
                    text, headers = error_response(service, fault.code, fault.message)
                    start_response(f"{fault.status} Injected", headers)
                    return [text.encode()]
                handler = self.handlers.get(service)
                if handler is not None:
                    if body is None:
                        body = _read_body(environ)
                    status, text = handler(operation, body, region)
                    start_response(
                        f"{status} {'OK' if status < 400 else 'Error'}",
                        [("Content-Type", "application/x-amz-json-1.1")]
                        + (
                            [("x-amzn-ErrorType", json.loads(text).get("__type", ""))]
                            if status >= 400
                            else []
                        ),
                    )
                    return [text.encode()]
            return app(environ, start_response)

        return wrapped
