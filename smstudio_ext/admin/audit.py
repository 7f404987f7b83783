"""Audit a whole domain: our lifecycle config, guardrails, idle settings, running apps and cost.

The guardrails and the prices are the insights engine's (``smstudio_ext/insights/``): the same
registry (``Insights`` config: user-id tag key, allowed instance types, approved images,
disabled and extra checks) and the same ``PriceBook`` as the panel and ``smstudio insights``,
so the audit and the user's panel give the same answers. What only the audit does lives here:
lifecycle-config attachment and version (which configs are ours: ``lcc/ours.py``), the rollout
view (built-in, default or listed, and the version last recorded running: ``rollout.py``), Studio
Classic use as migration items, the idle-settings summary, the extension checker, summary counts
and exit codes.

Built for domains of thousands of profiles:

* every HTTP request to AWS (ours, the insights facts', the Pricing API's, retries included)
  takes a token from one ``RateLimiter`` shared by all threads: the audit hands the engine a
  clients (``AwsClients.with_request_hook`` + ``RequestMeter``) whose boto3 clients wait for a token in botocore's ``before-send`` hook,
  so the audit never exceeds ``max_rps`` requests per second whatever the concurrency;
* owners are evaluated by a bounded thread pool (``concurrency``); botocore's adaptive retry
  mode slows down further when AWS throttles;
* domain-level facts are fetched once per audit: one ``DescribeDomain``, primed into the
  engine's cache for every owner, and the domain-level checks evaluated once; apps come from one
  paginated ``ListApps`` over the whole domain, primed per owner (no ``ListApps`` per owner);
  lifecycle configs, prices and AppImageConfigs are looked up once per distinct name.

Calls per audit: 1 DescribeDomain + list pages + N describes + ~N ListTags (the user-id tag) +
distinct LCCs + distinct AppImageConfigs + distinct instance types (Pricing API, disk-cached).

The "extension checker": Studio apps are not reachable from an admin's laptop (they sit behind
the Studio proxy with the user's own session), so every running app is reported as
``unreachable`` and the audit checks what AWS can tell: whether the app started with our
lifecycle config (``LifecycleConfigArn``), which installs and configures the extension.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import clock
from ..apps import AppInfo, iter_apps
from ..aws import AwsClients, call, paginate, partition_of_arn
from ..context import CLASSIC_APP_TYPES
from ..errors import BadInput, SmStudioError
from ..idle.mode import idle_mode
from ..insights.config import Insights
from ..insights.costs import estimate
from ..insights.engine import InsightsEngine
from ..insights.facts import Facts, Subject
from ..insights.results import FAIL, PASS, STATUSES, UNKNOWN, CheckResult
from ..ratelimit import RateLimiter, RequestMeter
from ..studio_settings import IDLE_UNKNOWN, PlatformIdle
from .audit_rollout import classic_landing, lcc_arns, migration, rollout
from .lcc.ours import MARKER, VERSION_IN_MARKER, Ownership, extension_config

log = logging.getLogger("smstudio_ext")

DEFAULT_LCC_PREFIX = "smstudio-"
DEFAULT_LCC_MARKER = MARKER
_VERSION_IN_MARKER = VERSION_IN_MARKER  # the marker's version (lcc/ours.py reads it)
# An audit is a snapshot: what it fetched stays valid until it ends (one DescribeDomain, one
# answer per owner, one denied call is not asked again).
SNAPSHOT_TTL = 24 * 3600.0


class Caller:
    """``aws.call`` through the limited clients (the audit's own calls)."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def __call__(self, service: str, operation: str, **params: Any) -> Any:
        return call(self.clients.client(service), operation, **params)

    def pages(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        params.setdefault("MaxResults", 100)
        return paginate(functools.partial(self, "sagemaker", operation), key, **params)


# -- results -----------------------------------------------------------------------------------


@dataclass
class LccInfo:
    arn: str
    name: str
    ours: bool
    version: str | None = None
    app_type: str | None = None
    idle: dict[str, Any] | None = None  # the IdleShutdown section our LCC writes, if any
    by: str = "none"  # how we know it is ours: tag, marker, name (tag and content unreadable)


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
    cost: dict[str, Any] | None = None  # the insights estimate (per app, sources, notes)
    rollout: dict[str, Any] = field(default_factory=dict)  # built-in/default/listed, last seen
    migration: list[str] = field(default_factory=list)  # Studio Classic use to move off
    error: str | None = None

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
    include_prices: bool = True  # False: no Pricing API (price file, disk cache, bundled table)
    insights: Insights | None = None  # guardrail and price settings; None = defaults (+ env)
    # told what the audit is doing ("audit d-x: 12/340 profiles and spaces audited"): minutes
    # on a big domain; the CLI shows it as a progress line
    progress: Callable[[str], None] | None = None

    def validate(self) -> None:
        if not re.match(r"^d-[a-z0-9]{1,63}$", self.domain_id or ""):
            raise BadInput(f"invalid domain id {self.domain_id!r} (expected d-...)")
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 64:
            raise BadInput(f"concurrency must be between 1 and 64, got {self.concurrency}")
        if not self.max_rps or not 0 < self.max_rps <= 1000:
            raise BadInput(f"max requests per second must be in (0, 1000], got {self.max_rps}")


def snapshot_config(config: Insights | None) -> Insights:
    """A copy of ``config`` whose caches last the whole audit (nothing is asked twice)."""
    config = config or Insights()
    values = {name: getattr(config, name) for name in config.trait_names(config=True)}
    for name in (
        "tags_ttl_seconds",
        "apps_ttl_seconds",
        "guardrails_ttl_seconds",
        "error_ttl_seconds",
    ):
        values[name] = SNAPSHOT_TTL
    return Insights(**values)


# -- the audit ---------------------------------------------------------------------------------


class AuditContext:
    """State shared by the workers of one audit."""

    def __init__(self, clients: AwsClients, options: AuditOptions) -> None:
        options.validate()
        self.options = options
        self.meter = RequestMeter(RateLimiter(options.max_rps))
        self.clients = clients.with_request_hook(self.meter)
        self.caller = Caller(self.clients)
        self.region = clients.region
        self.config = snapshot_config(options.insights)
        self.engine = InsightsEngine(
            self.clients, self.config, use_pricing_api=options.include_prices
        )
        self.ownership = Ownership(
            self.clients, prefix=options.lcc_prefix, marker=options.lcc_marker
        )

    def close(self) -> None:
        self.engine.close(wait=True)

    def lcc(self, arn: str) -> LccInfo:
        """Our view of a lifecycle config, judged once per audit (:mod:`.lcc.ours`: our tag or
        marker line; the name prefix only when neither could be read)."""
        verdict = self.ownership.judge(arn)
        info = LccInfo(
            arn=arn,
            name=verdict.name,
            ours=verdict.ours,
            version=verdict.version,
            app_type=verdict.app_type,
            by=verdict.by,
        )
        if verdict.ours and verdict.script:
            idle = (extension_config(verdict.script) or {}).get("IdleShutdown")
            info.idle = idle if isinstance(idle, dict) else None
        return info


def _idle(platform: PlatformIdle, lcc: LccInfo | None) -> dict[str, Any]:
    """Who stops idle apps of this owner: the mode of :func:`smstudio_ext.idle.mode.idle_mode`
    (the answer the panel, ``smstudio idle status`` and the ``idle-shutdown`` check give), from
    the platform's IdleSettings (``studio_settings``) and the idle settings our LCC writes.
    ``active`` is None when the platform's settings can't be read (an old botocore drops them)
    and our LCC does not delete either."""
    mode = idle_mode(_idle_provider(lcc), platform)
    by = {
        "own": "smstudio extension (our LCC)",
        "platform": "Studio IdleSettings",
        "both": "Studio IdleSettings and smstudio extension (the shorter timeout wins)",
    }.get(mode.mode)
    return {
        "active": None if mode.mode == "unknown" else mode.mode in ("own", "platform", "both"),
        "mode": mode.mode,
        "by": by,
        "timeout_minutes": mode.effective_timeout_minutes,
        "warning": mode.warning,
        "platform": platform.state,
        "platform_reason": platform.reason,
    }


def _idle_provider(lcc: LccInfo | None) -> dict[str, Any] | None:
    """What the insights ``idle-shutdown`` check reads when our extension runs there: the
    IdleShutdown settings our LCC writes. None (→ the platform's IdleSettings) otherwise."""
    if lcc is None or not lcc.ours or not lcc.idle:
        return None
    return {
        "enabled": True,
        "timeout_minutes": lcc.idle.get("timeout_minutes"),
        "dry_run": bool(lcc.idle.get("dry_run", False)),
        "max_timeout_minutes": lcc.idle.get("max_timeout_minutes"),
    }


def _check(id: str, ok: bool | None, severity: str, level: str, good: str, bad: str) -> CheckResult:
    status = UNKNOWN if ok is None else PASS if ok else FAIL
    return CheckResult(id, status, severity, good if ok else bad, level)


def _audit_checks(report: OwnerReport) -> list[CheckResult]:
    """What only the audit checks: our lifecycle config on the owner and on each running app."""
    out = [
        _check(
            "smstudio-lcc",
            bool(report.lcc.get("ours")),
            "medium",
            "owner",
            f"our lifecycle config {report.lcc.get('name')} ({report.lcc.get('source')})",
            "none of our lifecycle configs attached (own or domain default)",
        )
    ]
    for app in report.apps:
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


def _audit_owner(
    audit: AuditContext,
    domain: dict[str, Any],
    account_id: str | None,
    kind: str,
    name: str,
    apps: list[AppInfo],
) -> OwnerReport:
    report = OwnerReport(kind=kind, name=name)
    domain_id = domain["DomainId"]
    chosen_box: list[LccInfo] = []
    subject = Subject(
        domain_id=domain_id,
        region=audit.region,
        owner_kind=kind,
        owner_name=name,
        account_id=account_id,
        partition=partition_of_arn(domain.get("DomainArn"), audit.region),
    )
    facts: Facts = audit.engine.facts(
        subject, providers={"idle": lambda: _idle_provider(chosen_box[0] if chosen_box else None)}
    )
    facts.prime(domain=domain, apps=apps, ttl=SNAPSHOT_TTL)
    try:
        desc = facts.owner() or {}
    except SmStudioError as exc:
        report.error = exc.message
        report.checks.append(
            CheckResult(
                "describe",
                UNKNOWN,
                "high",
                f"can't tell: {exc.message}",
                "owner",
                action=getattr(exc, "action", None),
            )
        )
        return report
    report.status = desc.get("Status")
    own = facts.owner_settings()

    own_ours = [a for a in lcc_arns(own) if audit.lcc(a).ours]
    domain_ours = [a for a in lcc_arns(domain.get("DefaultUserSettings")) if audit.lcc(a).ours]
    chosen = own_ours or domain_ours
    if chosen:
        info = audit.lcc(chosen[0])
        chosen_box.append(info)
        report.lcc = {
            "ours": True,
            "source": "own" if own_ours else "domain default",
            "name": info.name,
            "version": info.version,
            "arn": info.arn,
        }
    else:
        report.lcc = {"ours": False, "source": None, "name": None, "version": None, "arn": None}
    try:
        platform = facts.effective_settings().platform_idle()
    except SmStudioError as exc:  # e.g. a private space's owner profile can't be described
        platform = PlatformIdle(IDLE_UNKNOWN, f"can't tell: {exc.message}", None, None)
    report.idle = _idle(platform, chosen_box[0] if chosen_box else None)

    # running apps and their cost: the insights PriceBook and estimate
    live = facts.apps()
    prices = facts.prices_for(a.instance_type for a in live)
    est = estimate(live, prices, clock.utcnow())
    report.cost = est
    report.cost_per_hour = est["per_hour"] if est["status"] == "ok" else None
    by_key = {(r["app_type"], r["app_name"]): r for r in est["apps"]}
    for app in live:
        lcc_arn = app.lifecycle_config_arn
        row = by_key.get((app.app_type, app.app_name)) or {}
        report.apps.append(
            {
                "app_type": app.app_type,
                "app_name": app.app_name,
                "status": app.status,
                "instance_type": app.instance_type,
                "image_arn": app.image_version_arn or app.image_arn,
                "image": app.image,
                "image_version_alias": app.image_version_alias,
                "lifecycle_config_arn": lcc_arn,
                "lcc_ours": audit.lcc(lcc_arn).ours if lcc_arn else False,
                "extension": "unreachable",
                "price_per_hour": row.get("per_hour"),
                "currency": row.get("currency"),
                "price_source": row.get("price_source"),
            }
        )

    report.rollout = rollout(audit, facts, kind, desc, live)
    report.migration = migration(kind, desc, live)

    # every owner- and app-level guardrail of the insights registry, then the audit's own
    results = audit.engine.guardrails_part(facts, ("owner", "app"))[0]
    report.checks.extend(CheckResult.from_row(r) for r in results)
    report.checks.extend(_audit_checks(report))
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
    domain_migration: list[str] = field(default_factory=list)

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
        known = [a for a in running if a.get("price_per_hour") is not None]
        by_currency: dict[str, float] = {}
        for a in known:  # never add two currencies together
            cur = a.get("currency") or "USD"
            by_currency[cur] = round(by_currency.get(cur, 0.0) + a["price_per_hour"], 4)
        return {
            "profiles": sum(1 for o in self.owners if o.kind == "user-profile"),
            "spaces": sum(1 for o in self.owners if o.kind == "space"),
            "with_our_lcc": sum(1 for o in self.owners if o.lcc.get("ours")),
            "lcc_versions": dict(
                Counter(o.lcc.get("version") or "?" for o in self.owners if o.lcc.get("ours"))
            ),
            "idle_shutdown_active": sum(1 for o in self.owners if o.idle.get("active")),
            "rollout_modes": dict(Counter(o.rollout.get("mode") for o in self.owners if o.rollout)),
            "rollout_states": dict(
                Counter(o.rollout.get("state") for o in self.owners if o.rollout)
            ),
            "classic_apps": sum(1 for a in running if a.get("app_type") in CLASSIC_APP_TYPES),
            "migration_items": len(self.domain_migration)
            + sum(len(o.migration) for o in self.owners),
            "running_apps": len(running),
            "extension_reachable": 0,
            "extension_unreachable": len(running),
            "estimated_cost_per_hour": (
                next(iter(by_currency.values())) if len(by_currency) == 1 else None
            ),
            "estimated_cost_per_hour_by_currency": by_currency,
            "cost_complete": len(known) == len(running) and None not in costs,
            "price_sources": dict(Counter(a.get("price_source") or "unknown" for a in running)),
            "checks": {s: counts.get(s, 0) for s in STATUSES},
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
            "domain_migration": list(self.domain_migration),
            "failing": self.failing(fail_on),
            "owners": [o.to_dict() for o in self.owners],
            "calls": dict(self.calls),
        }


def run_audit(clients: AwsClients, options: AuditOptions) -> AuditReport:
    audit = AuditContext(clients, options)
    try:
        return _run(audit)
    finally:
        audit.close()


def _run(audit: AuditContext) -> AuditReport:
    options = audit.options
    started = clock.isoformat_z(clock.utcnow())
    t0 = time.monotonic()
    domain_id = options.domain_id
    say = options.progress or (lambda _text: None)
    say(f"audit {domain_id}: reading the domain")
    # domain-level facts once per audit: one DescribeDomain, primed for every owner
    domain = audit.caller("sagemaker", "DescribeDomain", resource=domain_id, DomainId=domain_id)
    domain.setdefault("DomainId", domain_id)
    arn = str(domain.get("DomainArn") or "")
    account_id = arn.split(":")[4] if arn.count(":") >= 5 else None
    domain_facts = audit.engine.facts(
        Subject(
            domain_id=domain_id,
            region=audit.region,
            account_id=account_id,
            partition=partition_of_arn(arn, audit.region),
        )
    )
    domain_facts.prime(domain=domain, ttl=SNAPSHOT_TTL)
    domain_checks = [
        CheckResult.from_row(r) for r in audit.engine.guardrails_part(domain_facts, ("domain",))[0]
    ]

    say(f"audit {domain_id}: listing profiles, spaces and apps")
    profiles = [
        p["UserProfileName"]
        for p in audit.caller.pages("ListUserProfiles", "UserProfiles", DomainIdEquals=domain_id)
    ]
    spaces = [
        s["SpaceName"] for s in audit.caller.pages("ListSpaces", "Spaces", DomainIdEquals=domain_id)
    ]
    apps_by_owner: dict[tuple[str, str], list[AppInfo]] = {}
    for app in iter_apps(audit.clients, domain_id):  # live apps of the whole domain
        key = ("space", app.space_name) if app.space_name else ("user-profile", app.owner)
        apps_by_owner.setdefault((key[0], key[1] or ""), []).append(app)

    jobs = [("user-profile", n) for n in profiles] + [("space", n) for n in spaces]
    done = [0]
    done_lock = threading.Lock()

    def audit_one(job: tuple[str, str]) -> OwnerReport:
        result = _audit_owner(audit, domain, account_id, job[0], job[1], apps_by_owner.get(job, []))
        with done_lock:
            done[0] += 1
            count = done[0]
        say(f"audit {domain_id}: {count}/{len(jobs)} profiles and spaces audited")
        return result

    say(f"audit {domain_id}: 0/{len(jobs)} profiles and spaces audited")
    with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="audit") as pool:
        owners = list(pool.map(audit_one, jobs))
    return AuditReport(
        domain_id=domain_id,
        started=started,
        elapsed_seconds=time.monotonic() - t0,
        domain_checks=domain_checks,
        owners=owners,
        calls=dict(audit.meter.counts),
        max_rps=options.max_rps,
        domain_migration=classic_landing(domain.get("DefaultUserSettings") or {}, "the domain"),
    )


def exit_code(report: AuditReport, fail_on: str) -> int:
    """1 when a check of the chosen severity (fail, or fail+unknown) exists, else 0."""
    if fail_on not in (FAIL, UNKNOWN):
        raise BadInput(f"--fail-on must be 'fail' or 'unknown', got {fail_on!r}")
    return 1 if report.failing(fail_on) else 0
