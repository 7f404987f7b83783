"""Small engine additions the admin audit uses: primed facts, per-subject providers, no API."""

from __future__ import annotations

from smstudio_ext.apps import iter_apps
from smstudio_ext.aws import AwsClients
from smstudio_ext.insights.config import Insights
from smstudio_ext.insights.engine import InsightsEngine
from smstudio_ext.insights.facts import Subject
from smstudio_ext.insights.pricing import FALLBACK
from smstudio_ext.testing.seed import seed_world


def _engine(aws, tmp_path, **kwargs):
    clients = AwsClients(
        aws.region, endpoint_urls={s: aws.endpoint_url for s in ("sagemaker", "pricing")}
    )
    config = Insights(price_cache_path=str(tmp_path / "p.json"))
    return clients, InsightsEngine(clients, config, **kwargs)


def test_primed_domain_and_apps_are_not_asked_again(aws, tmp_path):
    world = seed_world(aws, compliant=True)
    clients, engine = _engine(aws, tmp_path)
    try:
        domain = aws.client("sagemaker").describe_domain(DomainId=world.domain_id)
        apps = [a for a in iter_apps(clients, world.domain_id) if a.user_profile_name == "alice"]
        aws.reset_counts()
        subject = Subject(world.domain_id, aws.region, "user-profile", "alice")
        facts = engine.facts(subject)
        facts.prime(domain=domain, apps=apps)
        assert facts.domain()["DomainId"] == world.domain_id
        assert [a.app_name for a in facts.apps()] == [a.app_name for a in apps if not a.space_name]
        results = {r["id"]: r for r in engine.guardrails_part(facts)[0]}
        assert results["network-vpc-only"]["status"] == "pass"
        assert aws.count("sagemaker", "DescribeDomain") == 0
        assert aws.count("sagemaker", "ListApps") == 0
        # priming replaces a cached answer (e.g. a later snapshot)
        facts.prime(domain={**domain, "KmsKeyId": None})
        again = {r["id"]: r for r in engine.guardrails_part(facts, ("domain",))[0]}
        assert again["domain-volume-kms"]["status"] == "fail"
        assert aws.count("sagemaker", "DescribeDomain") == 0
    finally:
        engine.close(wait=True)


def test_per_subject_providers_and_no_pricing_api(aws, tmp_path):
    world = seed_world(aws, compliant=True)
    clients, engine = _engine(aws, tmp_path, use_pricing_api=False)
    try:
        subject = Subject(world.domain_id, aws.region, "space", world.primary_space)
        off = {"enabled": False, "timeout_minutes": 60, "dry_run": False}
        facts = engine.facts(subject, providers={"idle": lambda: off})
        idle = {r["id"]: r for r in engine.guardrails_part(facts)[0]}["idle-shutdown"]
        # the per-subject provider is what the check reads (smstudio's shutdown off) and, the
        # compliant world having the platform's IdleSettings on, the platform is the one deleting
        assert idle["evidence"]["enabled"] is False
        assert idle["status"] == "pass" and idle["evidence"]["source"] == "platform"
        assert engine.providers == {}  # the engine's own providers are untouched
        aws.reset_counts()
        prices = facts.prices_for(a.instance_type for a in facts.apps())
        assert prices and all(p.source == FALLBACK for p in prices.values())
        assert aws.count("pricing") == 0
    finally:
        engine.close(wait=True)
