"""The one place that builds AWS clients and turns AWS failures into typed errors.

Clients come from a plain botocore session (boto3's adds nothing the engines use, and costs
~50-70 ms more to import: s3transfer and the resource layer); the one boto3 feature used, the
managed multipart upload of a large snapshot, imports it where it is needed.

* region: explicit > the Studio context (resource ARN) > AWS_REGION / AWS_DEFAULT_REGION.
* endpoints: ``Aws.endpoint_urls`` per service from config; otherwise boto3's own handling of
  ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` applies unchanged.
* retries: botocore's ``adaptive`` mode (client-side rate limiting on throttling), short connect
  timeouts so an unreachable endpoint fails within seconds instead of hanging a request.
* errors: ``call()`` maps ``ClientError`` and connection failures to ``smstudio_ext.errors``,
  naming the IAM action when access is denied.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator
from typing import Any, Callable

import botocore.exceptions as bexc
import botocore.session
from botocore.config import Config
from traitlets import Dict, Float, Int, Unicode
from traitlets.config import Configurable

from ._version import __version__
from .errors import (
    AccessDenied,
    AwsError,
    AwsUnavailable,
    BadInput,
    NotConfigured,
    NotFound,
    SmStudioError,
)

USER_AGENT = f"smstudio-ext/{__version__}"
_REGION_RE = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")

DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "NotAuthorized",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
}
NOT_FOUND_CODES = {
    "NoSuchEntity",
    "ResourceNotFound",
    "ResourceNotFoundException",
    "NoSuchBucket",
    "NoSuchKey",
    "404",
    "NotFound",
}
THROTTLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "RequestThrottled",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "503",
    "500",
}
VALIDATION_CODES = {
    "ValidationException",
    "ValidationError",
    "InvalidParameterValue",
    "InvalidRequest",
}

# S3 operations whose IAM action is not "s3:<OperationName>".
_S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "HeadObject": "s3:GetObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObjects": "s3:DeleteObject",
    "CopyObject": "s3:PutObject",
}
_IAM_PREFIX = {"ce": "ce", "costexplorer": "ce", "resourcegroupstaggingapi": "tag"}


class Aws(Configurable):
    """How smstudio reaches AWS (or a local emulator)."""

    endpoint_urls = Dict(
        value_trait=Unicode(),
        help=(
            "Endpoint URL per boto3 service name, e.g. {'sagemaker': 'http://127.0.0.1:5000'}. "
            "Unset services use boto3's defaults, which honour AWS_ENDPOINT_URL and "
            "AWS_ENDPOINT_URL_<SERVICE>."
        ),
    ).tag(config=True)

    profile = Unicode("", help="Named AWS profile to use; empty = the default chain.").tag(
        config=True
    )

    max_attempts = Int(4, help="Total attempts per call (adaptive retry mode).").tag(config=True)

    connect_timeout = Float(3.0, help="Seconds to wait for a TCP connection.").tag(config=True)

    read_timeout = Float(20.0, help="Seconds to wait for a response.").tag(config=True)


def iam_action(service: str, operation: str) -> str:
    """The IAM action for a boto3 service name and an API operation name."""
    if service == "s3":
        return _S3_ACTIONS.get(operation, f"s3:{operation}")
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"


def no_such_profile(exc: Exception) -> NotConfigured:
    return NotConfigured(
        f"{exc}: name a profile that exists in ~/.aws/config (Aws.profile, AWS_PROFILE) or "
        "leave it unset for the default credential chain"
    )


def validate_region(region: str) -> str:
    """Refuse a region that is malformed or unknown to botocore (a typo would otherwise hang on DNS)."""
    if not _REGION_RE.match(region or ""):
        raise BadInput(f"invalid AWS region {region!r} (expected e.g. 'us-east-1')")
    session = botocore.session.Session()
    try:
        for partition in session.get_available_partitions():
            if region in session.get_available_regions("sagemaker", partition_name=partition):
                return region
            if region in session.get_available_regions("s3", partition_name=partition):
                return region
    except bexc.ProfileNotFound as exc:
        raise no_such_profile(exc) from exc
    raise BadInput(
        f"unknown AWS region {region!r}: botocore knows no SageMaker or S3 endpoint there"
    )


class AwsClients:
    """A cache of boto3 clients sharing one session, region, endpoints and retry policy.

    Thread-safe: boto3 clients are; creating them is serialised here because sessions are not.
    """

    def __init__(
        self,
        region: str | None = None,
        *,
        endpoint_urls: dict[str, str] | None = None,
        profile: str | None = None,
        max_attempts: int = 4,
        connect_timeout: float = 3.0,
        read_timeout: float = 20.0,
        validate: bool = True,
    ) -> None:
        self.endpoint_urls = dict(endpoint_urls or {})
        if region and validate and not self.endpoint_urls:
            validate_region(region)
        self.region = region or "us-east-1"
        self._session = botocore.session.Session(profile=profile or None)
        self._config = Config(
            region_name=self.region,
            user_agent_extra=USER_AGENT,
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=32,
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._request_hooks: list[Callable[[str, str], None]] = []

    def with_request_hook(self, hook: Callable[[str, str], None]) -> AwsClients:
        """A copy sharing this session and settings whose clients call ``hook(service,
        operation)`` before every HTTP request they send, retries included (e.g. a rate limit)."""
        other = copy.copy(self)
        other._clients = {}
        other._request_hooks = [*self._request_hooks, hook]
        return other

    @classmethod
    def from_config(cls, aws: Aws, region: str | None) -> AwsClients:
        return cls(
            region,
            endpoint_urls=aws.endpoint_urls,
            profile=aws.profile,
            max_attempts=aws.max_attempts,
            connect_timeout=aws.connect_timeout,
            read_timeout=aws.read_timeout,
        )

    def client(self, service: str, *, region: str | None = None, **config: Any) -> Any:
        """A cached boto3 client; ``config`` entries (e.g. ``retries``) make a separate client."""
        region = region or self.region
        key = (service, region + repr(sorted(config.items())))
        with self._lock:
            if key not in self._clients:
                cfg = self._config.merge(Config(**config)) if config else self._config
                kwargs: dict[str, Any] = {"region_name": region, "config": cfg}
                if service in self.endpoint_urls:
                    kwargs["endpoint_url"] = self.endpoint_urls[service]
                try:
                    client = self._session.create_client(service, **kwargs)
                except bexc.ProfileNotFound as exc:  # Aws.profile or AWS_PROFILE
                    raise no_such_profile(exc) from exc
                for hook in self._request_hooks:
                    client.meta.events.register("before-send", _before_send(hook))
                self._clients[key] = client
            return self._clients[key]


def _before_send(hook: Callable[[str, str], None]) -> Callable[..., None]:
    def handler(event_name: str = "", **_: Any) -> None:
        # event_name is "before-send.<service id>.<Operation>"
        where = event_name.partition(".")[2]
        service, operation = where.partition(".")[::2]
        hook(service.lower().replace(" ", ""), operation)

    return handler


def translate(exc: BaseException, action: str, resource: str | None = None) -> SmStudioError:
    """Map a botocore failure during ``action`` (``service:Operation``) to a typed error."""
    if isinstance(exc, SmStudioError):
        return exc
    where = f" on {resource}" if resource else ""
    if isinstance(exc, bexc.ClientError):
        err = exc.response.get("Error", {})
        code = str(
            err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        )
        msg = err.get("Message") or code
        if code in DENIED_CODES:
            return AccessDenied(
                f"AWS denied {action}{where}: {msg}. Grant {action} to this app's execution role.",
                action=action,
                resource=resource,
                aws_code=code,
            )
        if code in NOT_FOUND_CODES:
            return NotFound(
                f"{action}{where}: {msg}", action=action, resource=resource, aws_code=code
            )
        if code in THROTTLE_CODES:
            return AwsUnavailable(
                f"AWS is throttling or failing {action}{where} ({code}); retry later",
                action=action,
                aws_code=code,
            )
        if code in VALIDATION_CODES:
            return BadInput(f"AWS rejected {action}{where}: {msg}", action=action, aws_code=code)
        return AwsError(f"{action}{where} failed: {code}: {msg}", action=action, aws_code=code)
    if isinstance(exc, (bexc.NoCredentialsError, bexc.PartialCredentialsError)):
        return AccessDenied(
            f"no AWS credentials found for {action}: set up an execution role or AWS_* variables",
            action=action,
        )
    if isinstance(
        exc,
        (
            bexc.EndpointConnectionError,
            bexc.ConnectTimeoutError,
            bexc.ReadTimeoutError,
            bexc.ConnectionClosedError,
            bexc.ConnectionError,
        ),
    ):
        return AwsUnavailable(f"cannot reach AWS for {action}: {exc}", action=action)
    if isinstance(exc, bexc.ParamValidationError):
        return BadInput(f"invalid parameters for {action}: {exc}", action=action)
    if isinstance(exc, bexc.BotoCoreError):
        return AwsError(f"{action} failed: {exc}", action=action)
    raise exc


def call(client: Any, operation: str, resource: str | None = None, **params: Any) -> Any:
    """Call ``operation`` (API name, e.g. ``DeleteApp``) on ``client`` with typed errors."""
    service = client.meta.service_model.service_name
    method: Callable[..., Any] = getattr(client, _snake(operation))
    try:
        return method(**params)
    except (bexc.ClientError, bexc.BotoCoreError) as exc:
        raise translate(exc, iam_action(service, operation), resource) from exc


def paginate(fetch: Callable[..., Any], key: str, **params: Any) -> Iterator[Any]:
    """Every item under ``key`` across pages: ``fetch(**params)`` returns one page, and
    ``NextToken`` is followed until the last page (SageMaker's pagination)."""
    while True:
        page = fetch(**params)
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return
        params = {**params, "NextToken": token}


def _snake(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)
