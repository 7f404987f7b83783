"""Cost per user and team: the live estimate per tag value, and billed cost from Cost Explorer
grouped by tag (this month and the last three), with its failures stated, never zeros."""

from __future__ import annotations

import pytest
from report_support import clients_for, report_options

from smstudio_ext import clock
from smstudio_ext.admin.report import build_report
from smstudio_ext.admin.report.costs import months
from smstudio_ext.testing import seed_world


def _ce_result(key, per_month):
    """A GetCostAndUsage answer grouped by tag ``key``: {month: {value: amount}}."""
    return {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": f"{m}-01", "End": f"{m}-28"},
                "Total": {},
                "Groups": [
                    {
                        "Keys": [f"{key}${value}"],
                        "Metrics": {"UnblendedCost": {"Amount": str(amount), "Unit": "USD"}},
                    }
                    for value, amount in groups.items()
                ],
                "Estimated": m == months(clock.utcnow())[-1],
            }
            for m, groups in per_month.items()
        ]
    }


def test_live_cost_per_user_and_team(aws, tmp_path):
    world = seed_world(aws, kind="both")
    sm = aws.client("sagemaker")
    bob = f"arn:aws:sagemaker:{aws.region}:{aws.account_id}:user-profile/{world.domain_id}/bob"
    sm.add_tags(ResourceArn=bob, Tags=[{"Key": "team", "Value": "vision"}])
    doc, _ = build_report(
        clients_for(aws), report_options(world, tmp_path, tag_keys=["team"], savings=False)
    )
    live = doc["costs"]["live"]
    # alice: her space (t3.medium 0.05) + classic apps (system 0, t3.medium 0.05, m5.large 0.10)
    # bob: the shared team space he owns (g4dn.xlarge 0.75)
    users = {r["value"]: r for r in live["by_tag"]["studiouserid"]}
    assert users["alice"]["per_hour"] == pytest.approx(0.20) and users["alice"]["apps"] == 4
    assert users["bob"]["per_hour"] == pytest.approx(0.75)
    teams = {r["value"]: r["per_hour"] for r in live["by_tag"]["team"]}
    assert teams == {"vision": pytest.approx(0.75), "data-science": pytest.approx(0.20)}
    assert live["per_hour"] == pytest.approx(0.95) and live["status"] == "ok"
    assert doc["savings"]["status"] == "not_requested"


def test_an_app_without_price_is_counted_not_added(aws, tmp_path):
    world = seed_world(aws, kind="spaces")
    opts = report_options(world, tmp_path, savings=False)
    # the price file knows t3.medium only; the Pricing API is off, the bundled table knows g4dn
    (tmp_path / "prices.json").write_text('{"ml.t3.medium": 0.05}')
    opts.audit.insights.price_file = str(tmp_path / "prices.json")
    from smstudio_ext.insights import pricing

    saved = pricing.FALLBACK_PRICES.pop("ml.g4dn.xlarge")
    try:
        doc, _ = build_report(clients_for(aws), opts)
    finally:
        pricing.FALLBACK_PRICES["ml.g4dn.xlarge"] = saved
    live = doc["costs"]["live"]
    assert live["status"] == "partial" and live["unpriced_apps"] == 1
    assert "team-space JupyterLab/default" in live["reason"]
    users = {r["value"]: r for r in live["by_tag"]["studiouserid"]}
    assert users["bob"] == {"value": "bob", "apps": 1, "unpriced": 1, "per_hour": 0.0}
    assert live["per_hour"] == pytest.approx(0.05)


def test_billed_cost_per_tag_for_four_months(aws, tmp_path):
    world = seed_world(aws, kind="spaces")
    m = months(clock.utcnow())
    assert len(m) == 4 and m[-1] == clock.utcnow().strftime("%Y-%m")
    aws.inject_cost_and_usage(
        [
            _ce_result(
                "studiouserid",
                {m[0]: {"alice": 10.5, "bob": 2}, m[2]: {"alice": 4.25, "": 1}, m[3]: {"bob": 3}},
            ),
            _ce_result("team", {m[1]: {"data-science": 7}}),
        ]
    )
    doc, _ = build_report(
        clients_for(aws),
        report_options(world, tmp_path, tag_keys=["team"], billed=True, savings=False),
    )
    billed = doc["costs"]["billed"]
    assert billed["status"] == "ok" and billed["months"] == m
    users, teams = billed["tables"]
    assert users["tag_key"] == "studiouserid" and users["currency"] == "USD"
    rows = {r["value"]: r for r in users["rows"]}
    assert rows["alice"]["months"] == {m[0]: 10.5, m[1]: 0.0, m[2]: 4.25, m[3]: 0.0}
    assert rows["alice"]["total"] == 14.75 and rows["bob"]["total"] == 5.0
    assert rows["(untagged)"]["total"] == 1.0
    assert [r["value"] for r in users["rows"]] == ["alice", "bob", "(untagged)"]
    assert users["estimated"] is True
    assert teams["rows"] == [
        {
            "value": "data-science",
            "months": {m[0]: 0.0, m[1]: 7.0, m[2]: 0.0, m[3]: 0.0},
            "total": 7.0,
        }
    ]
    # one request per tag key, filtered to SageMaker and this account
    assert aws.count("ce", "GetCostAndUsage") == 2


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("AccessDeniedException", "User not enabled for cost explorer access", "not enabled"),
        ("AccessDeniedException", "not authorized to perform: ce:GetCostAndUsage", "lacks ce:"),
        ("DataUnavailableException", "Data is not available", "no data for this period"),
    ],
)
def test_cost_explorer_failures_are_unknown_with_the_reason(aws, tmp_path, code, message, expected):
    world = seed_world(aws, kind="spaces")
    aws.fail("GetCostAndUsage", code, 400, service="ce", message=message)
    doc, _ = build_report(
        clients_for(aws), report_options(world, tmp_path, billed=True, savings=False)
    )
    billed = doc["costs"]["billed"]
    assert billed["status"] == "unknown"
    table = billed["tables"][0]
    assert table["status"] == "unknown" and table["rows"] == []
    assert expected in table["reason"]


def test_no_cost_data_is_unknown_not_zero(aws, tmp_path):
    world = seed_world(aws, kind="spaces")
    doc, _ = build_report(
        clients_for(aws), report_options(world, tmp_path, billed=True, savings=False)
    )
    table = doc["costs"]["billed"]["tables"][0]
    assert table["status"] == "unknown" and "cost-allocation tag" in table["reason"]
