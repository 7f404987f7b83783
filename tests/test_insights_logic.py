"""Insights logic that needs no AWS: cache, tags, prices, cost maths, registry, config."""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from traitlets import TraitError

from smstudio_ext import aws, clock, studio_settings
from smstudio_ext.apps import AppInfo
from smstudio_ext.aws import AwsClients
from smstudio_ext.errors import AccessDenied, AwsError, BadInput
from smstudio_ext.insights import costs, guardrails, pricing
from smstudio_ext.insights.cache import TtlCache
from smstudio_ext.insights.config import Insights
from smstudio_ext.insights.facts import Facts, Subject
from smstudio_ext.insights.tags import merge_tags, owner_arn

# -- cache --------------------------------------------------------------------------------------


def test_cache_single_flight_under_concurrency():
    # Given a slow loader and 8 threads asking for the same key at once
    cache = TtlCache()
    started = threading.Event()
    release = threading.Event()
    calls = []

    def loader():
        calls.append(1)
        started.set()
        release.wait(5)
        return "value"

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(cache.get, "k", loader, 60) for _ in range(8)]
        assert started.wait(5)
        release.set()
        results = [f.result(5) for f in futures]
    # Then the loader ran once and everyone got its value
    assert results == ["value"] * 8
    assert len(calls) == 1 and cache.loads == 1


def test_cache_ttl_error_ttl_and_max_age():
    now = [0.0]
    cache = TtlCache(error_ttl=5, clock=lambda: now[0])
    values = iter(range(100))
    assert cache.get("k", lambda: next(values), ttl=60) == 0
    now[0] = 59
    assert cache.get("k", lambda: next(values), ttl=60) == 0  # still fresh
    assert (
        cache.get("k", lambda: next(values), ttl=60, max_age=10) == 1
    )  # refresh: older than floor
    assert cache.get("k", lambda: next(values), ttl=60, max_age=10) == 1  # younger than the floor
    now[0] = 200
    assert cache.get("k", lambda: next(values), ttl=60) == 2  # expired

    def boom():
        raise AwsError("nope")

    with pytest.raises(AwsError):
        cache.get("e", boom, ttl=60)
    # a failure is cached for error_ttl, not ttl
    with pytest.raises(AwsError):
        cache.get("e", lambda: "ok", ttl=60)
    now[0] = 206
    assert cache.get("e", lambda: "ok", ttl=60) == "ok"


def test_cache_submit_on_executor_does_not_block():
    cache = TtlCache()
    gate = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        fut = cache.submit("k", lambda: gate.wait(5) and "done", 60, executor=pool)
        assert not fut.done()
        assert cache.submit("k", lambda: "other", 60, executor=pool) is fut  # joined in flight
        gate.set()
        assert fut.result(5) == "done"


# -- tags -----------------------------------------------------------------------------------------


def test_merge_tags_labels_sources_automatic_and_user_id():
    domain = "arn:aws:sagemaker:us-east-1:123456789012:domain/d-abc"
    profile = owner_arn("aws", "us-east-1", "123456789012", "d-abc", "user-profile", "alice")
    tags = merge_tags(
        [
            ("domain", domain, [{"Key": "team", "Value": "ds"}]),
            (
                "user-profile",
                profile,
                [
                    {"Key": "sagemaker:user-profile-arn", "Value": profile},
                    {"Key": "owner", "Value": "alice"},
                    {"Key": "team", "Value": "ml"},
                ],
            ),
        ],
        "owner",
    )
    by = {(t["source"], t["key"]): t for t in tags}
    assert profile.endswith(":user-profile/d-abc/alice")
    assert by[("domain", "team")]["value"] == "ds" and by[("user-profile", "team")]["value"] == "ml"
    assert by[("user-profile", "sagemaker:user-profile-arn")]["automatic"] is True
    assert by[("user-profile", "owner")]["user_id"] is True
    assert not any(t["user_id"] for t in tags if t["key"] != "owner")


# -- prices ---------------------------------------------------------------------------------------


def _product(instance, component, usd, region="us-east-1"):
    return json.dumps(
        {
            "product": {
                "attributes": {
                    "instanceName": instance,
                    "regionCode": region,
                    "component": component,
                    "usagetype": f"USE1-{component}:{instance}",
                }
            },
            "terms": {
                "OnDemand": {
                    "X.Y": {
                        "priceDimensions": {"X.Y.Z": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}
                    }
                }
            },
        }
    )


