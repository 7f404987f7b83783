"""The guardrails of any owner of any domain straight from the insights engine, without the
audit: a second path the tests compare the audit and the server's answers with (the admin's
real path is ``smstudio audit``, ``admin/audit.py``)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..aws import AwsClients, call, paginate
from ..errors import SmStudioError
from ..insights.config import Insights
from ..insights.engine import InsightsEngine
from ..insights.facts import Subject


def evaluate_owner(
    clients: AwsClients,
    domain_id: str,
    owner_kind: str,
    owner_name: str,
    *,
    config: Insights | None = None,
    engine: InsightsEngine | None = None,
    levels: Iterable[str] = ("owner", "app"),
    caller_user_id: str | None = None,
) -> list[dict[str, Any]]:
    """Guardrail results for one user profile or space (owner- and app-level checks).

    Pass ``engine`` to share its caches across owners (what ``evaluate_domain`` does)."""
    own = engine is None
    engine = engine or InsightsEngine(clients, config)
    try:
        subject = Subject(
            domain_id=domain_id,
            region=clients.region,
            owner_kind=owner_kind,
            owner_name=owner_name,
            caller_user_id=caller_user_id,
        )
        facts = engine.facts(subject)
        facts.prefetch()
        return engine.guardrails_part(facts, levels)[0]
    finally:
        if own:
            engine.close(wait=True)


def list_owners(clients: AwsClients, domain_id: str) -> list[tuple[str, str]]:
    """Every (owner_kind, name) of a domain: user profiles then spaces."""
    sm = clients.client("sagemaker")
    owners: list[tuple[str, str]] = []
    for op, key, kind, field in (
        ("ListUserProfiles", "UserProfiles", "user-profile", "UserProfileName"),
        ("ListSpaces", "Spaces", "space", "SpaceName"),
    ):
        fetch = functools.partial(call, sm, op, domain_id)
        items = paginate(fetch, key, DomainIdEquals=domain_id, MaxResults=100)
        owners.extend((kind, item[field]) for item in items)
    return owners


def evaluate_domain(
    clients: AwsClients,
    domain_id: str,
    *,
    config: Insights | None = None,
    engine: InsightsEngine | None = None,
    owners: Iterable[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Domain-level checks once, then owner/app checks for every profile and space."""
    own = engine is None
    engine = engine or InsightsEngine(clients, config)
    try:
        domain_subject = Subject(domain_id=domain_id, region=clients.region)
        domain_results = engine.guardrails_part(engine.facts(domain_subject), ("domain",))[0]
        pairs = list(owners) if owners is not None else list_owners(clients, domain_id)
        rows: list[dict[str, Any]] = []
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="guardrails") as pool:
            futures = [
                (
                    kind,
                    name,
                    pool.submit(evaluate_owner, clients, domain_id, kind, name, engine=engine),
                )
                for kind, name in pairs
            ]
            for kind, name, fut in futures:
                try:
                    rows.append(
                        {"owner_kind": kind, "owner_name": name, "guardrails": fut.result()}
                    )
                except SmStudioError as exc:
                    rows.append({"owner_kind": kind, "owner_name": name, "error": exc.to_dict()})
        return {"domain_id": domain_id, "domain": domain_results, "owners": rows}
    finally:
        if own:
            engine.close(wait=True)
