"""List prices and billed costs against the emulator: the usage-type schema, "list price unknown"
instead of a silent guess, and the Pricing / Cost Explorer endpoints of each partition."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from smstudio_ext.aws import AwsClients
from smstudio_ext.insights import costs, pricing
from smstudio_ext.insights.config import Insights
from smstudio_ext.insights.engine import InsightsEngine
from smstudio_ext.insights.facts import Subject
from smstudio_ext.testing.pricing import hourly_price

SERVICES = ("sagemaker", "pricing", "ce", "sts")


@pytest.fixture
def clients(aws):
    return AwsClients(
        "us-east-1", endpoint_urls={s: aws.endpoint_url for s in SERVICES}, max_attempts=1
    )


def book(clients, region, tmp_path, **kwargs):
    return pricing.PriceBook(clients, region, cache_path=str(tmp_path / "prices.json"), **kwargs)


def pricing_regions(aws):
    return [c.region for c in aws.calls if c.service == "pricing"]


def test_studio_price_found_by_usage_type_in_one_request(aws, clients, tmp_path):
    # Given a list whose Studio products carry no instance attribute (as public notes describe)
    aws.reset_counts()
    price = book(clients, "us-east-1", tmp_path).price("ml.r6i.4xlarge")
    # Then the JupyterLab price is found through usagetype, not a hosting or training price
    assert price.source == pricing.PRICING_API and price.currency == "USD"
    assert price.per_hour == pytest.approx(hourly_price("ml.r6i.4xlarge"))
    assert aws.count("pricing", "GetProducts") == 1
    # and the answer is cached on disk: a second book asks nothing
    again = book(clients, "us-east-1", tmp_path).price("ml.r6i.4xlarge")
    assert again.source == pricing.DISK_CACHE and aws.count("pricing", "GetProducts") == 1


def test_a_type_without_studio_product_is_unknown_not_a_guess(aws, clients, tmp_path):
    # ml.m5.8xlarge is in the bundled table but the (emulated) list has no Studio product for it
    assert "ml.m5.8xlarge" in pricing.FALLBACK_PRICES
    price = book(clients, "us-east-1", tmp_path).price("ml.m5.8xlarge")
    assert price.per_hour is None and price.source == pricing.UNKNOWN
    assert price.note == (
        "list price unknown for ml.m5.8xlarge in us-east-1: the Pricing API lists no Studio "
        "price for it"
    )
    # the "no price" answer is cached too, and stays unknown
    cached = book(clients, "us-east-1", tmp_path).price("ml.m5.8xlarge")
    assert cached.per_hour is None and cached.note == price.note


def test_an_unreachable_api_falls_back_to_the_table_and_says_so(aws, clients, tmp_path):
    aws.deny("GetProducts", service="pricing")
    price = book(clients, "us-east-1", tmp_path).price("ml.t3.medium")
    assert price.source == pricing.FALLBACK
    assert price.note.startswith("list price unknown for ml.t3.medium in us-east-1 (the Pricing")
    assert "pricing:GetProducts" in price.note and "approximate" in price.note
    # and the estimate is marked partial, naming the approximated type
    from smstudio_ext.apps import AppInfo

    app = AppInfo("d-x", "JupyterLab", "default", "InService", instance_type="ml.t3.medium")
    est = costs.estimate([app], {"ml.t3.medium": price}, datetime.now(timezone.utc))
    assert est["status"] == "partial" and "list price unknown for ml.t3.medium" in est["reason"]


def test_contains_refused_falls_back_to_the_instance_name_attribute(aws, clients, tmp_path):
    # an endpoint refusing CONTAINS filters: the instanceName query is the second try; in a
    # list where Studio rows have no instanceName that finds no Studio price: unknown
    aws.fail(
        "GetProducts", code="InvalidParameterException", status=400, service="pricing", times=1
    )
    aws.reset_counts()
    price = book(clients, "us-east-1", tmp_path).price("ml.t3.medium")
    assert aws.count("pricing", "GetProducts") == 2
    assert price.per_hour is None and "lists no Studio price" in price.note


@pytest.mark.parametrize(
    "region, endpoint, currency",
    [
        ("us-west-2", "us-east-1", "USD"),
        ("eu-west-1", "eu-central-1", "USD"),
        ("ap-south-1", "ap-south-1", "USD"),
        ("cn-north-1", "cn-northwest-1", "CNY"),
        ("us-gov-west-1", "us-gov-west-1", "USD"),
    ],
)
def test_the_pricing_endpoint_and_currency_follow_the_partition(
    aws, clients, tmp_path, region, endpoint, currency
):
    aws.reset_counts()
    price = book(clients, region, tmp_path).price("ml.t3.medium")
    assert pricing_regions(aws) == [endpoint]
    assert (price.source, price.currency) == (pricing.PRICING_API, currency)
    assert price.per_hour == pytest.approx(hourly_price("ml.t3.medium", region))


def test_the_emulated_pricing_api_answers_only_at_its_endpoints(aws):
    client = aws.client("pricing", region="eu-west-1")
    with pytest.raises(Exception, match="no endpoint in eu-west-1"):
        client.get_products(ServiceCode="AmazonSageMaker")


def test_cost_explorer_endpoint_follows_the_partition(aws, clients):
    aws.inject_cost_and_usage([{"ResultsByTime": []}])
    now = datetime(2025, 3, 15, tzinfo=timezone.utc)
    for region, endpoint in (
        ("eu-west-1", "us-east-1"),
        ("cn-north-1", "cn-northwest-1"),
        ("us-gov-east-1", "us-gov-west-1"),
    ):
        aws.reset_counts()
        costs.fetch_billed(clients, "sagemaker:space-arn", "arn", now, region=region)
        assert [c.region for c in aws.calls if c.service == "ce"] == [endpoint], region


def test_billed_costs_say_when_cost_explorer_is_not_enabled(aws, world, tmp_path):
    aws.fail(
        "GetCostAndUsage",
        code="AccessDeniedException",
        status=400,
        service="ce",
        message="User not enabled for cost explorer access",
    )
    clients = AwsClients(
        world.region, endpoint_urls={s: aws.endpoint_url for s in SERVICES}, max_attempts=1
    )
    config = Insights(billed_costs=True, price_cache_path=str(tmp_path / "p.json"))
    engine = InsightsEngine(clients, config, use_pricing_api=False)
    try:
        subject = Subject(
            world.domain_id,
            world.region,
            "space",
            world.primary_space,
            account_id=world.account_id,
        )
        billed = engine.collect(subject, parts=["costs"])["costs"]["billed"]
    finally:
        engine.close(wait=True)
    assert billed["status"] == "not_available"
    assert "Cost Explorer is not enabled for this account" in billed["reason"]
    assert "lacks" not in billed["reason"]  # not a missing permission