def test_parse_products_prefers_studio_and_ignores_other_components():
    items = [
        _product("ml.m5.large", "Hosting", "0.138"),
        "not json",
        _product("ml.m5.large", "studio-notebook", "0.115"),
        _product("ml.m5.large", "Training", "0.13"),
    ]
    assert pricing.parse_products(items, "ml.m5.large") == pytest.approx(0.115)
    assert pricing.parse_products(items[:1], "ml.m5.large") is None  # never a hosting price
    assert pricing.parse_products([], "ml.m5.large") is None


def test_pricing_and_cost_explorer_endpoints_follow_the_partition():
    # aws: three Pricing endpoints (any answers for every region), the nearest is used
    assert aws.pricing_region("us-west-2") == "us-east-1"
    assert aws.pricing_region("eu-west-1") == "eu-central-1"
    assert aws.pricing_region("ap-southeast-2") == "ap-south-1"
    # aws-cn and aws-us-gov: their own single endpoint; China's list is in CNY
    assert aws.pricing_region("cn-north-1") == "cn-northwest-1"
    assert aws.pricing_region("us-gov-east-1") == "us-gov-west-1"
    assert aws.partition_info("cn-north-1").currency == "CNY"
    assert aws.partition_info("cn-north-1").cost_explorer_region == "cn-northwest-1"
    assert aws.partition_info("us-gov-west-1").cost_explorer_region == "us-gov-west-1"
    assert aws.partition_info("eu-west-1").cost_explorer_region == "us-east-1"
    # isolated partitions have neither: callers say "not available" instead of guessing
    assert aws.partition_of("us-iso-east-1") == "aws-iso"
    assert (
        aws.partition_info("us-iso-east-1") is None and aws.pricing_region("us-iso-east-1") is None
    )
    assert (
        aws.partition_of_arn("arn:aws-cn:sagemaker:cn-north-1:123456789012:domain/d-x") == "aws-cn"
    )
    assert aws.partition_of_arn(None, "us-gov-west-1") == "aws-us-gov"


def _usage_product(usage: str, price: str, currency: str = "USD", **attrs: str) -> str:
    return json.dumps(
        {
            "product": {"attributes": {"usagetype": usage, **attrs}},
            "terms": {
                "OnDemand": {
                    "X.Y": {
                        "priceDimensions": {
                            "X.Y.Z": {"unit": "Hrs", "pricePerUnit": {currency: price}}
                        }
                    }
                }
            },
        }
    )


def test_parse_products_reads_the_instance_from_the_usage_type():
    # Given products as public notes describe the real list: no instance attribute, the
    # instance in usagetype; hosting and training of the same type; a longer type that contains
    # the wanted one as a substring
    items = [
        _usage_product("USE1-Host:ml.r6i.4xlarge", "1.45", instanceName="ml.r6i.4xlarge"),
        _usage_product("USE1-Train:ml.r6i.4xlarge", "1.39"),
        _usage_product("USE1-Notebk:ml.r6i.4xlarge", "1.30"),
        _usage_product("USE1-Studio:JupyterLab-ml.r6i.4xlarge", "1.21"),
        _usage_product("USE1-Studio:JupyterLab-ml.r6i.24xlarge", "7.26"),
    ]
    # Then the Studio JupyterLab price is chosen, never another component's
    assert pricing.parse_product_price(items, "ml.r6i.4xlarge") == (pytest.approx(1.21), "USD")
    # the notebook-instance price when no Studio product is listed; never hosting or training
    assert pricing.parse_products(items[:3], "ml.r6i.4xlarge") == pytest.approx(1.30)
    assert pricing.parse_products(items[:2], "ml.r6i.4xlarge") is None
    # a China product is priced in CNY
    cny = [_usage_product("CNW1-Studio:JupyterLab-ml.t3.medium", "0.375", currency="CNY")]
    assert pricing.parse_product_price(cny, "ml.t3.medium") == (pytest.approx(0.375), "CNY")
    assert pricing.usage_type_parts("EU-Studio:JupyterLab-ml.t3.medium") == (
        "Studio",
        "JupyterLab",
        "ml.t3.medium",
    )
    assert pricing.usage_type_parts("USE1-DataTransfer-Out-Bytes") is None


