"""``Emulator``: moto in server mode plus the Studio and Pricing APIs, on 127.0.0.1.

Every service (s3, sts, sagemaker, ce, pricing, ...) is served on one endpoint, reached over real
HTTP by boto3's own serializers. moto's state is process-wide: two emulators in one process share
it (but each has its own faults and request counts).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from . import cloudtrail, pricing, sts, studio
from .faults import Call, FaultInjector

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"  # moto's default account


class Emulator:
    """A local AWS for tests, ``smstudio demo`` and benchmarks. Not started until ``start()``."""

    def __init__(self, region: str = "us-east-1", host: str = "127.0.0.1", port: int = 0) -> None:
        self.region = region
        self.account_id = ACCOUNT_ID
        self._host = host
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._faults = FaultInjector()
        self._faults.handlers["pricing"] = pricing.handle
        self._session: Any = None
        self._session_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        from moto.moto_server.threaded_moto_server import MotoRequestHandler
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        studio.install()
        cloudtrail.install()  # LookupEvents (moto has none)
        sts.install()  # AssumeRole checks the role and its trust policy

        class QuietHandler(MotoRequestHandler):  # type: ignore[misc,valid-type]
            def log_request(self, code: Any = "-", size: Any = "-") -> None:
                log.debug("%s %s", self.requestline, code)

        app = self._faults.middleware(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="smstudio-emulator",
            daemon=True,
        )
        self._thread.start()
        log.info("AWS emulator listening on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def started(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("Emulator not started")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # -- clients --------------------------------------------------------------------------------

    def client(self, service: str, region: str | None = None, **config: Any) -> Any:
        """A boto3 client on the emulator; ``config`` goes to ``botocore.config.Config``."""
        with self._session_lock:  # one session: its loader caches the service models
            if self._session is None:
                self._session = boto3.session.Session()
            return self._session.client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=region or self.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(**config) if config else None,
            )

    def env(self) -> dict[str, str]:
        """Environment for subprocesses (boto3 honours ``AWS_ENDPOINT_URL`` for every service)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    # -- state ----------------------------------------------------------------------------------

    def _post(self, path: str, payload: Any = None) -> None:
        data = json.dumps(payload).encode() if payload is not None else b""
        request = urllib.request.Request(self.endpoint_url + path, data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def reset(self) -> None:
        """Forget every resource (moto's and the Studio store), faults, counts and settings."""
        self._post("/moto-api/reset")
        studio.reset_settings()
        self.clear_faults()
        self.reset_counts()

    def store(self, region: str | None = None) -> studio.StudioStore:
        return studio.get_store(self.account_id, region or self.region)

    def set_app_delete_delay(self, seconds: float) -> None:
        """How long a deleted app stays ``Deleting`` before ``Deleted`` (default 0.5 s)."""
        studio.SETTINGS.app_delete_delay = float(seconds)

    def set_app_start_delay(self, seconds: float) -> None:
        """How long a new app stays ``Pending`` before ``InService`` (default 0: immediate)."""
        studio.SETTINGS.app_start_delay = float(seconds)

    def set_image_version_delay(self, seconds: float) -> None:
        """How long a new image version stays ``CREATING`` (default 0.2 s)."""
        studio.SETTINGS.image_version_delay = float(seconds)

    def set_app_creation_time(self, app_arn: str, when: datetime) -> None:
        with self.store().lock:
            self.store().app_by_arn(app_arn)["CreationTime"] = when

    def set_app_last_activity(self, app_arn: str, when: datetime) -> None:
        """Set the app's last health check, which AWS also reports as its
        ``LastUserActivityTimestamp`` (a running app is checked again after
        ``health_check_interval`` seconds: it is not user activity)."""
        with self.store().lock:
            self.store().app_by_arn(app_arn)["LastHealthCheckTimestamp"] = when

    def set_health_check_interval(self, seconds: float) -> None:
        """Seconds between two health checks of a running app (default 60, unverified)."""
        studio.SETTINGS.health_check_interval = float(seconds)

    def set_app_status(self, app_arn: str, status: str, failure_reason: str | None = None) -> None:
        """Force a status (e.g. ``Failed``) that the API alone cannot produce."""
        with self.store().lock:
            app = self.store().app_by_arn(app_arn)
            app["Status"] = status
            if failure_reason:
                app["FailureReason"] = failure_reason

    def inject_cost_and_usage(self, results: list[dict[str, Any]]) -> None:
        """Queue Cost Explorer ``GetCostAndUsage`` results (moto's static-result API)."""
        self._post(
            "/moto-api/static/ce/cost-and-usage-results",
            {"account_id": self.account_id, "results": results},
        )

    # -- faults and counts ----------------------------------------------------------------------

    def fail(
        self,
        operation: str,
        code: str = "InternalFailure",
        status: int = 500,
        times: int | None = None,
        service: str = "sagemaker",
        message: str | None = None,
    ) -> None:
        """Make ``service:operation`` fail for its next ``times`` calls (None: until cleared).

        ``operation`` and ``service`` may be ``"*"``. Faulted calls are counted.
        """
        self._faults.fail(operation, code, status, times, service, message)

    def deny(self, operation: str, service: str = "sagemaker", times: int | None = None) -> None:
        """Answer ``AccessDeniedException`` (HTTP 400, like IAM) to ``service:operation``."""
        action = f"{service}:{operation}"
        message = (
            f"User: arn:aws:sts::{self.account_id}:assumed-role/SageMakerExecutionRole/"
            f"SageMaker is not authorized to perform: {action} because no identity-based "
            f"policy allows the {action} action"
        )
        code = "AccessDenied" if service == "s3" else "AccessDeniedException"
        status = 403 if service == "s3" else 400
        self._faults.fail(operation, code, status, times, service, message)

    def clear_faults(self) -> None:
        self._faults.clear_faults()

    def count(self, service: str, operation: str | None = None) -> int:
        """Requests seen for ``service:operation`` (or the whole service) since the last reset."""
        return self._faults.count(service, operation)

    def reset_counts(self) -> None:
        self._faults.reset_counts()

    @property
    def calls(self) -> list[Call]:
        """Every request since the last ``reset_counts``, in order."""
        return list(self._faults.calls)
