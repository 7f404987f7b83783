"""The one place that builds AWS clients and turns AWS failures into typed errors.

Clients come from a plain botocore session (boto3's adds nothing the engines use, and costs
~50-70 ms more to import: s3transfer and the resource layer).

botocore itself is imported by the first client (or region check), not with this module:
importing it and building ``AwsClients`` cost nothing, so a short-lived CLI command does its
local work first (``smstudio backup`` forks its "nothing changed?" check before botocore
loads; see ``backup/speculation.py``).

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
import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from traitlets import Dict, Float, Int, Unicode
from traitlets.config import Configurable

from ._version import __version__
from .errors import (
    AccessDenied,
    AwsError,
    AwsUnavailable,
    BadInput,
    InvalidCredentials,
    NotConfigured,
    NotFound,
    SmStudioError,
)

if TYPE_CHECKING:
    import botocore.session

USER_AGENT = f"smstudio-ext/{__version__}"
_REGION_RE = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")

DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "NotAuthorized",
}
# The request's credentials themselves were refused (expired session, revoked or mistyped key,
# wrong secret, clock skew): granting a permission would not help.
CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "InvalidAccessKeyId",
    "InvalidToken",
    "TokenRefreshRequired",
    "AuthFailure",
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
    "InvalidParameterException",
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

# KMS behind another service's call (S3 SSE-KMS, SageMaker volumes): the error names the key
# action in its message ("... is not authorized to perform: kms:Decrypt ...") or carries a
# KMS.* code ("KMS.DisabledException", S3's "KMS.NotFoundException").
_KMS_ACTION_RE = re.compile(
    r"\bkms:(Decrypt|GenerateDataKey\w*|Encrypt|ReEncrypt\w*|DescribeKey|CreateGrant)\b"
)
_KMS_HINT_RE = re.compile(r"\bKMS\b|customer master key|kms key", re.I)
_KMS_WRITES = {
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CopyObject",
    "CompleteMultipartUpload",
}
_PRINCIPAL_RE = re.compile(
    r"\b(arn:aws[a-z-]*:(?:sts|iam)::\d{12}:[\w+=,.@/:-]+?)\s+is not authorized"
)
# Cost Explorer answers AccessDeniedException "User not enabled for cost explorer access" until
# the account (the payer account under consolidated billing) enables it in the Billing console.
_CE_NOT_ENABLED_RE = re.compile(r"not enabled for cost explorer|enable cost explorer", re.I)


# -- partitions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """Where a partition's account-wide services live (botocore ``partitions.json``
    ``implicitGlobalRegion``; the Pricing API's endpoints per AWS's Price List docs)."""

    name: str
    cost_explorer_region: str
    pricing_regions: tuple[str, ...]  # endpoints of the Price List Query API
    currency: str  # what its price list and bills are in


PARTITIONS = {
    "aws": Partition("aws", "us-east-1", ("us-east-1", "eu-central-1", "ap-south-1"), "USD"),
    "aws-cn": Partition("aws-cn", "cn-northwest-1", ("cn-northwest-1",), "CNY"),
    "aws-us-gov": Partition("aws-us-gov", "us-gov-west-1", ("us-gov-west-1",), "USD"),
}
# botocore partitions.json regionRegex, most specific first
_PARTITION_RES = (
    ("aws-us-gov", re.compile(r"^us-gov-\w+-\d+$")),
    ("aws-iso-b", re.compile(r"^us-isob-\w+-\d+$")),
    ("aws-iso-f", re.compile(r"^us-isof-\w+-\d+$")),
    ("aws-iso", re.compile(r"^us-iso-\w+-\d+$")),
    ("aws-iso-e", re.compile(r"^eu-isoe-\w+-\d+$")),
    ("aws-eusc", re.compile(r"^eusc-de-\w+-\d+$")),
    ("aws-cn", re.compile(r"^cn-\w+-\d+$")),
)


def partition_of(region: str | None) -> str:
    """The partition of a region name (``aws`` unless botocore's regexes say otherwise)."""
    for name, pattern in _PARTITION_RES:
        if region and pattern.match(region):
            return name
    return "aws"


def partition_of_arn(arn: str | None, region: str | None = None) -> str:
    """The partition an ARN names (``arn:PARTITION:...``), else ``region``'s."""
    parts = (arn or "").split(":")
    if len(parts) > 2 and parts[0] == "arn" and parts[1].startswith("aws"):
        return parts[1]
    return partition_of(region)


def partition_info(region: str | None) -> Partition | None:
    """Cost Explorer / Pricing facts of ``region``'s partition; None for partitions without
    them (the isolated ones): callers then say "not available" instead of calling aws."""
    return PARTITIONS.get(partition_of(region))


def pricing_region(region: str) -> str | None:
    """The Price List Query API endpoint for ``region``: its partition's, the nearest of the
    three in ``aws`` (any of them answers for every region). None: the partition has none."""
    info = partition_info(region)
    if info is None:
        return None
    if info.name != "aws":
        return info.pricing_regions[0]
    if region.startswith(("eu-", "il-", "af-")):
        return "eu-central-1"
    if region.startswith(("ap-", "me-")):
        return "ap-south-1"
    return "us-east-1"


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
    import botocore.exceptions as bexc
    import botocore.session

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
    The session is made with the first client. ``defer_validation`` moves the region check
    (which loads botocore and its endpoint data) to the first client too: the CLI's choice,
    where a command may have local work to do first; the server checks at start.
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
        session: botocore.session.Session | None = None,
        defer_validation: bool = False,
    ) -> None:
        """``session``: a botocore session to build clients from instead of a new one (e.g.
        one whose ``data_path`` loads other service models: how tests play an old botocore).
        ``defer_validation``: check the region with the first client (see the class doc)."""
        self.endpoint_urls = dict(endpoint_urls or {})
        self._unchecked_region = None
        if region and validate and not self.endpoint_urls:
            if defer_validation:
                self._unchecked_region = region
            else:
                validate_region(region)
        self.region = region or "us-east-1"
        self._profile = profile or None
        self._config_args: dict[str, Any] = {
            "region_name": self.region,
            "user_agent_extra": USER_AGENT,
            "retries": {"mode": "adaptive", "max_attempts": max_attempts},
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_pool_connections": 32,
        }
        # the session and the base config, made with the first client (shared by copies)
        self._shared: dict[str, Any] = {"session": session} if session is not None else {}
        self._credentials: dict[str, str] | None = None  # set by derive(credentials=...)
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

    def derive(
        self, *, region: str | None = None, credentials: dict[str, str] | None = None
    ) -> AwsClients:
        """A copy in another ``region`` and/or with other ``credentials`` (``AccessKeyId``,
        ``SecretAccessKey``, ``SessionToken``: e.g. an assumed role's); same endpoints, retries,
        timeouts, user agent and request hooks."""
        other = copy.copy(self)
        other._clients = {}
        other._lock = threading.Lock()
        # its own session and config, made with its first client like ours (a region keeps
        # our session when one exists; credentials need a session of their own)
        other._shared = {}
        if region:
            other.region = region
            other._config_args = {**self._config_args, "region_name": region}
        if credentials is not None:
            other._credentials = dict(credentials)
        elif "session" in self._shared:
            other._shared["session"] = self._shared["session"]
        return other

    @classmethod
    def from_config(
        cls, aws: Aws, region: str | None, *, defer_validation: bool = False
    ) -> AwsClients:
        return cls(
            region,
            endpoint_urls=aws.endpoint_urls,
            profile=aws.profile,
            max_attempts=aws.max_attempts,
            connect_timeout=aws.connect_timeout,
            read_timeout=aws.read_timeout,
            defer_validation=defer_validation,
        )

    def _session_and_config(self) -> tuple[Any, Any]:
        """botocore's session and our base client config (called under ``_lock``)."""
        if self._unchecked_region is not None:
            validate_region(self._unchecked_region)
            self._unchecked_region = None
        if "config" not in self._shared:
            import botocore.session
            from botocore.config import Config

            self._shared["config"] = Config(**self._config_args)
            if "session" not in self._shared:
                session = botocore.session.Session(profile=self._profile)
                if self._credentials is not None:  # a derived copy's (e.g. an assumed role)
                    session.set_credentials(
                        self._credentials["AccessKeyId"],
                        self._credentials["SecretAccessKey"],
                        self._credentials.get("SessionToken"),
                    )
                self._shared["session"] = session
        return self._shared["session"], self._shared["config"]

    def client(self, service: str, *, region: str | None = None, **config: Any) -> Any:
        """A cached boto3 client; ``config`` entries (e.g. ``retries``) make a separate client."""
        region = region or self.region
        key = (service, region + repr(sorted(config.items())))
        with self._lock:
            if key not in self._clients:
                import botocore.exceptions as bexc
                from botocore.config import Config

                session, base = self._session_and_config()
                cfg = base.merge(Config(**config)) if config else base
                kwargs: dict[str, Any] = {"region_name": region, "config": cfg}
                if service in self.endpoint_urls:
                    kwargs["endpoint_url"] = self.endpoint_urls[service]
                try:
                    client = session.create_client(service, **kwargs)
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
    """Map a botocore failure during ``action`` (``service:Operation``) to a typed error.

    Denials say what to grant to *the calling identity* (the app's execution role inside
    Studio, the admin's own credentials on a laptop; the identity AWS named is quoted when the
    message carries it); refused credentials, KMS-caused denials and Cost Explorer not being
    enabled each get their own message, because granting the action would not fix them."""
    if isinstance(exc, SmStudioError):
        return exc
    import botocore.exceptions as bexc

    where = f" on {resource}" if resource else ""
    if isinstance(exc, bexc.ClientError):
        err = exc.response.get("Error", {})
        code = str(
            err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        )
        msg = err.get("Message") or code
        if code in CREDENTIAL_CODES:
            return InvalidCredentials(
                f"AWS refused the credentials for {action}{where} ({code}: {msg}): they are "
                "expired or invalid. Renew them (a new session, `aws sso login`, or check the "
                "access key and the clock) and retry.",
                action=action,
                aws_code=code,
            )
        kms = _kms_failure(code, msg, action, where)
        if kms is not None:
            return kms
        if code in DENIED_CODES:
            if action.startswith("ce:") and _CE_NOT_ENABLED_RE.search(msg):
                return NotConfigured(
                    f"Cost Explorer is not enabled for this account ({msg}): the account's "
                    "administrator (the payer account under consolidated billing) enables it "
                    "in the Billing console (Cost Explorer); data appears within about 24 h.",
                    action=action,
                    aws_code=code,
                )
            principal = _PRINCIPAL_RE.search(msg)
            who = f" ({principal.group(1)})" if principal else ""
            return AccessDenied(
                f"AWS denied {action}{where}: {msg}. Grant {action} to the calling identity{who}.",
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
        return InvalidCredentials(
            f"no AWS credentials found for {action}: inside Studio the app's execution role "
            "provides them; elsewhere set up a profile (AWS_PROFILE) or AWS_* variables",
            action=action,
        )
    if isinstance(exc, _token_errors()):
        return InvalidCredentials(
            f"AWS credentials for {action} could not be loaded or refreshed: {exc}. Renew them "
            "(e.g. `aws sso login`) and retry.",
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


@functools.cache
def _token_errors() -> tuple[type[BaseException], ...]:
    """botocore's failures to get or refresh credentials (the ones this botocore has)."""
    import botocore.exceptions as bexc

    names = (
        "TokenRetrievalError",
        "SSOTokenLoadError",
        "UnauthorizedSSOTokenError",
        "CredentialRetrievalError",
        "RefreshWithMFAUnsupportedError",
    )
    return tuple(getattr(bexc, name) for name in names if hasattr(bexc, name))


def _kms_failure(code: str, msg: str, action: str, where: str) -> SmStudioError | None:
    """A denial or failure caused by a KMS key behind ``action``, or None."""
    named = _KMS_ACTION_RE.search(msg)
    if not (named or code.startswith("KMS") or (code in DENIED_CODES and _KMS_HINT_RE.search(msg))):
        return None
    operation = action.partition(":")[2]
    kms_action = (
        f"kms:{named.group(1)}"
        if named
        else "kms:GenerateDataKey"
        if operation in _KMS_WRITES
        else "kms:Decrypt"
    )
    if code in DENIED_CODES or "AccessDenied" in code or named:
        principal = _PRINCIPAL_RE.search(msg)
        who = f" ({principal.group(1)})" if principal else ""
        return AccessDenied(
            f"AWS denied {action}{where} because of its KMS key: {msg}. Grant {kms_action} on "
            f"the key to the calling identity{who} (IAM policy and key policy).",
            action=kms_action,
            aws_code=code,
            denied_action=action,
        )
    return AwsError(
        f"{action}{where} failed because of its KMS key ({code}: {msg}): check that the key "
        "exists, is enabled and is in this region.",
        action=kms_action,
        aws_code=code,
    )


def call(client: Any, operation: str, resource: str | None = None, **params: Any) -> dict[str, Any]:
    """Call ``operation`` (API name, e.g. ``DeleteApp``) on ``client`` with typed errors; the
    answer is botocore's parsed response, always a dict."""
    import botocore.exceptions as bexc  # loaded already: the client is botocore's

    service = client.meta.service_model.service_name
    method: Callable[..., Any] = getattr(client, _snake(operation))
    try:
        answer: dict[str, Any] = method(**params)
    except (bexc.ClientError, bexc.BotoCoreError) as exc:
        raise translate(exc, iam_action(service, operation), resource) from exc
    return answer


def paginate(
    fetch: Callable[..., Any], key: str, *, max_pages: int | None = None, **params: Any
) -> Iterator[Any]:
    """Every item under ``key`` across pages: ``fetch(**params)`` returns one page, and
    ``NextToken`` is followed until the last page (the pagination of SageMaker, Pricing and
    Cost Explorer's list calls). ``max_pages`` bounds a call whose size we don't control.
    The one NextToken loop of the project: use it rather than writing another."""
    pages = 0
    while True:
        page = fetch(**params)
        pages += 1
        yield from page.get(key) or []
        token = page.get("NextToken")
        if not token or (max_pages is not None and pages >= max_pages):
            return
        params = {**params, "NextToken": token}


def _snake(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))