def test_price_book_without_api_uses_fallback_and_system_is_free(tmp_path):
    book = pricing.PriceBook(None, "eu-west-1", cache_path=str(tmp_path / "p.json"))
    assert book.price("system").per_hour == 0 and book.price("system").source == pricing.FREE
    p = book.price("ml.t3.medium")
    assert p.per_hour == pricing.FALLBACK_PRICES["ml.t3.medium"]
    assert p.source == pricing.FALLBACK and pricing.FALLBACK_DATE in p.source
    # never silent: the note says the list price is unknown, why, and what was used instead
    assert "list price unknown for ml.t3.medium in eu-west-1" in p.note
    assert "not used" in p.note and "approximate" in p.note
    unknown = book.price("ml.x99.huge")
    assert unknown.per_hour is None and unknown.source == pricing.UNKNOWN
    assert unknown.note.startswith("list price unknown for ml.x99.huge")
    # the us-east-1 USD table means nothing in China (CNY) or GovCloud: unknown there
    for region in ("cn-north-1", "us-gov-west-1"):
        other = pricing.PriceBook(None, region).price("ml.t3.medium")
        assert other.per_hour is None and other.source == pricing.UNKNOWN, region
    assert pricing.PriceBook(None, "cn-north-1").price("system").currency == "CNY"


def test_admin_price_file_wins_per_region(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "currency": "EUR",
                "prices": {"ml.t3.medium": 0.03},
                "regions": {"eu-west-1": {"ml.t3.medium": 0.04}},
            }
        )
    )
    eu = pricing.PriceBook(None, "eu-west-1", price_file=str(path))
    us = pricing.PriceBook(None, "us-east-1", price_file=str(path))
    assert (eu.price("ml.t3.medium").per_hour, eu.price("ml.t3.medium").currency) == (0.04, "EUR")
    assert us.price("ml.t3.medium").per_hour == 0.03
    assert us.price("ml.t3.medium").source == pricing.PRICE_FILE
    assert us.price("ml.m5.large").source == pricing.FALLBACK  # not in the file


