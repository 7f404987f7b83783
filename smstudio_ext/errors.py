"""Typed errors shared by every engine and mapped once by the doors (REST status, CLI exit code).

Engines raise these; ``handlers/base.py`` turns them into ``{"error", "detail"}`` JSON with the
status below, and ``cli`` turns them into a one-line message and the exit code below. A client of
the REST API (``smstudio idle``, ``smstudio insights``) turns the body's ``error`` back into the
same class (:func:`error_for`): a 409 ``not_configured`` exits 6 like it would in-process, not 5.

``EXIT_CODES`` is the one table of the CLI's exit codes: ``smstudio --help``, ``docs/cli.md`` and
the README print it, and a test checks that every class here uses one of them.
"""

from __future__ import annotations

from typing import Any

# exit code -> what it means (the CLI's contract with scripts; keep in step with docs/cli.md)
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "done, but something failed (audit checks, files skipped, an unexpected error)",
    2: "bad input or usage: nothing was changed",
    3: "AWS refused the call or the credentials (access denied, expired or missing)",
    4: "not found",
    5: "conflict with the current state (already running, lock held, name in use)",
    6: "not configured, or an optional part is not installed (the message names it)",
    7: "AWS or the Jupyter server could not be reached, or throttled us",
    8: "another error answered by AWS",
    9: "the disk is full, or the conda tool failed",
    10: "a backup is corrupt",
    130: "interrupted (Ctrl-C)",
}


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


class MissingExtra(NotConfigured):
    """An optional dependency of this command is not installed; the message names the extra
    (``pip install 'smstudio-ext[demo]'``)."""

    code = "missing_extra"

    def __init__(self, what: str, extra: str, missing: str) -> None:
        super().__init__(
            f"{what} needs the {extra!r} extra ({missing} is not installed): "
            f"pip install 'smstudio-ext[{extra}]'",
            extra=extra,
            missing=missing,
        )


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


_BY_STATUS: dict[int, type[SmStudioError]] = {
    400: BadInput,
    403: AccessDenied,
    404: NotFound,
    409: Conflict,
    502: AwsError,
    503: AwsUnavailable,
}


def _subclasses(cls: type[SmStudioError]) -> list[type[SmStudioError]]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def error_for(code: Any, status: int) -> type[SmStudioError]:
    """The error class a REST answer stands for: by the body's ``error`` code first (each class
    names its own), then by the HTTP status, else the base class (exit 1)."""
    if isinstance(code, str):
        for cls in _subclasses(SmStudioError):
            if cls.code == code:
                return cls
    return _BY_STATUS.get(status, SmStudioError)


def from_answer(payload: Any, status: int, message: str) -> SmStudioError:
    """The typed error for a REST error answer ``{"error", "detail", ...}`` with ``status``;
    ``message`` is what to show. Extra fields (``action``) are kept."""
    body = payload if isinstance(payload, dict) else {}
    cls = error_for(body.get("error"), status)
    err = cls.__new__(cls)
    extra = {k: v for k, v in body.items() if k not in ("error", "detail", "message")}
    SmStudioError.__init__(err, message, **extra)
    if "action" in body or cls in (AccessDenied, InvalidCredentials):
        err.action = body.get("action")  # type: ignore[attr-defined]
    return err
