"""Shutting an app down: ``DeleteApp`` with backoff, and failure states a user can see.

* throttling / 5xx / unreachable: retried with exponential backoff within one attempt; before
  each retry the caller decides again (``still_due``): work that started during the backoff
  cancels the delete;
* ``ResourceNotFound``: the app is already gone, which is what we wanted;
* ``AccessDenied``: a sticky state naming ``sagemaker:DeleteApp``, logged once (not every
  interval), shown in the panel; retried only every ``denied_retry_minutes`` in case the
  admin fixed the role.

Blocking (boto3): call from a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from .. import clock
from ..apps import AppInfo, delete_app
from ..aws import AwsClients
from ..errors import AccessDenied, AwsUnavailable, SmStudioError

log = logging.getLogger("smstudio_ext")

# We own the retries (backoff, logging, the sticky denied state): botocore retrying inside each
# of our attempts would multiply the calls and hide throttling from us.
_NO_SDK_RETRIES = {"mode": "standard", "total_max_attempts": 1}


@dataclass
class ActionResult:
    outcome: str  # deleted | gone | denied | failed | cancelled
    detail: str
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "detail": self.detail, "error": self.error}


class AppDeleter:
    def __init__(
        self,
        clients: AwsClients,
        *,
        max_attempts: int = 5,
        backoff_seconds: float = 2.0,
        max_backoff_seconds: float = 60.0,
        denied_retry_seconds: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clients = clients
        self.max_attempts = max_attempts
        self.backoff = backoff_seconds
        self.max_backoff = max_backoff_seconds
        self.denied_retry_seconds = denied_retry_seconds
        self.sleep = sleep
        self.denied: dict[str, Any] | None = None
        self._denied_at: float | None = None  # clock.monotonic()
        self._lock = threading.Lock()

    def delete(
        self, app: AppInfo, still_due: Callable[[], str | None] | None = None
    ) -> ActionResult:
        """DeleteApp with backoff. ``still_due`` is asked before every retry: a reason (the app
        became active, a keep-alive) cancels the delete."""
        with self._lock:
            if self.denied and self._denied_at is not None:
                waited = clock.monotonic() - self._denied_at
                if waited < self.denied_retry_seconds:
                    return ActionResult("denied", self.denied["detail"], self.denied)
            delay = self.backoff
            last: SmStudioError | None = None
            for attempt in range(1, self.max_attempts + 1):
                if attempt > 1 and still_due is not None:
                    why = still_due()
                    if why:
                        log.info("smstudio idle: not retrying DeleteApp %s: %s", app.app_name, why)
                        return ActionResult("cancelled", f"not deleted, decided again: {why}")
                try:
                    existed = delete_app(self.clients, app, retries=_NO_SDK_RETRIES)
                except AccessDenied as exc:
                    return self._on_denied(exc, app)
                except AwsUnavailable as exc:
                    last = exc
                    if attempt < self.max_attempts:
                        log.info(
                            "smstudio idle: DeleteApp %s attempt %d failed (%s); retrying in %.1fs",
                            app.app_name,
                            attempt,
                            exc.message,
                            delay,
                        )
                        self.sleep(delay)
                        delay = min(delay * 2, self.max_backoff)
                    continue
                except SmStudioError as exc:
                    last = exc
                    break
                self._clear_denied()
                if existed:
                    return ActionResult(
                        "deleted", f"DeleteApp {app.app_type} {app.app_name} accepted"
                    )
                return ActionResult("gone", f"{app.app_type} {app.app_name} was already gone")
            assert last is not None
            log.warning("smstudio idle: DeleteApp %s failed: %s", app.app_name, last.message)
            return ActionResult("failed", last.message, last.to_dict())

    def _on_denied(self, exc: AccessDenied, app: AppInfo) -> ActionResult:
        first = self.denied is None
        self.denied = {
            "error": exc.code,
            "detail": exc.message,
            "action": exc.action or "sagemaker:DeleteApp",
        }
        self._denied_at = clock.monotonic()
        if first:  # once, not every interval
            log.error(
                "smstudio idle: cannot shut down %s %s: %s (grant %s to the execution role)",
                app.app_type,
                app.app_name,
                exc.message,
                self.denied["action"],
            )
        return ActionResult("denied", exc.message, self.denied)

    def _clear_denied(self) -> None:
        if self.denied is not None:
            log.info("smstudio idle: DeleteApp allowed again")
        self.denied = None
        self._denied_at = None