@pytest.mark.parametrize(
    "content, message",
    [
        ("{broken", "not readable JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"prices": {"ml.t3.medium": -1}}', "must be a number >= 0"),
        ('{"prices": {"ml.t3.medium": "cheap"}}', "must be a number >= 0"),
        ('{"regions": []}', "'regions' must be an object"),
        ('{"currency": 3, "prices": {}}', "'currency' must be a string"),
    ],
)
def test_bad_price_file_is_refused_clearly_and_ignored(tmp_path, content, message):
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(BadInput, match=message):
        pricing.load_price_file(str(path))
    # the engine keeps working on the other sources and says why the file was ignored
    book = pricing.PriceBook(None, "us-east-1", price_file=str(path))
    assert book.price("ml.t3.medium").source == pricing.FALLBACK
    assert message.split()[0] in book.file_error
    assert path.read_text() == content  # nothing lost


def test_missing_price_file(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        pricing.load_price_file(str(tmp_path / "nope.json"))


# -- costs ------------------------------------------------------------------------------------------


def _app(name, instance, started, app_type="KernelGateway"):
    return AppInfo("d-abc", app_type, name, "InService", user_profile_name="alice",
                   instance_type=instance, created=started)  # fmt: skip


def test_estimate_per_hour_since_start_and_today():
    now = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    yesterday = now - timedelta(hours=5)  # started 21:00 the day before
    recent = now - timedelta(minutes=30)
    prices = {
        "ml.m5.large": pricing.Price("ml.m5.large", 0.2, "USD", pricing.PRICING_API),
        "system": pricing.Price("system", 0.0, "USD", pricing.FREE),
    }
    est = costs.estimate(
        [
            _app("kg", "ml.m5.large", yesterday),
            _app("js", "system", recent, "JupyterServer"),
            _app("odd", "ml.z1.weird", recent),
        ],
        prices,
        now,
    )
    assert est["per_hour"] == pytest.approx(0.2)
    assert est["since_start"] == pytest.approx(0.2 * 5)
    assert est["today"] == pytest.approx(0.2 * 2)  # only since midnight UTC
    rows = {r["app_name"]: r for r in est["apps"]}
    assert rows["js"]["per_hour"] == 0 and rows["js"]["price_source"] == pricing.FREE
    assert rows["odd"]["per_hour"] is None and est["status"] == "partial"
    assert "ml.z1.weird" in est["reason"] and est["source"] == "estimate"


def test_billed_periods_and_parsing():
    now = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    last, this, end = costs.billed_periods(now)
    assert (last.isoformat(), this.isoformat(), end.isoformat()) == (
        "2026-02-01",
        "2026-03-01",
        "2026-03-02",
    )
    response = {
        "ResultsByTime": [
            {"TimePeriod": {"Start": last.isoformat()}, "Total": {"UnblendedCost": {"Amount": "12.5", "Unit": "USD"}}},
            {"TimePeriod": {"Start": this.isoformat()}, "Total": {"UnblendedCost": {"Amount": "1.25", "Unit": "USD"}}, "Estimated": True},
        ]
    }  # fmt: skip
    billed = costs.billed_from(response, "sagemaker:space-arn", now)
    assert billed["status"] == "ok" and billed["source"] == "billed"
    assert (billed["last_month"], billed["month_to_date"]) == (12.5, 1.25)
    assert billed["estimated"] is True
    empty = costs.billed_from({"ResultsByTime": []}, "sagemaker:space-arn", now)
    assert empty["status"] == "not_available" and "cost-allocation tag" in empty["reason"]


def test_billed_errors():
    now = clock.utcnow()
    denied = costs.billed_error(AccessDenied("no", action="ce:GetCostAndUsage"), now)
    assert denied["status"] == "not_available" and "ce:GetCostAndUsage" in denied["reason"]
    other = costs.billed_error(AwsError("boom"), now)
    assert other["status"] == "error" and "boom" in other["reason"]


# -- config -----------------------------------------------------------------------------------------


def test_config_defaults_env_and_validation(monkeypatch):
    monkeypatch.setenv("SMSTUDIO_ALLOWED_INSTANCE_TYPES", "ml.t3.medium, ml.m5.large")
    cfg = Insights()
    assert cfg.user_id_tag_key == "studiouserid" and cfg.billed_costs is False
    assert cfg.allowed_instance_types == ["ml.t3.medium", "ml.m5.large"]
    assert cfg.price_cache_path.endswith("smstudio/prices.json")
    with pytest.raises(TraitError, match="not instance types"):
        Insights(allowed_instance_types=["t3.medium"])
    with pytest.raises(TraitError, match=">= 0"):
        Insights(tags_ttl_seconds=-1)
    with pytest.raises(TraitError, match="1-128"):
        Insights(user_id_tag_key=" ")


# -- registry -------------------------------------------------------------------------------------

EXTRA_CALLS = []


@guardrails.guardrail(
    id="always-fails",
    title="An admin's check",
    level="owner",
    severity="low",
    why="testing extension",
    fix="none",
)
def extra_check(facts):
    EXTRA_CALLS.append(facts.subject.owner_name)
    return guardrails.failed("as designed", owner=facts.subject.owner_name)


def _facts(config, providers=None):
    subject = Subject("d-abc", "us-east-1", "user-profile", "alice", account_id="123456789012")
    clients = AwsClients("us-east-1", endpoint_urls={"sagemaker": "http://127.0.0.1:9"})
    return Facts(clients, config, subject, TtlCache(), ThreadPoolExecutor(1), providers=providers)


def test_registry_extra_disabled_and_broken_checks():
    reg = guardrails.Registry.from_config(
        disabled=["backup-recent", "no-such-check"],
        extra=[f"{__name__}:extra_check", "no.such.module:thing"],
        entry_points=False,
    )
    ids = reg.ids()
    assert "backup-recent" not in ids and "always-fails" in ids
    assert set(guardrails.BUILTIN) - {"backup-recent"} <= set(ids)
    broken = [i for i in ids if i.startswith("extra:")]
    assert broken == ["extra:no.such.module:thing"]
    facts = _facts(Insights())
    checks = {c.id: c for c in reg}
    results = {i: checks[i].run(facts) for i in ("always-fails", broken[0])}
    assert results["always-fails"]["status"] == "fail"
    assert results["always-fails"]["evidence"] == {"owner": "alice"}
    assert results[broken[0]]["status"] == "unknown"
    assert "cannot load" in results[broken[0]]["reason"]


def test_a_crashing_check_is_unknown_not_fatal():
    def crash(facts):
        raise RuntimeError("bug in an admin check")

    check = guardrails.Check("crash", "Crash", "owner", "low", "w", "f", crash)
    result = check.run(_facts(Insights()))
    assert result["status"] == "unknown" and "bug in an admin check" in result["reason"]


@pytest.mark.parametrize(
    "summary, status, words",
    [
        (None, "unknown", "not running here"),
        ({"configured": False, "bucket": None, "last_success": None}, "fail", "not configured"),
        ({"configured": True, "bucket": "b", "last_success": None}, "fail", "no successful backup"),
        ({"configured": True, "bucket": "b", "last_success": "old"}, "fail", "h old"),
        ({"configured": True, "bucket": "b", "last_success": "new"}, "pass", "h ago"),
        ({"configured": True, "bucket": "b", "last_success": "garbage"}, "unknown", "unreadable"),
    ],
)
def test_backup_check_from_a_provider(summary, status, words):
    cfg = Insights(backup_rpo_hours=24)
    if summary and summary["last_success"] in ("old", "new"):
        hours = 30 if summary["last_success"] == "old" else 2
        summary = {**summary, "last_success": (clock.utcnow() - timedelta(hours=hours)).isoformat()}
    facts = _facts(cfg, {"backup": lambda: summary})
    result = guardrails.BUILTIN["backup-recent"].run(facts)
    assert result["status"] == status and words in result["reason"]


def test_image_name_from_arns():
    assert guardrails.image_name("arn:aws:sagemaker:us-east-1:081325390199:image/sagemaker-distribution-cpu") == "sagemaker-distribution-cpu"  # fmt: skip
    assert guardrails.image_name("arn:aws:sagemaker:us-east-1:123456789012:image-version/team-img/3") == "team-img"  # fmt: skip
    assert guardrails.image_name(None) is None and guardrails.image_name("nonsense") is None


def test_checks_from_an_installed_entry_point(tmp_path, monkeypatch):
    # Given a distribution on sys.path declaring a check in the smstudio_ext.guardrails group
    (tmp_path / "site_checks.py").write_text(
        "from smstudio_ext.insights.guardrails import guardrail, passed\n"
        "@guardrail(id='site-check', title='Site', level='domain', severity='low', why='w', fix='f')\n"
        "def check(facts):\n"
        "    return passed('installed through an entry point')\n"
    )
    dist = tmp_path / "site_checks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: site-checks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{guardrails.ENTRY_POINT_GROUP}]\nsite = site_checks:check\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # When the registry is built from config
    reg = guardrails.Registry.from_config()
    # Then the check is there and runs
    check = {c.id: c for c in reg}["site-check"]
    assert check.run(_facts(Insights()))["reason"] == "installed through an entry point"


def test_cache_refresh_reloads_once_after_a_point_in_time():
    now = [100.0]
    cache = TtlCache(clock=lambda: now[0])
    values = iter(range(10))
    assert cache.get("k", lambda: next(values), ttl=60) == 0
    start = now[0] = 130.0  # a refresh starts: max_age 0 reloads, fresh_after keeps the reload
    assert cache.get("k", lambda: next(values), ttl=60, max_age=0, fresh_after=start) == 1
    assert cache.get("k", lambda: next(values), ttl=60, max_age=0, fresh_after=start) == 1


# -- review findings B1-B5 (unit level; the emulator-level ones are in test_insights_engine) ------


def test_estimate_never_adds_two_currencies():
    # Given an admin price file in EUR for one type and the Pricing API (USD) for another
    now = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
    prices = {
        "ml.m5.large": pricing.Price("ml.m5.large", 0.10, "EUR", pricing.PRICE_FILE),
        "ml.g5.xlarge": pricing.Price("ml.g5.xlarge", 1.408, "USD", pricing.PRICING_API),
        "system": pricing.Price("system", 0.0, "USD", pricing.FREE),
    }
    hour_ago = now - timedelta(hours=1)
    apps = [
        _app("a", "ml.m5.large", hour_ago),
        _app("b", "ml.g5.xlarge", hour_ago),
        _app("js", "system", hour_ago, "JupyterServer"),
    ]
    est = costs.estimate(apps, prices, now)
    # Then no sum mixes them: one total per currency, the headline in the admin's currency only
    assert not (est["per_hour"] == pytest.approx(1.508)), est
    assert est["totals"] == {
        "EUR": {"per_hour": 0.1, "since_start": 0.1, "today": 0.1},
        "USD": {"per_hour": 1.408, "since_start": 1.408, "today": 1.408},
    }
    assert est["currency"] == "EUR" and est["per_hour"] == pytest.approx(0.1)
    assert est["status"] == "partial" and "several currencies" in est["reason"]
    assert "KernelGateway/b (USD)" in est["reason"]
    assert {r["app_name"]: r["currency"] for r in est["apps"]} == {
        "a": "EUR",
        "b": "USD",
        "js": "USD",
    }
    # and a single currency (plus the free system app) stays ok, with one total
    one = costs.estimate([apps[0], apps[2]], prices, now)
    assert one["status"] == "ok" and one["currency"] == "EUR" and list(one["totals"]) == ["EUR"]


class _SpaceFacts:
    """A space whose own IdleSettings (SpaceIdleSettings has only IdleTimeoutInMinutes)
    override the timeout; the domain turned idle shutdown ON for users (private spaces) or, with
    ``shared_defaults``, in DefaultSpaceSettings (shared spaces)."""

    subject = Subject("d-abc", "us-east-1", "space", "s1", account_id="123456789012")

    def __init__(self, space_timeout, sharing="Private", shared_defaults=False):
        self.config = Insights(max_idle_timeout_minutes=120)
        self.space_timeout = space_timeout
        self.sharing = sharing
        self.shared_defaults = shared_defaults

    def idle_summary(self):
        return None

    def owner_app_types(self):
        return {"JupyterLab"}

    def effective_settings(self):
        idle = {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 90, "MaxIdleTimeoutInMinutes": 120}  # fmt: skip
        lab = {"JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": idle}}}
        domain = {"DefaultSpaceSettings": lab} if self.shared_defaults else {"DefaultUserSettings": lab}  # fmt: skip
        space_idle = {"IdleTimeoutInMinutes": self.space_timeout}
        space = {
            "SpaceName": "s1",
            "SpaceSettings": {
                "AppType": "JupyterLab",
                "JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": space_idle}},
            },
            "SpaceSharingSettings": {"SharingType": self.sharing},
            "OwnershipSettings": {"OwnerUserProfileName": "alice"},
        }
        return studio_settings.resolve(
            domain, owner_kind="space", owner=space, owner_profile={"UserSettings": {}}
        )


