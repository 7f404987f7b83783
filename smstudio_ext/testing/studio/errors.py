"""The errors the Studio store answers, shaped as AWS answers them."""

from __future__ import annotations


class AwsError(Exception):
    """An error answered as AWS does: JSON ``{"__type", "message"}`` with an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFound", message)


def in_use(message: str) -> AwsError:
    return AwsError("ResourceInUse", message)


def invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def already_exists(kind: str, arn: str) -> AwsError:
    return in_use(f"Resource Already Exists: {kind} with ARN {arn} already exists")


def limit_exceeded(message: str) -> AwsError:
    return AwsError("ResourceLimitExceeded", message)
