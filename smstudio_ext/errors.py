"""Typed errors shared by every engine and mapped once by the doors (REST status, CLI exit code).

Engines raise these; ``handlers/base.py`` turns them into ``{"error", "detail"}`` JSON with the
status below, and ``cli`` turns them into a one-line message and the exit code below.
"""

from __future__ import annotations

from typing import Any


class SmStudioError(Exception):
    """Base class. ``code`` is a stable machine-readable name, ``str(self)`` the human message."""

    status = 500
    code = "internal_error"
    exit_code = 1

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.message, **self.extra}


class BadInput(SmStudioError):
    """The caller sent something we refuse (validation). Nothing was changed."""

    status = 400
    code = "bad_input"
    exit_code = 2


class NotFound(SmStudioError):
    status = 404
    code = "not_found"
    exit_code = 4


class Conflict(SmStudioError):
    """The request is valid but clashes with current state (already running, name in use)."""

    status = 409
    code = "conflict"
    exit_code = 5


class NotConfigured(SmStudioError):
    """A feature needs configuration that is missing (e.g. no backup bucket)."""

    status = 409
    code = "not_configured"
    exit_code = 6


class AccessDenied(SmStudioError):
    """AWS refused the call. ``action`` names the IAM action (e.g. ``sagemaker:DeleteApp``)."""

    status = 403
    code = "access_denied"
    exit_code = 3

    def __init__(self, message: str, *, action: str | None = None, **extra: Any) -> None:
        super().__init__(message, action=action, **extra)
        self.action = action


class InvalidCredentials(SmStudioError):
    """AWS refused the credentials themselves (expired session, invalid key or signature) or
    none could be found: renewing them fixes it, granting a permission would not."""

    status = 403
    code = "credentials_invalid"
    exit_code = 3

    def __init__(self, message: str, *, action: str | None = None, **extra: Any) -> None:
        super().__init__(message, action=action, **extra)
        self.action = action


class AwsUnavailable(SmStudioError):
    """AWS (or the configured endpoint) could not be reached, timed out or throttled us."""

    status = 503
    code = "aws_unavailable"
    exit_code = 7


class AwsError(SmStudioError):
    """Any other error answered by AWS; ``aws_code`` is AWS's own error code."""

    status = 502
    code = "aws_error"
    exit_code = 8
