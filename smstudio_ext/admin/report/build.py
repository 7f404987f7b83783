"""The report: audits, savings, costs and compliance of one domain or of many accounts.

``build_report`` is the engine behind ``smstudio audit --report``. A *scope* is one account
and region. Scopes run concurrently (``account_concurrency``); inside a scope the domains are
audited one after the other, each audit under its own ``--max-rps`` bound, so every account and
region sees at most ``--max-rps`` SageMaker/Pricing requests per second, plus the CloudTrail
lookups at most ``trail.SAFE_RATE`` per second. Other accounts are reached by assuming
``role_name`` in each (``--accounts``, or every active account of the organization with
``--org``); an account whose role can't be assumed, or a domain the role may not read, becomes a
line in the report (``status: denied``/``error`` and the reason), never a failed run.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ... import clock
from ..._version import __version__
from ...aws import AwsClients, call, paginate
from ...errors import AccessDenied, BadInput, SmStudioError
from ...insights.config import Insights
from ...insights.pricing import Price, PriceBook
from ...insights.results import UNKNOWN
from ...ratelimit import RateLimiter, RequestMeter
from ..audit import AuditOptions, AuditReport, run_audit, snapshot_config
from . import costs, history, savings
from .owners import DomainOwners, list_owners
from .trail import RETENTION_DAYS, SAFE_RATE, TrailReader, TrailResult

log = logging.getLogger("smstudio_ext")

FORMAT_VERSION = 1
_ACCOUNT = re.compile(r"^\d{12}$")
_ROLE = re.compile(r"^[\w+=,.@-]{1,64}$")
_REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")


@dataclass
class ReportOptions:
    """What ``smstudio audit`` reports beyond the audit itself (see docs/report.md)."""

    audit: AuditOptions  # a template: its domain_id is replaced per domain
    domain_id: str | None = None  # None: every domain of each scope
    accounts: list[str] = field(default_factory=list)
    org: bool = False
    role_name: str | None = None
    regions: list[str] = field(default_factory=list)  # empty: the clients' region
    savings_days: float = 30.0
    working_day_hours: float = savings.DEFAULT_WORKING_DAY_HOURS
    tag_keys: list[str] = field(default_factory=list)  # besides the user-id tag
    billed: bool = False
    history: str | None = None
    history_runs: int = 12
    top: int = 10
    account_concurrency: int = 4
    trail_rate: float = SAFE_RATE
    savings: bool = True

    def validate(self) -> None:
        if self.domain_id is not None and not re.match(r"^d-[a-z0-9]{1,63}$", self.domain_id):
            raise BadInput(f"invalid domain id {self.domain_id!r} (expected d-...)")
        if not 0 < self.savings_days <= RETENTION_DAYS:
            raise BadInput(
                f"--savings-days must be in (0, {RETENTION_DAYS}]: CloudTrail's event history "
                f"holds {RETENTION_DAYS} days, got {self.savings_days:g}"
            )
        if not 0 < self.working_day_hours <= 24:
            raise BadInput(
                f"--working-day-hours must be in (0, 24], got {self.working_day_hours:g}"
            )
        if (self.accounts or self.org) and not self.role_name:
            raise BadInput("--accounts/--org need --assume-role-name (the role to assume in each)")
        if self.role_name and not _ROLE.match(self.role_name):
            raise BadInput(f"invalid role name {self.role_name!r}")
        if self.accounts and self.org:
            raise BadInput("give --accounts or --org, not both")
        bad = [a for a in self.accounts if not _ACCOUNT.match(a)]
        if bad:
            raise BadInput("invalid account id(s): " + ", ".join(bad) + " (12 digits)")
        bad = [r for r in self.regions if not _REGION.match(r)]
        if bad:
            raise BadInput("invalid region(s): " + ", ".join(bad))
        if self.domain_id is None and not (self.accounts or self.org):
            raise BadInput("--domain is required (or --accounts/--org to audit every domain)")
        if not 1 <= self.history_runs <= 1000:
            raise BadInput(f"--history-runs must be between 1 and 1000, got {self.history_runs}")
        if not 1 <= self.top <= 100:
            raise BadInput(f"--top must be between 1 and 100, got {self.top}")
        if not 1 <= self.account_concurrency <= 32:
            raise BadInput("--account-concurrency must be between 1 and 32")
        for key in self.tag_keys:
            if not key or len(key) > 128:
                raise BadInput(f"invalid tag key {key!r}")
        if self.history is not None:
            history.Store(self.history)  # validates the location
        dataclasses.replace(self.audit, domain_id="d-x").validate()


@dataclass
class DomainResult:
    domain_id: str
    status: str = "ok"  # ok | denied | error
    reason: str | None = None
    report: AuditReport | None = None
    owners: DomainOwners | None = None


@dataclass
class ScopeResult:
    account_id: str
    region: str
    status: str = "ok"  # ok | denied | error
    reason: str | None = None
    domains: list[DomainResult] = field(default_factory=list)
    trail: TrailResult | None = None
    shutdowns: list[savings.Shutdown] = field(default_factory=list)
    clients: AwsClients | None = None

    def line(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "region": self.region,
            "status": self.status,
            "reason": self.reason,
            "domains": [
                {"domain_id": d.domain_id, "status": d.status, "reason": d.reason}
                for d in self.domains
            ],
            "cloudtrail": None
            if self.trail is None
            else {
                "status": self.trail.status,
                "reason": self.trail.reason,
                "requests": self.trail.requests,
                "throttled_retries": self.trail.throttled,
                "events": len(self.trail.events),
            },
        }


def _status_of(exc: SmStudioError) -> str:
    return "denied" if isinstance(exc, AccessDenied) else "error"


class ReportBuilder:
    def __init__(
        self,
        base: AwsClients,
        options: ReportOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        options.validate()
        self.base = base
        self.options = options
        self.sleep = sleep
        self.config: Insights = snapshot_config(options.audit.insights)
        self.user_key = self.config.user_id_tag_key
        keys = [self.user_key] + [k for k in options.tag_keys if k != self.user_key]
        self.tag_keys = list(dict.fromkeys(keys))
        self.now = clock.utcnow()
        self._lock = threading.Lock()

    # -- accounts and scopes ----------------------------------------------------------------------

    def caller_account(self) -> str | None:
        try:
            return str(call(self.base.client("sts"), "GetCallerIdentity")["Account"])
        except SmStudioError as exc:
            log.info("smstudio report: GetCallerIdentity: %s", exc.message)
            return None

    def accounts(self) -> list[str]:
        if self.options.accounts:
            return list(dict.fromkeys(self.options.accounts))
        org = self.base.client("organizations", region="us-east-1")
        try:
            listed = list(paginate(lambda **p: call(org, "ListAccounts", **p), "Accounts"))
        except SmStudioError as exc:
            raise type(exc)(
                f"can't list the organization's accounts (--org needs the management account or "
                f"a delegated administrator): {exc.message}"
            ) from exc
        return sorted(a["Id"] for a in listed if a.get("Status", "ACTIVE") == "ACTIVE")

    def account_clients(self, account: str, own: str | None) -> AwsClients:
        if account == own:
            return self.base
        role = f"arn:aws:iam::{account}:role/{self.options.role_name}"
        answer = call(
            self.base.client("sts"),
            "AssumeRole",
            resource=role,
            RoleArn=role,
            RoleSessionName="smstudio-audit",
        )
        return self.base.derive(credentials=answer["Credentials"])

    # -- one scope --------------------------------------------------------------------------------

    def run_scope(self, scope: ScopeResult) -> ScopeResult:
        clients = scope.clients
        assert clients is not None
        meter = RequestMeter(RateLimiter(self.options.audit.max_rps))
        limited = clients.with_request_hook(meter)
        trail_box: list[TrailResult] = []
        trail_thread = None
        if self.options.savings:
            reader = TrailReader(clients, rate=self.options.trail_rate, sleep=self.sleep)

            def read_trail() -> None:
                trail_box.append(reader.read(self.now, self.options.savings_days))

            trail_thread = threading.Thread(target=read_trail, name="smstudio-trail", daemon=True)
            trail_thread.start()
        try:
            domains = self._domains(limited, scope)
        except SmStudioError as exc:
            scope.status, scope.reason = _status_of(exc), exc.message
            domains = []
        for desc in domains:
            result = DomainResult(desc["DomainId"])
            scope.domains.append(result)
            try:
                opts = dataclasses.replace(
                    self.options.audit, domain_id=desc["DomainId"], insights=self.config
                )
                result.report = run_audit(clients, opts)
                result.owners = list_owners(limited, desc, scope.region)
            except SmStudioError as exc:
                result.status, result.reason = _status_of(exc), exc.message
        if trail_thread is not None:
            trail_thread.join()
            scope.trail = trail_box[0] if trail_box else None
        if scope.trail is not None and scope.trail.status == "ok":
            owners = {d.domain_id: d.owners for d in scope.domains if d.owners is not None}
            scope.shutdowns = savings.compute(
                scope.trail.events,
                owners,
                self._price_fn(limited, scope.region),
                account_id=scope.account_id,
                region=scope.region,
                now=self.now,
                cap_hours=self.options.working_day_hours,
                tag_keys=self.tag_keys,
                user_key=self.user_key,
                since=scope.trail.start,
            )
        return scope

    def _domains(self, clients: AwsClients, scope: ScopeResult) -> list[dict[str, Any]]:
        sm = clients.client("sagemaker")
        if self.options.domain_id:
            d = call(
                sm,
                "DescribeDomain",
                resource=self.options.domain_id,
                DomainId=self.options.domain_id,
            )
            return [d]
        listed = list(paginate(lambda **p: call(sm, "ListDomains", **p), "Domains", MaxResults=100))
        return [d for d in listed if d.get("Status") not in ("Deleting", "Delete_Failed")]

    def _price_fn(self, clients: AwsClients, region: str) -> Callable[[str], Price]:
        book = PriceBook(
            clients,
            region,
            cache_path=self.config.price_cache_path or None,
            cache_days=self.config.price_cache_days,
            price_file=self.config.price_file,
            use_api=self.options.audit.include_prices,
        )
        memo: dict[str, Price] = {}

        def price(instance_type: str) -> Price:
            if instance_type not in memo:
                memo[instance_type] = book.price(instance_type)
            return memo[instance_type]

        return price

    # -- the whole report -------------------------------------------------------------------------

    def scopes(self) -> list[ScopeResult]:
        regions = self.options.regions or [self.base.region]
        own = self.caller_account()
        multi = bool(self.options.accounts or self.options.org)
        accounts = self.accounts() if multi else [own or "self"]
        out: list[ScopeResult] = []
        for account in accounts:
            try:
                clients = self.base if not multi else self.account_clients(account, own)
            except SmStudioError as exc:
                for region in regions:
                    out.append(ScopeResult(account, region, _status_of(exc), exc.message))
                continue
            for region in regions:
                out.append(ScopeResult(account, region, clients=clients.derive(region=region)))
        runnable = [s for s in out if s.clients is not None]
        with ThreadPoolExecutor(
            self.options.account_concurrency, thread_name_prefix="smstudio-scope"
        ) as pool:
            list(pool.map(self.run_scope, runnable))
        for s in out:  # the account of the caller's own scope, from its domains' ARNs
            if s.account_id == "self":
                arns = [d.owners.account_id for d in s.domains if d.owners and d.owners.account_id]
                s.account_id = arns[0] if arns else "self"
        return out

    def build(self) -> tuple[dict[str, Any], list[AuditReport]]:
        scopes = self.scopes()
        audits: list[dict[str, Any]] = []
        reports: list[AuditReport] = []
        pairs: list[tuple[DomainOwners, dict[str, Any]]] = []
        for s in scopes:
            for d in s.domains:
                if d.report is None:
                    continue
                data = d.report.to_dict()
                data.update(account_id=s.account_id, region=s.region)
                audits.append(data)
                reports.append(d.report)
                if d.owners is not None:
                    pairs.append((d.owners, data))
        missing = [  # domains whose running apps could not be counted
            f"{s.account_id}/{s.region}/{d.domain_id}: {d.reason}"
            for s in scopes
            for d in s.domains
            if d.report is None or d.owners is None
        ]
        currency = self._currency(scopes, audits)
        doc: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "kind": "smstudio-audit-report",
            "generated_at": clock.isoformat_z(self.now),
            "generator": f"smstudio-ext {__version__}",
            "options": {
                "savings_days": self.options.savings_days,
                "working_day_hours": self.options.working_day_hours,
                "tag_keys": self.tag_keys,
                "user_id_tag_key": self.user_key,
                "billed": self.options.billed,
                "top": self.options.top,
                "history": self.options.history,
            },
            "currency": currency,
            "scopes": [s.line() for s in scopes],
            "domains": [
                {
                    "account_id": a["account_id"],
                    "region": a["region"],
                    "domain_id": a["domain_id"],
                    "summary": a["summary"],
                    "failing": a["failing"],
                }
                for a in audits
            ],
            "savings": self._savings(scopes, currency),
            "costs": {
                "live": costs.live_by_tag(
                    pairs, self.tag_keys, self.user_key, currency, missing=missing
                ),
                "billed": self._billed(scopes),
            },
            "compliance": self._compliance(audits),
        }
        doc["headline"] = _headline(doc)
        return doc, reports

    def _currency(self, scopes: list[ScopeResult], audits: list[dict[str, Any]]) -> str:
        seen: Counter[str] = Counter()
        for s in scopes:
            seen.update(x.currency for x in s.shutdowns if x.currency)
        for a in audits:
            for o in a.get("owners") or []:
                seen.update(app["currency"] for app in o.get("apps") or [] if app.get("currency"))
        return seen.most_common(1)[0][0] if seen else "USD"

    def _savings(self, scopes: list[ScopeResult], currency: str) -> dict[str, Any]:
        if not self.options.savings:
            return {"status": "not_requested", "reason": "savings were not asked for"}
        shutdowns = [x for s in scopes for x in s.shutdowns]
        unknown = [
            f"{s.account_id}/{s.region}: {s.trail.reason}"
            for s in scopes
            if s.trail is not None and s.trail.status != "ok"
        ]
        unknown += [f"{s.account_id}/{s.region}: {s.reason}" for s in scopes if s.status != "ok"]
        unknown += [  # a domain not read: its shutdowns are not counted
            f"{s.account_id}/{s.region}/{d.domain_id}: {d.reason}"
            for s in scopes
            for d in s.domains
            if d.owners is None
        ]
        domains = {(s.account_id, s.region, d.domain_id) for s in scopes for d in s.domains}
        start = min((s.trail.start for s in scopes if s.trail), default=self.now)
        summary = savings.summarize(
            shutdowns,
            currency,
            self.tag_keys,
            weeks_from=start,
            until=self.now,
            qualify=len(domains) > 1,
        )
        t = summary["totals"]
        status = "ok"
        if unknown or t["unknown"]:
            status = "partial" if (t["known"] or len(unknown) < len(scopes)) else "unknown"
        if not scopes or (unknown and len(unknown) >= len(scopes)):
            status = "unknown"
        method = [
            m.format(
                cap=self.options.working_day_hours,
                sources="admin price file > Pricing API > bundled table",
            )
            for m in savings.METHOD
        ]
        return {
            "status": status,
            "reason": "; ".join(unknown) or None,
            "window": {
                "start": clock.isoformat_z(start),
                "end": clock.isoformat_z(self.now),
                "days": self.options.savings_days,
            },
            "cap_hours": self.options.working_day_hours,
            "method": method,
            **summary,
            "shutdowns": [x.to_dict() for x in shutdowns],
        }

    def _billed(self, scopes: list[ScopeResult]) -> dict[str, Any]:
        if not (self.options.billed or self.config.billed_costs):
            return {
                "status": "not_requested",
                "reason": "billed cost not asked for (--billed; each Cost Explorer request costs "
                "USD 0.01)",
                "tables": [],
            }
        accounts: dict[str, AwsClients] = {}
        denied: list[str] = []
        for s in scopes:
            if s.clients is not None and s.account_id not in accounts:
                accounts[s.account_id] = s.clients
            elif s.clients is None:
                denied.append(f"account {s.account_id}: {s.reason}")
        tables = []
        for key in self.tag_keys:
            per_account = [costs.fetch_billed(c, a, key, self.now) for a, c in accounts.items()]
            table = costs.merge_billed(per_account, key, self.now)
            if denied:
                table["reason"] = "; ".join(filter(None, [table.get("reason"), *denied]))
                if table["status"] == "ok":
                    table["status"] = "partial"
            tables.append(table)
        status = (
            "ok"
            if all(t["status"] == "ok" for t in tables)
            else ("unknown" if all(t["status"] == "unknown" for t in tables) else "partial")
        )
        return {"status": status, "months": costs.months(self.now), "tables": tables}

    def _compliance(self, audits: list[dict[str, Any]]) -> dict[str, Any]:
        record = history.run_record(audits, self.now)
        out: dict[str, Any] = {"status": "ok", "reason": None, "store": self.options.history}
        runs = [record]
        if self.options.history:
            store = history.Store(self.options.history, self.base)
            try:
                out["written"] = store.write(record)
                runs, skipped = store.runs(self.options.history_runs)
                if not any(r["run_at"] == record["run_at"] for r in runs):
                    runs = [*runs, record][-self.options.history_runs :]
                if skipped:
                    out["skipped"] = skipped
            except (OSError, SmStudioError) as exc:
                out["status"] = "partial"
                out["reason"] = (
                    f"the history at {self.options.history} could not be used "
                    f"({getattr(exc, 'message', exc)}): only this run is shown"
                )
        else:
            out["reason"] = "no --history: only this run is shown"
        out.update(history.trend(runs))
        return out


def _headline(doc: dict[str, Any]) -> dict[str, Any]:
    s = doc["savings"]
    totals = s.get("totals") or {}
    comp = doc["compliance"].get("totals") or [{}]
    last = comp[-1] if comp else {}
    checked = sum(last.get(k, 0) for k in ("pass", "fail", "unknown"))
    return {
        "saved": totals.get("amount"),
        "saved_at_least": bool(totals.get("unknown")) or s.get("status") != "ok",
        "shutdowns": totals.get("shutdowns"),
        "hours_avoided": totals.get("hours"),
        "live_per_hour": doc["costs"]["live"]["per_hour"],
        "running_apps": doc["costs"]["live"]["running_apps"],
        "pass_rate": round(100.0 * last.get("pass", 0) / checked, 1) if checked else None,
        "domains": len(doc["domains"]),
        "scopes_not_ok": sum(1 for x in doc["scopes"] if x["status"] != "ok"),
    }


def build_report(
    clients: AwsClients, options: ReportOptions, *, sleep: Callable[[float], None] = time.sleep
) -> tuple[dict[str, Any], list[AuditReport]]:
    """The report document (``--json``; what the HTML renders) and the audits behind it."""
    return ReportBuilder(clients, options, sleep=sleep).build()


def exit_code(doc: dict[str, Any], reports: list[AuditReport], fail_on: str) -> int:
    """1 when a check of the chosen severity failed in any domain; with ``--fail-on unknown`` a
    denied account or domain counts too. 0 otherwise."""
    if any(r.failing(fail_on) for r in reports):
        return 1
    if fail_on == UNKNOWN:
        for scope in doc["scopes"]:
            if scope["status"] != "ok" or any(d["status"] != "ok" for d in scope["domains"]):
                return 1
    return 0
