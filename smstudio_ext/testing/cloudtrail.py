"""CloudTrail ``LookupEvents`` for the emulator: moto 5.2 keeps trails but has no event history.

What it serves, as the API reference describes it (botocore ``cloudtrail`` model, operation
``LookupEvents``):

* management events of one account and region, newest first, at most the last **90 days**;
* one lookup attribute at most (``InvalidLookupAttributesException`` for more), ``MaxResults``
  1-50 (default 50), ``StartTime`` <= ``EndTime`` (``InvalidTimeRangeException``), pagination
  with an opaque ``NextToken`` valid only with the same parameters (``InvalidNextTokenException``);
* **two requests per second per account and region**: more answer ``ThrottlingException``.

Where the reference leaves room, the emulator is the stricter: a ``StartTime`` older than the
90 days is refused (``InvalidTimeRangeException``: "outside the range of possible values")
rather than silently clipped, and the rate is a token bucket of 2 per second with a burst of 2.

Events come from two places: the Studio calls made through the emulator (``record``, called by
the Studio dispatch for ``RECORDED`` actions, with the caller's ``User-Agent`` and the request
parameters in CloudTrail's camelCase, failures with ``errorCode``), and events a test injects
(``put_events`` with records built by ``app_event``), e.g. a synthetic month. The event store
hangs off moto's CloudTrail backend of that account and region, so ``/moto-api/reset`` clears it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from smstudio_ext.clock import utcnow

from .faults import error_response
from .validation import validation_errors, validation_message

RETENTION = timedelta(days=90)
LOOKUP_RATE = 2.0  # requests per second, per account and region (API reference)
LOOKUP_BURST = 2.0
DEFAULT_PAGE = 50
EVENT_SOURCE = "sagemaker.amazonaws.com"
#: The Studio actions whose calls through the emulator are recorded as events.
RECORDED = frozenset(
    {
        "CreateApp",
        "DeleteApp",
        "CreateSpace",
        "DeleteSpace",
        "CreateUserProfile",
        "DeleteUserProfile",
    }
)
_ATTRIBUTES = {
    "EventId": lambda e: e["eventID"],
    "EventName": lambda e: e["eventName"],
    "ReadOnly": lambda e: str(e.get("readOnly", False)).lower(),
    "Username": lambda e: _username(e),
    "EventSource": lambda e: e["eventSource"],
    "AccessKeyId": lambda e: (e.get("userIdentity") or {}).get("accessKeyId", ""),
}


class TrailError(Exception):
    """An error answered in CloudTrail's JSON error format."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Trail:
    """The event history of one account and region, and its request-rate bucket."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._tokens = LOOKUP_BURST
        self._last = time.monotonic()

    def take_token(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self._tokens = min(LOOKUP_BURST, self._tokens + (now - self._last) * LOOKUP_RATE)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


_trail_lock = threading.Lock()


def get_trail(account_id: str, region: str) -> Trail:
    """The trail of one account and region (created on first use, dropped by moto's reset)."""
    from moto.cloudtrail.models import cloudtrail_backends

    backend = cloudtrail_backends[account_id][region]
    with _trail_lock:
        trail = backend.__dict__.get("_smstudio_trail")
        if trail is None:
            trail = backend.__dict__["_smstudio_trail"] = Trail()
    return trail


# -- building events ------------------------------------------------------------------------------


def _camel(value: Any) -> Any:
    """CloudTrail writes SageMaker request parameters with lower-camel-case keys."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if isinstance(value, datetime):
        return _time(value)
    return value


def _time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _username(event: dict[str, Any]) -> str:
    identity = event.get("userIdentity") or {}
    if identity.get("userName"):
        return str(identity["userName"])
    return str(identity.get("arn", "")).rsplit("/", 1)[-1]


def event(
    name: str,
    when: datetime,
    *,
    account_id: str,
    region: str,
    request_parameters: dict[str, Any] | None,
    response_elements: dict[str, Any] | None = None,
    user_agent: str = "aws-cli/2.15.0",
    error_code: str | None = None,
    error_message: str | None = None,
    identity: dict[str, Any] | None = None,
    source: str = EVENT_SOURCE,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """One CloudTrail record (the ``CloudTrailEvent`` JSON), as in the record-contents reference."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity
        or {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{account_id}:user/admin",
            "accountId": account_id,
            "accessKeyId": "AKIAEXAMPLE",
            "userName": "admin",
        },
        "eventTime": _time(when),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": _camel(request_parameters) if request_parameters else None,
        "responseElements": _camel(response_elements) if response_elements else None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
    }
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or error_code
    return record


