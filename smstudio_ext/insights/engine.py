"""``InsightsEngine``: tags, costs and guardrails of one profile/space (or a whole domain).

``collect()`` answers ``{context, tags, costs, guardrails, parts}``. Each part is computed on
its own (one failing AWS call spoils only its part, reported in ``parts.<name>``); every AWS
answer comes from a single-flight TTL cache and independent calls run concurrently on a thread
pool, so a warm answer costs no AWS call and a cold one waits for the slowest call chain
(ListApps → ListTags of an app), not the sum of all calls.

For the admin, the audit (``admin/audit.py``) runs the same checks for every owner of a domain.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Callable

from .. import clock
from ..aws import AwsClients
from ..context import StudioContext
from ..errors import SmStudioError
from .cache import TtlCache
from .config import Insights
from .costs import billed_error, billed_from, billed_status, estimate, estimate_status
from .facts import Facts, Provider, Subject
from .pricing import PriceBook
from .registry import Registry
from .results import LEVELS, STATUSES, UNKNOWN
from .tags import AUTO_TAG_KEYS, merge_tags

log = logging.getLogger("smstudio_ext")

PARTS = ("tags", "costs", "guardrails")


def _iso(when: datetime | None) -> str | None:
    return clock.isoformat_z(when) if when else None


def _error(exc: BaseException, where: str | None = None) -> dict[str, Any]:
    if isinstance(exc, SmStudioError):
        out = exc.to_dict()
    else:
        out = {"error": "internal_error", "detail": f"{type(exc).__name__}: {exc}"}
    if where:
        out["source"] = where
    return out


class InsightsEngine:
    """One engine per process; thread-safe. ``close()`` stops its thread pools."""

    def __init__(
        self,
        clients: AwsClients,
        config: Insights | None = None,
        context: StudioContext | None = None,
        *,
        providers: dict[str, Provider] | None = None,
        registry: Registry | None = None,
        use_pricing_api: bool = True,
    ) -> None:
        self.clients = clients
        self.config = config or Insights()
        self.context = context
        self.providers = dict(providers or {})
        self.registry = registry or Registry.from_config(
            self.config.disabled_checks, self.config.extra_checks
        )
        self.cache = TtlCache(error_ttl=self.config.error_ttl_seconds)
        self.fetched_at: dict[Any, datetime] = {}
        self._aws_pool = ThreadPoolExecutor(
            self.config.aws_workers, thread_name_prefix="smstudio-insights-aws"
        )
        self._parts_pool = ThreadPoolExecutor(4, thread_name_prefix="smstudio-insights")
        self._books: dict[str, PriceBook] = {}
        self._books_lock = threading.Lock()
        self.use_pricing_api = use_pricing_api  # False: price file, disk cache and table only

    def close(self, wait: bool = False) -> None:
        """Stop the pools (queued work is dropped; ``wait`` also waits for running calls)."""
        self._parts_pool.shutdown(wait=wait, cancel_futures=True)
        self._aws_pool.shutdown(wait=wait, cancel_futures=True)

    # -- building blocks ----------------------------------------------------------------------

    def price_book(self, region: str) -> PriceBook:
        with self._books_lock:
            return self._books.get(region) or self._new_book(region)

    def _new_book(self, region: str) -> PriceBook:
        book = self._books[region] = PriceBook(
            self.clients,
            region,
            cache_path=self.config.price_cache_path or None,
            cache_days=self.config.price_cache_days,
            price_file=self.config.price_file,
            use_api=self.use_pricing_api,
        )
        return book

    def subject(self) -> Subject | None:
        if self.context is None:
            return None
        return Subject.from_context(self.context, self.config.caller_user_id or None)

    def facts(
        self,
        subject: Subject,
        *,
        refresh: bool = False,
        providers: dict[str, Provider] | None = None,
    ) -> Facts:
        """The facts of ``subject``; ``providers`` replaces the engine's own for this subject
        (e.g. the admin audit's idle summary read from an owner's lifecycle config)."""
        return Facts(
            self.clients,
            self.config,
            subject,
            self.cache,
            self._aws_pool,
            prices=self.price_book(subject.region),
            providers=self.providers if providers is None else providers,
            max_age=self.config.refresh_floor_seconds if refresh else None,
            fetched_at=self.fetched_at,
        )

    # -- parts ----------------------------------------------------------------------------------

    def tags_part(self, facts: Facts) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        s = facts.subject
        sources: list[tuple[str, str]] = [("domain", facts.domain_arn())]
        errors: list[dict[str, Any]] = []
        if s.owner_kind:
            sources.append((s.owner_kind, facts.owner_arn()))
            try:
                profile = facts.space_owner_profile()
            except SmStudioError as exc:
                profile = None
                errors.append(_error(exc, s.owner_kind))
            if profile:
                sources.append(("user-profile", facts.profile_arn(profile)))
            try:
                apps = facts.apps()
            except SmStudioError as exc:
                apps = []
                errors.append(_error(exc, "app"))
            sources.extend(("app", a.app_arn) for a in apps if a.app_arn)
        answers = facts.tags_many(arn for _, arn in sources)
        merged: list[tuple[str, str, list[dict[str, str]]]] = []
        for source, arn in sources:
            answer = answers[arn]
            if isinstance(answer, SmStudioError):
                errors.append({**_error(answer, source), "resource_arn": arn})
            else:
                merged.append((source, arn, answer))
        return merge_tags(merged, self.config.user_id_tag_key), errors

    def costs_part(self, facts: Facts) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        s = facts.subject
        errors: list[dict[str, Any]] = []
        now = clock.utcnow()
        billed_future = None
        auto_key = AUTO_TAG_KEYS.get(s.owner_kind or "")
        if self.config.billed_costs and s.owner_kind and auto_key:
            try:
                billed_future = facts.billed_future(auto_key, facts.owner_arn())
            except SmStudioError as exc:
                errors.append(_error(exc, "billed"))
        try:
            apps = facts.apps()
            prices = facts.prices_for(a.instance_type for a in apps)
            est = estimate(apps, prices, now)
            apps_at = facts.fetched_at.get(("ListApps", s.domain_id, s.owner_kind, s.owner_name))
            est["apps_as_of"] = _iso(apps_at)
            notes = sorted({p.note for p in prices.values() if p.note})
            if facts.prices and facts.prices.file_error:
                notes.append(facts.prices.file_error)
            est["notes"] = notes
        except SmStudioError as exc:
            errors.append(_error(exc, "estimate"))
            est = estimate_status("error", exc.message, action=getattr(exc, "action", None))
        if not self.config.billed_costs:
            billed = billed_status(
                "disabled",
                "billed costs are off (Insights.billed_costs): each Cost Explorer request is "
                "billed USD 0.01",
                now,
            )
        elif billed_future is None:
            billed = billed_status(
                "not_available", "no profile or space to attribute costs to", now
            )
        else:
            try:
                response = billed_future.result()
            except SmStudioError as exc:
                billed = billed_error(exc, now)
                if billed["status"] == "error":
                    errors.append(_error(exc, "billed"))
            else:
                key = ("GetCostAndUsage", auto_key, facts.owner_arn())
                billed = billed_from(response, auto_key or "", facts.fetched_at.get(key, now))
        return {"estimate": est, "billed": billed}, errors

    def guardrails_part(
        self, facts: Facts, levels: Iterable[str] = LEVELS
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        levels = tuple(levels) if facts.subject.owner_kind else ("domain",)
        results = self.registry.evaluate(facts, levels)
        errors = [
            {"error": "unknown", "detail": r["reason"], "check": r["id"], "action": r["action"]}
            for r in results
            if r["status"] == UNKNOWN and r["action"]
        ]
        return results, errors

    # -- the whole answer -----------------------------------------------------------------------

    def collect(
        self,
        subject: Subject | None = None,
        *,
        refresh: bool = False,
        parts: Iterable[str] = PARTS,
    ) -> dict[str, Any]:
        """``{context, tags, costs, guardrails, parts}`` for ``subject`` (default: this app)."""
        subject = subject or self.subject()
        wanted = [p for p in PARTS if p in set(parts)]
        context = self.context.to_dict() if self.context else {}
        if subject is None:
            return self._not_in_studio(context, wanted)
        context.update(subject=subject.to_dict())
        facts = self.facts(subject, refresh=refresh)
        facts.prefetch()
        runners: dict[str, Callable[[], Any]] = {
            "tags": lambda: self.tags_part(facts),
            "costs": lambda: self.costs_part(facts),
            "guardrails": lambda: self.guardrails_part(facts),
        }

        def run(name: str) -> Any:
            facts.for_part(name)
            return runners[name]()

        futures = {name: self._parts_pool.submit(run, name) for name in wanted}
        out: dict[str, Any] = {"context": context}
        status: dict[str, Any] = {"context": self._context_status()}
        for name, fut in futures.items():
            try:
                value, errors = fut.result()
                state = "partial" if errors else "ok"
            except Exception as exc:  # one part failing must not spoil the others
                if not isinstance(exc, SmStudioError):
                    log.exception("smstudio: insights part %s failed", name)
                value = {"estimate": None, "billed": None} if name == "costs" else []
                errors, state = [_error(exc, name)], "error"
            out[name] = value
            status[name] = {
                "status": state,
                "errors": errors,
                "as_of": _iso(facts.oldest(name)),
            }
        if "guardrails" in out:
            counts = dict.fromkeys(STATUSES, 0)
            for r in out["guardrails"]:
                counts[r["status"]] += 1
            status["guardrails"]["summary"] = counts
        out["parts"] = status
        out["generated_at"] = clock.isoformat_z(clock.utcnow())
        return out

    def _context_status(self) -> dict[str, Any]:
        errors = []
        if self.context and self.context.warning:
            errors.append({"error": "warning", "detail": self.context.warning})
        return {"status": "partial" if errors else "ok", "errors": errors, "as_of": None}

    def _not_in_studio(self, context: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
        reason = "not running in SageMaker Studio (no resource metadata naming a domain)"
        now = clock.utcnow()
        out: dict[str, Any] = {"context": context}
        parts: dict[str, Any] = {"context": self._context_status()}
        for name in wanted:
            if name == "costs":
                out[name] = {
                    "estimate": estimate_status("not_available", reason),
                    "billed": billed_status("not_available", reason, now),
                }
            else:
                out[name] = []
            parts[name] = {"status": "not_available", "errors": [], "reason": reason, "as_of": None}
        out["parts"] = parts
        out["generated_at"] = clock.isoformat_z(now)
        return out
