"""Audit a whole domain: our lifecycle config, guardrails, idle settings, running apps and cost.

Built for domains of thousands of profiles:

* every AWS call goes through one ``RateLimiter`` (a token bucket shared by all worker threads),
  so the audit never exceeds ``max_rps`` requests per second whatever the concurrency;
* owners are described by a bounded thread pool (``concurrency``); botocore's adaptive retry
  mode slows down further when AWS throttles;
* apps come from one paginated ``ListApps`` over the whole domain (its ``ResourceSpec`` carries
  the instance type and the app's ``LifecycleConfigArn``), not one call per owner; lifecycle
  configs and prices are looked up once per distinct ARN / instance type.

Calls per audit: 1 DescribeDomain + ceil(N/100) list pages + N describes + P ListTags (profiles;
the user-id tag) + distinct LCCs + distinct instance types.

The "extension checker": Studio apps are not reachable from an admin's laptop (they sit behind
the Studio proxy with the user's own session), so every running app is reported as
``unreachable`` and the audit checks what AWS can tell: whether the app started with our
lifecycle config (``LifecycleConfigArn``), which installs and configures the extension.

Guardrails: ``GuardrailProvider`` is the seam. ``BuiltinGuardrails`` evaluates the guardrails
from the data the audit has already fetched (no extra calls). When the insights engine's
registry (``smstudio_ext/insights/guardrails.py``) is in main, a provider adapting it replaces
``default_guardrails()``: one place to change.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from .. import clock
from ..apps import LIVE_STATUSES, AppInfo, _app_from
from ..aws import AwsClients, call, paginate
from ..errors import BadInput, NotFound, SmStudioError
from .domain import attached_lccs

log = logging.getLogger("smstudio_ext")

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
DEFAULT_LCC_PREFIX = "smstudio-"
DEFAULT_LCC_MARKER = "# smstudio-ext"
_VERSION_IN_NAME = re.compile(r"-v(\d+(?:[.-]\d+)*)$")
_VERSION_IN_MARKER = re.compile(r"version[ =:]+([0-9][\w.+-]*)", re.I)


# -- request-rate limit ------------------------------------------------------------------------


class RateLimiter:
    """A thread-safe token bucket: at most ``rate`` acquisitions per second (burst ``burst``)."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate or rate <= 0:
            raise BadInput(f"max requests per second must be positive, got {rate}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, min(rate, 10.0)))
        self._tokens = self.burst
        self._monotonic = monotonic
        self._sleep = sleep
        self._last = monotonic()
        self._lock = threading.Lock()
        self.acquired = 0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1 - 1e-9:  # float dust must not spin the loop
                    self._tokens -= 1
                    self.acquired += 1
                    return
                wait = max((1 - self._tokens) / self.rate, 1e-6)
            self._sleep(wait)


class Caller:
    """``aws.call`` behind the rate limiter, counting calls per operation."""

    def __init__(self, clients: AwsClients, limiter: RateLimiter) -> None:
        self.clients = clients
        self.limiter = limiter
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, service: str, operation: str, **params: Any) -> Any:
        self.limiter.acquire()
        with self._lock:
            self.counts[f"{service}:{operation}"] += 1
        # the Pricing API lives in us-east-1 (and ap-south-1) only
        region = "us-east-1" if service == "pricing" else None
        return call(self.clients.client(service, region=region), operation, **params)

    def pages(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        params.setdefault("MaxResults", 100)
        return paginate(functools.partial(self, "sagemaker", operation), key, **params)


# -- results -----------------------------------------------------------------------------------


@dataclass
class CheckResult:
    id: str
    status: str
    severity: str
    reason: str
    level: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class LccInfo:
    arn: str
    name: str
    ours: bool
    version: str | None = None
    app_type: str | None = None


@dataclass
class OwnerReport:
    kind: str  # "user-profile" | "space"
    name: str
    status: str | None = None
    lcc: dict[str, Any] = field(default_factory=dict)
    idle: dict[str, Any] = field(default_factory=dict)
    apps: list[dict[str, Any]] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    cost_per_hour: float | None = None
    error: str | None = None
    tags: dict[str, str] | None = None  # profiles only; None = not readable

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["checks"] = [c.to_dict() for c in self.checks]
        return d


@dataclass
class AuditOptions:
    domain_id: str
    concurrency: int = 8
    max_rps: float = 20.0
    lcc_prefix: str = DEFAULT_LCC_PREFIX
    lcc_marker: str = DEFAULT_LCC_MARKER
    tag_key: str = "studiouserid"
    allowed_instance_types: list[str] = field(default_factory=list)
    include_prices: bool = True

    def validate(self) -> None:
        if not re.match(r"^d-[a-z0-9]{1,63}$", self.domain_id or ""):
            raise BadInput(f"invalid domain id {self.domain_id!r} (expected d-...)")
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 64:
            raise BadInput(f"concurrency must be between 1 and 64, got {self.concurrency}")
        if not self.max_rps or not 0 < self.max_rps <= 1000:
            raise BadInput(f"max requests per second must be in (0, 1000], got {self.max_rps}")


# -- guardrail seam ----------------------------------------------------------------------------


class GuardrailProvider(Protocol):
    def domain_checks(self, domain: dict[str, Any]) -> list[CheckResult]: ...

    def owner_checks(self, audit: AuditContext, report: OwnerReport) -> list[CheckResult]: ...


def _check(id: str, ok: bool | None, severity: str, level: str, good: str, bad: str) -> CheckResult:
    status = UNKNOWN if ok is None else PASS if ok else FAIL
    return CheckResult(id, status, severity, good if ok else bad, level)


class BuiltinGuardrails:
    """The STUDIO.md guardrails that the audit's own data can answer (no extra AWS calls)."""

    def domain_checks(self, domain: dict[str, Any]) -> list[CheckResult]:
        defaults = domain.get("DefaultUserSettings") or {}
        sgs = defaults.get("SecurityGroups") or (domain.get("DomainSettings") or {}).get(
            "SecurityGroupIds"
        )
        vpc_only = domain.get("AppNetworkAccessType") == "VpcOnly"
        sharing = defaults.get("SharingSettings") or {}
        sharing_on = sharing.get("NotebookOutputOption", "Disabled") == "Allowed"
        identity = (domain.get("DomainSettings") or {}).get("ExecutionRoleIdentityConfig")
        return [
            _check(
                "network-vpc-only",
                vpc_only and bool(domain.get("SubnetIds")) and bool(sgs),
                "high",
                "domain",
                "VpcOnly with subnets and security groups",
                f"network {domain.get('AppNetworkAccessType')}, subnets "
                f"{len(domain.get('SubnetIds') or [])}, security groups {len(sgs or [])}",
            ),
            _check(
                "volume-kms",
                bool(domain.get("KmsKeyId")),
                "high",
                "domain",
                "home volume encrypted with a customer KMS key",
                "home volume uses the AWS-managed key (no KmsKeyId)",
            ),
            _check(
                "sharing-kms",
                (not sharing_on) or bool(sharing.get("S3KmsKeyId")),
                "medium",
                "domain",
                "notebook sharing off or its bucket encrypted with a KMS key",
                "notebook sharing on without SharingSettings.S3KmsKeyId",
            ),
            _check(
                "source-identity",
                identity == "USER_PROFILE_NAME",
                "medium",
                "domain",
                "ExecutionRoleIdentityConfig=USER_PROFILE_NAME: CloudTrail names the user",
                f"ExecutionRoleIdentityConfig={identity or 'unset'}: CloudTrail shows only the role",
            ),
        ]

    def owner_checks(self, audit: AuditContext, report: OwnerReport) -> list[CheckResult]:
        out = []
        if report.kind == "user-profile":
            tags = report.tags
            if tags is None:
                out.append(
                    CheckResult(
                        "user-id-tag",
                        UNKNOWN,
                        "medium",
                        "can't tell: tags not readable",
                        "owner",
                    )
                )
            else:
                value = tags.get(audit.options.tag_key)
                out.append(
                    _check(
                        "user-id-tag",
                        bool(value),
                        "medium",
                        "owner",
                        f"tagged {audit.options.tag_key}={value}",
                        f"no '{audit.options.tag_key}' tag",
                    )
                )
        out.append(
            _check(
                "smstudio-lcc",
                bool(report.lcc.get("ours")),
                "medium",
                "owner",
                f"our lifecycle config {report.lcc.get('name')} ({report.lcc.get('source')})",
                "none of our lifecycle configs attached (own or domain default)",
            )
        )
        out.append(
            _check(
                "idle-shutdown",
                bool(report.idle.get("active")),
                "medium",
                "owner",
                f"idle shutdown by {report.idle.get('by')}",
                "no idle shutdown: neither Studio's IdleSettings nor our extension",
            )
        )
        allowed = audit.options.allowed_instance_types
        for app in report.apps:
            if allowed:
                it = app.get("instance_type")
                out.append(
                    _check(
                        f"instance-type:{app['app_name']}",
                        it in allowed or it == "system",
                        "high",
                        "app",
                        f"{it} allowed",
                        f"{app['app_type']} {app['app_name']} runs on {it}, not allowed",
                    )
                )
            out.append(
                _check(
                    f"app-lcc:{app['app_type']}/{app['app_name']}",
                    app.get("lcc_ours"),
                    "low",
                    "app",
                    "started with our lifecycle config",
                    "started without our lifecycle config: restart it to get the extension",
                )
            )
        return out


def default_guardrails() -> GuardrailProvider:
    """The guardrail provider (the seam for the insights registry)."""
    return BuiltinGuardrails()


# -- the audit ---------------------------------------------------------------------------------


def _merge_settings(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """Deep merge, later layers win (space/profile over domain): a profile that only changes
    ``IdleTimeoutInMinutes`` still inherits the domain's ``LifecycleManagement``."""

    def deep(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for k, v in over.items():
            both = isinstance(v, dict) and isinstance(out.get(k), dict)
            out[k] = deep(out[k], v) if both else v
        return out

    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep(merged, layer or {})
    return merged


_lcc_arns = attached_lccs


class AuditContext:
    """State shared by the workers of one audit."""

    def __init__(self, clients: AwsClients, options: AuditOptions) -> None:
        options.validate()
        self.options = options
        self.caller = Caller(clients, RateLimiter(options.max_rps))
        self.region = clients.region
        self._lccs: dict[str, LccInfo] = {}
        self._prices: dict[str, float | None] = {}
        self._lock = threading.Lock()

    def lcc(self, arn: str) -> LccInfo:
        with self._lock:
            if arn in self._lccs:
                return self._lccs[arn]
        name = arn.rsplit("/", 1)[-1]
        info = LccInfo(arn=arn, name=name, ours=name.startswith(self.options.lcc_prefix))
        try:
            desc = self.caller(
                "sagemaker",
                "DescribeStudioLifecycleConfig",
                resource=arn,
                StudioLifecycleConfigName=name,
            )
            info.app_type = desc.get("StudioLifecycleConfigAppType")
            content = _decode(desc.get("StudioLifecycleConfigContent") or "")
            marker = next(
                (ln for ln in content.splitlines() if ln.startswith(self.options.lcc_marker)), None
            )
            if marker:
                info.ours = True
                m = _VERSION_IN_MARKER.search(marker)
                info.version = m.group(1) if m else None
        except NotFound:
            pass
        if info.ours and not info.version:
            m = _VERSION_IN_NAME.search(name)
            info.version = m.group(1) if m else None
        with self._lock:
            self._lccs[arn] = info
        return info

    def price(self, instance_type: str | None) -> float | None:
        if not instance_type:
            return None
        if instance_type == "system":
            return 0.0  # the Classic Jupyter server's instance is free
        with self._lock:
            if instance_type in self._prices:
                return self._prices[instance_type]
        price = None
        if self.options.include_prices:
            price = lookup_price(self, instance_type)
        with self._lock:
            self._prices[instance_type] = price
        return price


def lookup_price(audit: AuditContext, instance_type: str) -> float | None:
    """List price per hour of a Studio instance (Pricing API), or None when unavailable.

    Seam: replaced by the insights engine's pricing when it lands in main.
    """
    try:
        page = audit.caller(
            "pricing",
            "GetProducts",
            ServiceCode="AmazonSageMaker",
            Filters=[
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": audit.region},
                {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
                {"Type": "TERM_MATCH", "Field": "component", "Value": "studio-notebook"},
            ],
            MaxResults=10,
        )
    except SmStudioError as exc:
        log.info("smstudio audit: no price for %s: %s", instance_type, exc)
        return None
    for raw in page.get("PriceList") or []:
        try:
            product = json.loads(raw) if isinstance(raw, str) else raw
            for term in (product.get("terms") or {}).get("OnDemand", {}).values():
                for dim in term.get("priceDimensions", {}).values():
                    return float(dim["pricePerUnit"]["USD"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return None


def _decode(content: str) -> str:
    try:
        return base64.b64decode(content, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return content


def _idle(settings: dict[str, Any], lcc_ours: bool) -> dict[str, Any]:
    lab = settings.get("JupyterLabAppSettings") or {}
    idle = (lab.get("AppLifecycleManagement") or {}).get("IdleSettings") or {}
    if idle.get("LifecycleManagement") == "ENABLED":
        return {
            "active": True,
            "by": "Studio IdleSettings",
            "timeout_minutes": idle.get("IdleTimeoutInMinutes"),
        }
    if lcc_ours:
        return {"active": True, "by": "smstudio extension (our LCC)", "timeout_minutes": None}
    return {"active": False, "by": None, "timeout_minutes": None}


def _audit_owner(
    audit: AuditContext,
    domain: dict[str, Any],
    kind: str,
    name: str,
    apps: list[AppInfo],
    provider: GuardrailProvider,
) -> OwnerReport:
    report = OwnerReport(kind=kind, name=name)
    domain_id = domain["DomainId"]
    try:
        if kind == "user-profile":
            desc = audit.caller(
                "sagemaker",
                "DescribeUserProfile",
                resource=name,
                DomainId=domain_id,
                UserProfileName=name,
            )
            own = desc.get("UserSettings") or {}
            settings = _merge_settings(domain.get("DefaultUserSettings"), own)
            arn = desc.get("UserProfileArn")
            tags = None
            if arn:
                try:
                    listed = audit.caller.pages("ListTags", "Tags", ResourceArn=arn)
                    tags = {t["Key"]: t.get("Value", "") for t in listed}
                except SmStudioError as exc:
                    log.info("smstudio audit: tags of %s: %s", name, exc)
            report.tags = tags
        else:
            desc = audit.caller(
                "sagemaker", "DescribeSpace", resource=name, DomainId=domain_id, SpaceName=name
            )
            own = desc.get("SpaceSettings") or {}
            settings = _merge_settings(
                domain.get("DefaultUserSettings"), domain.get("DefaultSpaceSettings"), own
            )
        report.status = desc.get("Status")
    except SmStudioError as exc:
        report.error = exc.message
        report.checks.append(CheckResult("describe", UNKNOWN, "high", exc.message, "owner"))
        return report

    own_ours = [a for a in _lcc_arns(own) if audit.lcc(a).ours]
    domain_ours = [a for a in _lcc_arns(domain.get("DefaultUserSettings")) if audit.lcc(a).ours]
    chosen = own_ours or domain_ours
    if chosen:
        info = audit.lcc(chosen[0])
        report.lcc = {
            "ours": True,
            "source": "own" if own_ours else "domain default",
            "name": info.name,
            "version": info.version,
            "arn": info.arn,
        }
    else:
        report.lcc = {"ours": False, "source": None, "name": None, "version": None, "arn": None}
    report.idle = _idle(settings, bool(chosen))
    cost = 0.0
    priced = True
    for app in apps:
        lcc_arn = app.lifecycle_config_arn
        price = audit.price(app.instance_type)
        if price is None:
            priced = False
        else:
            cost += price
        report.apps.append(
            {
                "app_type": app.app_type,
                "app_name": app.app_name,
                "status": app.status,
                "instance_type": app.instance_type,
                "lifecycle_config_arn": lcc_arn,
                "lcc_ours": audit.lcc(lcc_arn).ours if lcc_arn else False,
                "extension": "unreachable",
                "price_per_hour": price,
            }
        )
    report.cost_per_hour = round(cost, 4) if (apps and priced) else (0.0 if not apps else None)
    report.checks.extend(provider.owner_checks(audit, report))
    return report


@dataclass
class AuditReport:
    domain_id: str
    started: str
    elapsed_seconds: float
    domain_checks: list[CheckResult]
    owners: list[OwnerReport]
    calls: dict[str, int]
    max_rps: float

    @property
    def requests_per_second(self) -> float:
        total = sum(self.calls.values())
        return total / self.elapsed_seconds if self.elapsed_seconds else float(total)

    def all_checks(self) -> Iterator[tuple[str, CheckResult]]:
        for c in self.domain_checks:
            yield "domain", c
        for o in self.owners:
            for c in o.checks:
                yield f"{o.kind}:{o.name}", c

    def summary(self) -> dict[str, Any]:
        counts = Counter(c.status for _, c in self.all_checks())
        running = [a for o in self.owners for a in o.apps]
        costs = [o.cost_per_hour for o in self.owners if o.apps]
        known = [c for c in costs if c is not None]
        return {
            "profiles": sum(1 for o in self.owners if o.kind == "user-profile"),
            "spaces": sum(1 for o in self.owners if o.kind == "space"),
            "with_our_lcc": sum(1 for o in self.owners if o.lcc.get("ours")),
            "lcc_versions": dict(
                Counter(o.lcc.get("version") or "?" for o in self.owners if o.lcc.get("ours"))
            ),
            "idle_shutdown_active": sum(1 for o in self.owners if o.idle.get("active")),
            "running_apps": len(running),
            "extension_reachable": 0,
            "extension_unreachable": len(running),
            "estimated_cost_per_hour": round(sum(known), 4),
            "cost_complete": len(known) == len(costs),
            "checks": {s: counts.get(s, 0) for s in (PASS, FAIL, UNKNOWN)},
            "requests": sum(self.calls.values()),
            "requests_per_second": round(self.requests_per_second, 2),
            "max_rps": self.max_rps,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }

    def failing(self, fail_on: str = FAIL) -> list[dict[str, Any]]:
        statuses = {FAIL} if fail_on == FAIL else {FAIL, UNKNOWN}
        return [
            {"where": where, **c.to_dict()}
            for where, c in self.all_checks()
            if c.status in statuses
        ]

    def to_dict(self, fail_on: str = FAIL) -> dict[str, Any]:
        return {
            "domain_id": self.domain_id,
            "started": self.started,
            "summary": self.summary(),
            "domain_checks": [c.to_dict() for c in self.domain_checks],
            "failing": self.failing(fail_on),
            "owners": [o.to_dict() for o in self.owners],
            "calls": dict(self.calls),
        }


def run_audit(
    clients: AwsClients,
    options: AuditOptions,
    *,
    provider: GuardrailProvider | None = None,
) -> AuditReport:
    audit = AuditContext(clients, options)
    provider = provider or default_guardrails()
    started = clock.utcnow().isoformat()
    t0 = time.monotonic()
    domain_id = options.domain_id
    domain = audit.caller("sagemaker", "DescribeDomain", resource=domain_id, DomainId=domain_id)
    domain.setdefault("DomainId", domain_id)
    domain_checks = provider.domain_checks(domain)

    profiles = [
        p["UserProfileName"]
        for p in audit.caller.pages("ListUserProfiles", "UserProfiles", DomainIdEquals=domain_id)
    ]
    spaces = [
        s["SpaceName"] for s in audit.caller.pages("ListSpaces", "Spaces", DomainIdEquals=domain_id)
    ]
    apps_by_owner: dict[tuple[str, str], list[AppInfo]] = {}
    for item in audit.caller.pages("ListApps", "Apps", DomainIdEquals=domain_id):
        app = _app_from(item)
        if app.status not in LIVE_STATUSES:
            continue
        key = (
            ("space", app.space_name) if app.space_name else ("user-profile", app.user_profile_name)
        )
        apps_by_owner.setdefault((key[0], key[1] or ""), []).append(app)

    jobs = [("user-profile", n) for n in profiles] + [("space", n) for n in spaces]
    with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="audit") as pool:
        owners = list(
            pool.map(
                lambda job: _audit_owner(
                    audit, domain, job[0], job[1], apps_by_owner.get(job, []), provider
                ),
                jobs,
            )
        )
    return AuditReport(
        domain_id=domain_id,
        started=started,
        elapsed_seconds=time.monotonic() - t0,
        domain_checks=domain_checks,
        owners=owners,
        calls=dict(audit.caller.counts),
        max_rps=options.max_rps,
    )


def exit_code(report: AuditReport, fail_on: str) -> int:
    """1 when a check of the chosen severity (fail, or fail+unknown) exists, else 0."""
    if fail_on not in (FAIL, UNKNOWN):
        raise BadInput(f"--fail-on must be 'fail' or 'unknown', got {fail_on!r}")
    return 1 if report.failing(fail_on) else 0
