"""The HTML report in Chromium with the network blocked: the charts render, and what they and
the tables show is the report's JSON. Saves ``test-artifacts/audit-report.png`` (the README's
screenshot, ``docs/img/audit-report.png``, is a copy of it)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from report_support import clients_for, report_options

from smstudio_ext import clock
from smstudio_ext.admin.report import build_report, render
from smstudio_ext.admin.report.charts import top_n
from smstudio_ext.admin.report.costs import months
from smstudio_ext.aws import USER_AGENT
from smstudio_ext.testing import cloudtrail, seed_world

from .conftest import ARTIFACTS

pytestmark = pytest.mark.browser

OURS = f"Botocore/1.34.0 {USER_AGENT}"


def _month_of_events(aws, world, now):
    """Five weeks of our shutdowns on both spaces (and a few of the console's)."""
    events = []
    for day in range(1, 34):
        for space, hours, itype, agent in (
            ("alice-space", 1 + day % 5, "ml.t3.medium", OURS),
            ("team-space", 0.5 + day % 3, "ml.g4dn.xlarge", OURS if day % 4 else "AWS Internal"),
        ):
            stop = now - timedelta(days=day, hours=6)
            for name, when in (
                ("CreateApp", stop - timedelta(hours=3)),
                ("DeleteApp", stop),
                ("CreateApp", stop + timedelta(hours=hours)),
            ):
                events.append(
                    cloudtrail.app_event(
                        name, when, account_id=aws.account_id, region=aws.region,
                        domain_id=world.domain_id, app_type="JupyterLab", app_name="default",
                        space_name=space, instance_type=itype, user_agent=agent,
                    )
                )  # fmt: skip
    cloudtrail.put_events(aws.account_id, aws.region, events)


@pytest.fixture
def report(aws, tmp_path):
    world = seed_world(aws, kind="both")
    sm = aws.client("sagemaker")
    base = f"arn:aws:sagemaker:{aws.region}:{aws.account_id}:user-profile/{world.domain_id}"
    sm.add_tags(ResourceArn=f"{base}/bob", Tags=[{"Key": "team", "Value": "vision"}])
    clients = clients_for(aws)
    history = str(tmp_path / "history")
    with clock.travelling():
        # three runs a week apart; carol loses her user-id tag before the last one
        for week in range(3):
            if week == 2:
                sm.delete_tags(ResourceArn=f"{base}/carol", TagKeys=["studiouserid"])
                now = clock.utcnow()
                _month_of_events(aws, world, now)
                m = months(now)
                aws.inject_cost_and_usage(
                    [
                        {
                            "ResultsByTime": [
                                {
                                    "TimePeriod": {"Start": f"{mo}-01", "End": f"{mo}-28"},
                                    "Total": {},
                                    "Groups": [
                                        {
                                            "Keys": [f"studiouserid${u}"],
                                            "Metrics": {
                                                "UnblendedCost": {"Amount": str(a), "Unit": "USD"}
                                            },
                                        }
                                        for u, a in (("alice", 41.5 + i), ("bob", 120.25 - 9 * i))
                                    ],
                                }
                                for i, mo in enumerate(m)
                            ]
                        }
                    ]
                )
            opts = report_options(
                world,
                tmp_path,
                tag_keys=["team"],
                history=history,
                savings=week == 2,
                billed=week == 2,
            )
            doc, _ = build_report(clients, opts)
            clock.travel(timedelta(days=7))
    path = tmp_path / "report.html"
    path.write_text(render(doc))
    return doc, path


def test_report_renders_offline_and_matches_its_json(browser, report):
    doc, path = report
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 1400})
    requests = []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()))
    page = context.new_page()
    page.goto(path.as_uri())
    try:
        # only the file itself was requested: nothing from the network
        assert requests == [path.as_uri()]
        data = page.evaluate("JSON.parse(document.getElementById('report-data').textContent)")
        assert data["savings"]["totals"] == doc["savings"]["totals"]
        s = doc["savings"]
        assert s["status"] == "ok" and s["totals"]["shutdowns"] > 20

        # savings per week: one bar per week, its value the JSON's, drawn with a height
        bars = page.locator("#chart-savings-week rect.bar")
        assert bars.count() == len(s["by_week"])
        for i, week in enumerate(s["by_week"]):
            bar = bars.nth(i)
            assert bar.get_attribute("data-label") == week["week"]
            assert float(bar.get_attribute("data-value")) == week["amount"]
            box = bar.bounding_box()
            assert box is not None and (box["height"] > 1) == (week["amount"] > 0)
        rows = page.locator("#table-savings-week tbody tr")
        assert rows.count() == len(s["by_week"])
        last = rows.nth(len(s["by_week"]) - 1).locator("td")
        assert last.nth(0).inner_text() == s["by_week"][-1]["week"]
        assert last.nth(5).inner_text() == f"{s['by_week'][-1]['amount']:,.2f}"
        card = page.locator("#card-saved .v").inner_text()
        assert card == f"{s['totals']['amount']:,.2f} USD"

        # cost per user now: top N + rest, same values as the JSON
        live = doc["costs"]["live"]["by_tag"]["studiouserid"]
        expected = top_n([(r["value"], r["per_hour"]) for r in live], doc["options"]["top"])
        got = [
            (b.get_attribute("data-label"), float(b.get_attribute("data-value")))
            for b in page.locator("#chart-live-studiouserid rect.bar").all()
        ]
        assert got == expected and all(v > 0 for _, v in got[:1])
        # billed per user, four months
        table = doc["costs"]["billed"]["tables"][0]
        assert table["status"] == "ok" and len(table["months"]) == 4
        billed = page.locator("#chart-billed-studiouserid rect.bar")
        assert billed.count() == len(table["rows"])
        assert float(billed.first.get_attribute("data-value")) == table["rows"][0]["total"]

        # compliance trend: three runs, pass/fail/unknown segments as counted in the JSON
        c = doc["compliance"]
        assert len(c["runs"]) == 3
        segments = page.locator("#chart-compliance rect.segment")
        assert segments.count() == 9
        for i, run in enumerate(c["totals"]):
            for j, status in enumerate(("pass", "fail", "unknown")):
                seg = segments.nth(3 * i + j)
                assert seg.get_attribute("data-status") == status
                assert int(seg.get_attribute("data-value")) == run[status]
        assert c["totals"][2]["fail"] == c["totals"][1]["fail"] + 1
        changes = page.locator("#table-changes tbody tr")
        assert changes.count() == c["changes_total"] >= 1
        assert "user-profile:carol" in changes.first.inner_text()

        for chart in page.locator("svg.chart").all():
            box = chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 50
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / "audit-report.png"),
            clip={"x": 0, "y": 0, "width": 1100, "height": 860},
        )
        (ARTIFACTS / "audit-report.json").write_text(json.dumps(doc, indent=1, default=str))
    finally:
        context.close()
