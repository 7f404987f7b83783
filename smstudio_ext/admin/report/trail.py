"""Studio app starts and stops from CloudTrail's event history (``LookupEvents``).

CloudTrail keeps the last 90 days of management events per account and region and answers at
most **two lookups per second per account and region** (API reference, ``LookupEvents``). One
attribute per lookup, so each event name is one paginated lookup: ``DeleteApp``, ``CreateApp``,
``DeleteSpace`` and ``DeleteUserProfile`` (an owner deleted between a stop and the next start
makes that stop's hours unknowable). Every request takes a token from a limiter set below the
service's limit (``SAFE_RATE``); a throttled page is retried with exponential backoff, and a
lookup that still fails makes the whole history ``unknown`` (a partial history would undercount
silently). Failed calls (``errorCode``) are not events that happened and are skipped.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ...aws import USER_AGENT, AwsClients, call
from ...errors import AccessDenied, AwsUnavailable, SmStudioError
from ...ratelimit import RateLimiter

log = logging.getLogger("smstudio_ext")

RETENTION_DAYS = 90
SAFE_RATE = 1.5  # requests/s: under CloudTrail's 2 per second per account and region
PAGE_SIZE = 50  # LookupEvents' maximum
LOOKED_UP = ("DeleteApp", "CreateApp", "DeleteSpace", "DeleteUserProfile")
OUR_AGENT = USER_AGENT.split("/", 1)[0] + "/"  # "smstudio-ext/": any version of ours
MAX_PAGES = 2000  # per event name: 100,000 events, a guard against a token that never ends
#: Days read before the counted window: the start (and instance type) of an app stopped early in
#: the window is usually within the week before it.
LOOKBACK_DAYS = 7.0


@dataclass(frozen=True)
class TrailEvent:
    """One successful Studio call from the event history."""

    name: str
    time: datetime
    domain_id: str
    owner_kind: str | None  # "space" | "user-profile"
    owner: str | None
    app_type: str | None = None
    app_name: str | None = None
    instance_type: str | None = None  # CreateApp's ResourceSpec.InstanceType, when given
    user_agent: str = ""
    caller: str = ""

    @property
    def ours(self) -> bool:
        return OUR_AGENT in self.user_agent

    @property
    def app_key(self) -> tuple[str, str | None, str | None, str | None, str | None]:
        return (self.domain_id, self.owner_kind, self.owner, self.app_type, self.app_name)


@dataclass
class TrailResult:
    status: str  # "ok" | "unknown"
    reason: str | None
    start: datetime  # shutdowns are counted from here
    end: datetime
    lookup_start: datetime | None = None  # events are read from here (start - LOOKBACK_DAYS)
    events: list[TrailEvent] = field(default_factory=list)
    requests: int = 0
    throttled: int = 0
    skipped_failed_calls: int = 0


def window(now: datetime, days: float) -> tuple[datetime, datetime]:
    """(start, end) of a lookup of the last ``days`` days, inside the 90 days CloudTrail keeps."""
    oldest = now - timedelta(days=RETENTION_DAYS) + timedelta(minutes=5)
    return max(now - timedelta(days=days), oldest), now


def _get(data: Any, name: str) -> Any:
    """A request parameter whatever its case (CloudTrail writes SageMaker's as lowerCamelCase)."""
    if not isinstance(data, dict):
        return None
    if name in data:
        return data[name]
    lower = name[:1].lower() + name[1:]
    return data.get(lower)


def parse(item: dict[str, Any]) -> TrailEvent | None:
    """A ``TrailEvent`` from one ``LookupEvents`` item; None for failed calls and other shapes."""
    try:
        record = json.loads(item.get("CloudTrailEvent") or "{}")
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("errorCode"):
        return None
    params = record.get("requestParameters") or {}
    name = str(record.get("eventName") or item.get("EventName") or "")
    domain = _get(params, "DomainId")
    if not domain or name not in LOOKED_UP:
        return None
    when = item.get("EventTime")
    if not isinstance(when, datetime):
        try:
            when = datetime.strptime(str(record.get("eventTime")), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    space, profile = _get(params, "SpaceName"), _get(params, "UserProfileName")
    kind = "space" if space else ("user-profile" if profile else None)
    spec = _get(params, "ResourceSpec") or {}
    identity = record.get("userIdentity") or {}
    return TrailEvent(
        name=name,
        time=when.astimezone(timezone.utc),
        domain_id=str(domain),
        owner_kind=kind,
        owner=space or profile,
        app_type=_get(params, "AppType"),
        app_name=_get(params, "AppName"),
        instance_type=_get(spec, "InstanceType"),
        user_agent=str(record.get("userAgent") or ""),
        caller=str(identity.get("arn") or item.get("Username") or ""),
    )


class TrailReader:
    """Reads the event history of one account and region under its own request-rate bound."""

    def __init__(
        self,
        clients: AwsClients,
        *,
        rate: float = SAFE_RATE,
        retries: int = 5,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clients = clients
        self.limiter = RateLimiter(rate, burst=1)  # real time: the service counts it
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    def _page(self, result: TrailResult, params: dict[str, Any]) -> dict[str, Any]:
        client = self.clients.client("cloudtrail")
        for attempt in range(self.retries + 1):
            self.limiter.acquire()
            result.requests += 1
            try:
                page: dict[str, Any] = call(client, "LookupEvents", **params)
                return page
            except AwsUnavailable as exc:
                if attempt == self.retries:
                    raise
                result.throttled += 1
                delay = self.backoff * (2**attempt) * (1 + random.random() / 2)
                log.info("smstudio report: %s; retrying in %.1f s", exc.message, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def read(self, now: datetime, days: float) -> TrailResult:
        """Events of the last ``days`` days plus ``LOOKBACK_DAYS`` (inside the 90 days)."""
        start, end = window(now, days)
        lookup_start = window(now, days + LOOKBACK_DAYS)[0]
        result = TrailResult("ok", None, start, end, lookup_start)
        try:
            for name in LOOKED_UP:
                params: dict[str, Any] = {
                    "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
                    "StartTime": lookup_start,
                    "EndTime": end,
                    "MaxResults": PAGE_SIZE,
                }
                for _ in range(MAX_PAGES):
                    page = self._page(result, params)
                    for item in page.get("Events") or []:
                        parsed = parse(item)
                        if parsed is None:
                            result.skipped_failed_calls += 1
                        elif lookup_start <= parsed.time <= end:
                            result.events.append(parsed)
                    token = page.get("NextToken")
                    if not token:
                        break
                    params = {**params, "NextToken": token}
        except AccessDenied as exc:
            return _unknown(result, f"this role lacks cloudtrail:LookupEvents ({exc.message})")
        except AwsUnavailable as exc:
            return _unknown(
                result,
                f"CloudTrail kept refusing LookupEvents after {self.retries} retries with "
                f"backoff ({exc.extra.get('aws_code', 'unavailable')}): {exc.message}",
            )
        except SmStudioError as exc:
            return _unknown(result, f"CloudTrail LookupEvents failed: {exc.message}")
        result.events.sort(key=lambda e: e.time)
        return result


def _unknown(result: TrailResult, reason: str) -> TrailResult:
    result.status, result.reason, result.events = "unknown", reason, []
    return result