def test_space_level_idle_timeout_under_an_enabled_domain_passes():
    result = guardrails.check_idle.func(_SpaceFacts(60))
    assert result.status == "pass", result.reason
    assert "after 60 min" in result.reason  # the space's own timeout, the domain's switch
    assert result.evidence["IdleSettings"]["LifecycleManagement"] == "ENABLED"
    too_long = guardrails.check_idle.func(_SpaceFacts(200))
    assert too_long.status == "fail" and "200 min exceeds" in too_long.reason


def test_shared_space_takes_idle_settings_from_default_space_settings_only():
    # DefaultUserSettings.JupyterLabAppSettings is applied "only to private spaces" (botocore)
    shared = guardrails.check_idle.func(_SpaceFacts(60, sharing="Shared"))
    assert shared.status == "fail" and "no idle shutdown" in shared.reason, shared.reason
    # DefaultSpaceSettings is what reaches a shared space
    ok = guardrails.check_idle.func(_SpaceFacts(60, sharing="Shared", shared_defaults=True))
    assert ok.status == "pass" and "after 60 min" in ok.reason
    source = ok.evidence["platform"]["source"]
    assert source == "domain DefaultSpaceSettings (shared space)"


def test_instance_type_unknown_is_not_a_failure():
    facts = SimpleNamespace(
        config=Insights(allowed_instance_types=["ml.t3.medium"]),
        apps=lambda: [_app("kg", None, None)],
    )
    result = guardrails.check_instance_type.func(facts)
    assert result.status == "unknown", result.reason
    assert "no instance type reported for KernelGateway/kg" in result.reason
    # a real failure still wins over an unreported type
    facts.apps = lambda: [_app("kg", None, None), _app("big", "ml.p3.2xlarge", None)]
    result = guardrails.check_instance_type.func(facts)
    assert result.status == "fail" and "None" not in result.reason


def test_admin_price_file_edit_is_seen_without_a_restart(tmp_path):
    f = tmp_path / "prices.json"
    f.write_text(json.dumps({"ml.m5.large": 0.2}))
    book = pricing.PriceBook(None, "us-east-1", price_file=str(f))
    subject = Subject("d-abc", "us-east-1", "user-profile", "alice", account_id="123456789012")
    cache = TtlCache()  # shared across responses, as in the engine

    def facts():
        return Facts(AwsClients("us-east-1"), Insights(), subject, cache, ThreadPoolExecutor(1), prices=book)  # fmt: skip

    assert facts().prices_for(["ml.m5.large"])["ml.m5.large"].per_hour == 0.2
    f.write_text(json.dumps({"ml.m5.large": 0.1}))
    os.utime(f, (1, 1))
    assert facts().prices_for(["ml.m5.large"])["ml.m5.large"].per_hour == 0.1
