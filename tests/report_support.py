"""Shared helpers of the report tests: clients on the emulator, a price file, report options."""

from __future__ import annotations

import json

from smstudio_ext.admin.audit import AuditOptions
from smstudio_ext.admin.report import ReportOptions
from smstudio_ext.aws import AwsClients
from smstudio_ext.insights.config import Insights

SERVICES = ("s3", "sagemaker", "iam", "sts", "pricing", "cloudtrail", "ce", "organizations")
#: Round prices so that the tests' hand computations read easily.
PRICES = {"ml.t3.medium": 0.05, "ml.g4dn.xlarge": 0.75, "ml.m5.large": 0.10, "system": 0.0}


def clients_for(aws, **kwargs):
    kwargs.setdefault("max_attempts", 1)
    return AwsClients(aws.region, endpoint_urls={s: aws.endpoint_url for s in SERVICES}, **kwargs)


def price_file(tmp_path, prices=None):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"currency": "USD", "prices": prices or PRICES}))
    return str(path)


def report_options(world, tmp_path, **kwargs):
    insights = Insights(
        price_cache_path=str(tmp_path / "price-cache.json"),
        price_file=price_file(tmp_path),
        disabled_checks=["backup-recent"],
    )
    audit = AuditOptions(world.domain_id if world else "d-x", max_rps=200, insights=insights)
    audit.include_prices = False  # the price file prices everything we assert on
    kwargs.setdefault("domain_id", world.domain_id if world else None)
    return ReportOptions(audit=audit, **kwargs)