def app_event(
    name: str,
    when: datetime,
    *,
    account_id: str,
    region: str,
    domain_id: str,
    app_type: str,
    app_name: str,
    space_name: str | None = None,
    user_profile_name: str | None = None,
    instance_type: str | None = None,
    user_agent: str = "aws-cli/2.15.0",
    error_code: str | None = None,
) -> dict[str, Any]:
    """A synthetic ``CreateApp`` / ``DeleteApp`` record (``instance_type`` for CreateApp)."""
    params: dict[str, Any] = {"DomainId": domain_id, "AppType": app_type, "AppName": app_name}
    owner = space_name or user_profile_name or ""
    if space_name:
        params["SpaceName"] = space_name
    else:
        params["UserProfileName"] = user_profile_name
    if name == "CreateApp" and instance_type:
        params["ResourceSpec"] = {"InstanceType": instance_type}
    arn = f"arn:aws:sagemaker:{region}:{account_id}:app/{domain_id}/{owner}/{app_type.lower()}/{app_name}"
    return event(
        name,
        when,
        account_id=account_id,
        region=region,
        request_parameters=params,
        response_elements={"AppArn": arn} if name == "CreateApp" and not error_code else None,
        user_agent=user_agent,
        error_code=error_code,
    )


def put_events(account_id: str, region: str, events: list[dict[str, Any]]) -> None:
    """Add records (e.g. ``app_event`` results) to the history of one account and region."""
    trail = get_trail(account_id, region)
    with trail.lock:
        trail.events.extend(events)


def record(
    response: Any,
    action: str,
    params: dict[str, Any],
    result: dict[str, Any] | None,
    error: Any = None,
) -> None:
    """Record a Studio call served by the emulator (``response``: moto's SageMaker response)."""
    if action not in RECORDED:
        return
    account, region = response.current_account, response.region
    access_key = response.get_access_key()
    identity = {
        "type": "IAMUser",
        "principalId": "AIDAEMULATOR",
        "arn": f"arn:aws:iam::{account}:user/emulator",
        "accountId": account,
        "accessKeyId": access_key,
        "userName": "emulator",
    }
    put_events(
        account,
        region,
        [
            event(
                action,
                utcnow(),
                account_id=account,
                region=region,
                request_parameters={k: v for k, v in params.items() if k != "Tags"},
                response_elements=result or None,
                user_agent=str(response.headers.get("User-Agent", "")),
                error_code=getattr(error, "code", None),
                error_message=getattr(error, "message", None),
                identity=identity,
            )
        ],
    )


# -- LookupEvents ---------------------------------------------------------------------------------


def _parse_time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (TypeError, ValueError):
        raise TrailError("ValidationException", f"{name} is not a timestamp") from None


def _token(params: dict[str, Any], offset: int) -> str:
    digest = hashlib.sha256(
        json.dumps({k: v for k, v in params.items() if k != "NextToken"}, sort_keys=True).encode()
    ).hexdigest()[:16]
    return base64.urlsafe_b64encode(json.dumps([digest, offset]).encode()).decode()


def _offset(params: dict[str, Any]) -> int:
    token = params.get("NextToken")
    if token is None:
        return 0
    try:
        digest, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
        expected = json.loads(base64.urlsafe_b64decode(_token(params, 0).encode()))[0]
    except (ValueError, TypeError, AttributeError):
        raise TrailError("InvalidNextTokenException", "Invalid NextToken.") from None
    if digest != expected or not isinstance(offset, int) or offset < 0:
        raise TrailError(
            "InvalidNextTokenException",
            "The NextToken was used with different parameters than the original call.",
        )
    return offset


def lookup(trail: Trail, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One ``LookupEvents`` page (raises ``TrailError`` as CloudTrail answers)."""
    errors = validation_errors("cloudtrail", "LookupEvents", params)
    if any("lookupAttributes" in e for e in errors):
        raise TrailError("InvalidLookupAttributesException", validation_message(errors))
    if any("maxResults" in e for e in errors):
        raise TrailError("InvalidMaxResultsException", validation_message(errors))
    if errors:
        raise TrailError("ValidationException", validation_message(errors))
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise TrailError(
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        )
    if params.get("EventCategory") == "insight":
        return {"Events": []}  # no trail here has Insights enabled
    start = _parse_time(params.get("StartTime"), "StartTime")
    end = _parse_time(params.get("EndTime"), "EndTime") or now
    oldest = now - RETENTION
    if start is not None and start > end:
        raise TrailError("InvalidTimeRangeException", "Start time must be before end time.")
    if start is not None and start < oldest - timedelta(minutes=1):
        raise TrailError(
            "InvalidTimeRangeException",
            "The StartTime is outside the range of possible values: event history holds the "
            "last 90 days.",
        )
    start = max(start or oldest, oldest)
    page = params.get("MaxResults") or DEFAULT_PAGE
    offset = _offset(params)
    with trail.lock:
        events = list(trail.events)
    matching = []
    for record_ in events:
        when = datetime.strptime(record_["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc
        )
        if not start <= when <= end:
            continue
        if attributes:
            key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
            getter = _ATTRIBUTES.get(key)
            if getter is not None and getter(record_) != value:
                continue
            if key in ("ResourceName", "ResourceType") and value not in _resources(record_, key):
                continue
        matching.append((when, record_))
    matching.sort(key=lambda item: item[0], reverse=True)  # newest first
    chosen = matching[offset : offset + page]
    out: dict[str, Any] = {
        "Events": [
            {
                "EventId": r["eventID"],
                "EventName": r["eventName"],
                "ReadOnly": str(r.get("readOnly", False)).lower(),
                "AccessKeyId": (r.get("userIdentity") or {}).get("accessKeyId"),
                "EventTime": when,
                "EventSource": r["eventSource"],
                "Username": _username(r),
                "Resources": [
                    {"ResourceType": t, "ResourceName": n} for t, n in _resource_pairs(r)
                ],
                "CloudTrailEvent": json.dumps(r),
            }
            for when, r in chosen
        ]
    }
    if offset + page < len(matching):
        out["NextToken"] = _token(params, offset + page)
    return out


def _resource_pairs(record_: dict[str, Any]) -> list[tuple[str, str]]:
    arn = (record_.get("responseElements") or {}).get("appArn")
    return [("AWS::SageMaker::App", arn)] if arn else []


def _resources(record_: dict[str, Any], key: str) -> set[str]:
    index = 0 if key == "ResourceType" else 1
    return {pair[index] for pair in _resource_pairs(record_)}


def _answer(response: Any) -> tuple[int, dict[str, str], str]:
    from moto.core.responses import ActionResult

    trail = get_trail(response.current_account, response.region)
    try:
        if not trail.take_token():
            raise TrailError("ThrottlingException", "Rate exceeded")
        try:
            params = json.loads(response.body or "{}")
        except ValueError:
            raise TrailError("SerializationException", "Invalid JSON body") from None
        result = lookup(trail, params, utcnow())
    except TrailError as exc:
        body, headers = error_response("cloudtrail", exc.code, exc.message)
        return exc.status, dict(headers), body
    status, headers, body = response.serialized(ActionResult(result))
    return status, headers, body


def install() -> None:
    """Serve ``LookupEvents`` from moto's CloudTrail endpoint (idempotent)."""
    from moto.cloudtrail.responses import CloudTrailResponse

    if getattr(CloudTrailResponse, "_smstudio_installed", False):
        return
    original = CloudTrailResponse.call_action

    def call_action(self: Any) -> Any:
        if self._get_action() == "LookupEvents":
            return _answer(self)
        return original(self)

    CloudTrailResponse.call_action = call_action  # type: ignore[method-assign]
    CloudTrailResponse._smstudio_installed = True  # type: ignore[attr-defined]
