"""Savings from idle shutdown: a month of CloudTrail events on the seeded emulator, computed by
hand here and by ``smstudio audit --report``; and each fault that must become a stated unknown."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from report_support import clients_for, report_options

from smstudio_ext import clock
from smstudio_ext.admin.report import build_report
from smstudio_ext.admin.report.savings import Shutdown, agent_label, summarize
from smstudio_ext.apps import AppInfo, delete_app
from smstudio_ext.aws import USER_AGENT
from smstudio_ext.testing import cloudtrail, seed_world

OURS = f"Botocore/1.34.0 ua/2.0 os/linux lang/python#3.11 {USER_AGENT}"
CONSOLE = "AWS Internal"


def monday(when):
    day = when.date()
    return (day - timedelta(days=day.weekday())).isoformat()


@pytest.fixture
def month(aws, tmp_path):
    """The seeded spaces world, one real shutdown by our clients two hours ago, a space deleted
    and re-created, and a synthetic month of app starts and stops (see the test for the list)."""
    world = seed_world(aws, kind="spaces")
    sm = aws.client("sagemaker")
    alice_arn = (
        f"arn:aws:sagemaker:{aws.region}:{aws.account_id}:user-profile/{world.domain_id}/alice"
    )
    sm.add_tags(ResourceArn=alice_arn, Tags=[{"Key": "team", "Value": "ml-research"}])
    sm.create_space(
        DomainId=world.domain_id,
        SpaceName="lab-space",
        OwnershipSettings={"OwnerUserProfileName": "carol"},
        SpaceSharingSettings={"SharingType": "Private"},
    )
    clients = clients_for(aws)
    team = world.find_app(owner="team-space")
    # a real DeleteApp through our clients: CloudTrail records our user agent
    delete_app(
        clients,
        AppInfo(world.domain_id, "JupyterLab", "default", "InService", space_name="team-space"),
    )
    assert team["instance_type"] == "ml.g4dn.xlarge"
    with clock.travelling():
        clock.travel(timedelta(hours=2))
        now = clock.utcnow()
        # the space deleted and re-created under the same name after a shutdown (real calls)
        sm.delete_space(DomainId=world.domain_id, SpaceName="lab-space")
        sm.create_space(
            DomainId=world.domain_id,
            SpaceName="lab-space",
            OwnershipSettings={"OwnerUserProfileName": "carol"},
            SpaceSharingSettings={"SharingType": "Private"},
        )
        ev = []

        def app(name, when, owner, app_name="default", agent=CONSOLE, **kw):
            ev.append(
                cloudtrail.app_event(
                    name,
                    when,
                    account_id=aws.account_id,
                    region=aws.region,
                    domain_id=world.domain_id,
                    app_type=kw.pop("app_type", "JupyterLab"),
                    app_name=app_name,
                    space_name=owner,
                    user_agent=agent,
                    **kw,
                )
            )

        d, h = timedelta(days=1), timedelta(hours=1)
        # A: stopped by us, started again 3 h later
        app("CreateApp", now - 20 * d - 10 * h, "alice-space", instance_type="ml.t3.medium")
        app("DeleteApp", now - 20 * d, "alice-space", agent=OURS)
        app("CreateApp", now - 20 * d + 3 * h, "alice-space", instance_type="ml.t3.medium")
        # B: stopped by us, started again a day later: capped at 8 h
        app("DeleteApp", now - 13 * d, "alice-space", agent=OURS)
        app("CreateApp", now - 12 * d, "alice-space", instance_type="ml.t3.medium")
        # C: the GPU space, 2.5 h
        app("CreateApp", now - 9 * d - 4 * h, "team-space", instance_type="ml.g4dn.xlarge")
        app("DeleteApp", now - 9 * d, "team-space", agent=OURS)
        app("CreateApp", now - 9 * d + 2.5 * h, "team-space", instance_type="ml.g4dn.xlarge")
        # D: stopped by someone else (reported apart), 1 h
        app("DeleteApp", now - 6 * d, "team-space", agent=CONSOLE)
        app("CreateApp", now - 6 * d + h, "team-space", instance_type="ml.g4dn.xlarge")
        # E: our DeleteApp that failed is no shutdown
        app("DeleteApp", now - 5 * d, "alice-space", agent=OURS, error_code="ResourceNotFound")
        # F: started beyond the 90 days (not returned), stopped by us 25 days ago: type unknown
        app("CreateApp", now - 95 * d, "alice-space", "editor", app_type="CodeEditor",
            instance_type="ml.m5.large")  # fmt: skip
        app("DeleteApp", now - 25 * d, "alice-space", "editor", app_type="CodeEditor", agent=OURS)
        app("DeleteApp", now - 100 * d, "alice-space", agent=OURS)  # beyond 90 days: not seen
        # G: an instance type nobody has a price for
        app("CreateApp", now - 4 * d - 2 * h, "alice-space", "big", instance_type="ml.p4d.24xlarge")
        app("DeleteApp", now - 4 * d, "alice-space", "big", agent=OURS)
        app("CreateApp", now - 4 * d + h, "alice-space", "big", instance_type="ml.p4d.24xlarge")
        # H: lab-space stopped by us 1 h before it was deleted and re-created (above)
        app("CreateApp", now - 5 * h, "lab-space", instance_type="ml.t3.medium")
        app("DeleteApp", now - h, "lab-space", agent=OURS)
        cloudtrail.put_events(aws.account_id, aws.region, ev)
        yield world, clients, now


def test_a_month_of_shutdowns_matches_the_hand_computation(month, tmp_path):
    world, clients, now = month
    # When the report is built with the team tag (30 days, 8 h working day)
    doc, _ = build_report(clients, report_options(world, tmp_path, tag_keys=["team"]))
    s = doc["savings"]
    d, h = timedelta(days=1), timedelta(hours=1)
    # Then by hand: A 3 h x 0.05, B 8 h (capped) x 0.05, C 2.5 h x 0.75, the real one 2 h x 0.75
    known = {
        "A": (now - 20 * d, 3.0, 0.05),
        "B": (now - 13 * d, 8.0, 0.05),
        "C": (now - 9 * d, 2.5, 0.75),
        "real": (now - 2 * h, 2.0, 0.75),
    }
    hours = sum(x[1] for x in known.values())
    amount = sum(x[1] * x[2] for x in known.values())
    assert hours == 15.5 and amount == pytest.approx(3.925)
    t = s["totals"]
    assert t["shutdowns"] == 7  # A B C real F G H (E failed, the 100-day one is beyond 90 days)
    assert t["known"] == 4 and t["unknown"] == 3
    # (the real stop's CloudTrail time has whole seconds: "2 h" is 2 h and a fraction of a second)
    assert t["hours"] == pytest.approx(hours, abs=1e-3)
    assert t["amount"] == pytest.approx(amount, abs=1e-3)
    assert s["status"] == "partial"  # three shutdowns have no amount: the total is "at least"
    assert doc["headline"]["saved"] == pytest.approx(amount, abs=1e-3)
    assert doc["headline"]["saved_at_least"]
    # the others': D, 1 h of the GPU space
    assert s["others"]["shutdowns"] == 1 and s["others"]["amount"] == pytest.approx(0.75)
    assert s["others_by_agent"][0]["agent"] == "AWS console/internal"
    # per week (Monday, UTC): the same sums, every week of the window present
    weeks = defaultdict(float)
    for when, hrs, price in known.values():
        weeks[monday(when)] += hrs * price
    got = {r["week"]: r["amount"] for r in s["by_week"]}
    for week, value in weeks.items():
        assert got[week] == pytest.approx(value, abs=1e-3)
    assert sum(got.values()) == pytest.approx(amount, abs=1e-3)
    assert min(got) <= monday(now - 30 * d) and max(got) == monday(now)
    # per user-id tag (a space takes its owner's) and per team (space → owner profile → domain)
    users = {r["value"]: r for r in s["by_tag"]["studiouserid"]}
    assert users["alice"]["amount"] == pytest.approx(0.55) and users["alice"]["unknown"] == 2
    assert users["bob"]["amount"] == pytest.approx(3.375, abs=1e-3)
    assert users["carol"]["unknown"] == 1 and users["carol"]["amount"] == 0
    teams = {r["value"]: r["amount"] for r in s["by_tag"]["team"]}
    assert teams == {
        "ml-research": pytest.approx(0.55),
        "data-science": pytest.approx(3.375, abs=1e-3),
    }
    # each unknown says why, and none is a number
    rows = {(r["owner"], r["app_name"]): r for r in s["shutdowns"] if r["ours"]}
    f = rows[("alice-space", "editor")]
    assert f["amount"] is None and f["hours"] == 8.0 and "instance type is unknown" in f["reason"]
    g = rows[("alice-space", "big")]
    assert g["amount"] is None and "no price for ml.p4d.24xlarge" in g["reason"]
    lab = rows[("lab-space", "default")]
    assert lab["amount"] is None and lab["hours"] is None
    assert "deleted or re-created under the same name" in lab["reason"]
    real = [
        r
        for r in s["shutdowns"]
        if r["owner"] == "team-space" and r["deleted_at"] > (now - 3 * h).isoformat()
    ]
    assert [(r["owner"], r["agent"], r["instance_type_source"]) for r in real] == [
        ("team-space", "smstudio-ext", "CreateApp event")
    ]
    assert s["method"] and "8 hours" in s["method"][1]


def test_lookup_throttling_is_retried_and_a_persistent_one_is_unknown(aws, tmp_path):
    world = seed_world(aws, kind="spaces")
    now = clock.utcnow()
    cloudtrail.put_events(
        aws.account_id,
        aws.region,
        [
            cloudtrail.app_event(
                name, now - timedelta(hours=hours), account_id=aws.account_id, region=aws.region,
                domain_id=world.domain_id, app_type="JupyterLab", app_name="default",
                space_name="alice-space", instance_type="ml.t3.medium", user_agent=OURS,
            )
            for name, hours in (("CreateApp", 30), ("DeleteApp", 20), ("CreateApp", 18))
        ],
    )  # fmt: skip
    clients = clients_for(aws)
    slept = []
    # Given CloudTrail throttling twice (botocore does not retry: max_attempts=1)
    aws.fail("LookupEvents", "ThrottlingException", 400, times=2, service="cloudtrail")
    doc, _ = build_report(clients, report_options(world, tmp_path), sleep=slept.append)
    # Then our backoff retried and the figure is whole: 2 h x 0.05
    assert doc["savings"]["status"] == "ok"
    assert doc["savings"]["totals"]["amount"] == pytest.approx(0.10)
    # (botocore's own retry takes one of them: max_attempts counts retries)
    assert doc["scopes"][0]["cloudtrail"]["throttled_retries"] >= 1
    assert any(x >= 1.0 for x in slept)  # our backoff, through the injected sleep
    # Given CloudTrail throttling for good
    aws.fail("LookupEvents", "ThrottlingException", 400, service="cloudtrail")
    doc, _ = build_report(clients, report_options(world, tmp_path), sleep=lambda s: None)
    s = doc["savings"]
    # Then no figure at all, and why
    assert s["status"] == "unknown" and s["totals"]["shutdowns"] == 0
    assert "ThrottlingException" in s["reason"] and "retries" in s["reason"]
    assert doc["headline"]["saved_at_least"] is True


def test_lookup_denied_is_unknown_with_the_action(aws, tmp_path):
    world = seed_world(aws, kind="spaces")
    aws.deny("LookupEvents", service="cloudtrail")
    doc, _ = build_report(clients_for(aws), report_options(world, tmp_path))
    assert doc["savings"]["status"] == "unknown"
    assert "cloudtrail:LookupEvents" in doc["savings"]["reason"]
    # the rest of the report is still there
    assert doc["domains"][0]["summary"]["spaces"] == 2


def test_the_lookups_stay_under_two_per_second(aws, tmp_path):
    # Given more than one page of events per name (50 per page)
    world = seed_world(aws, kind="spaces")
    now = clock.utcnow()
    events = []
    for i in range(200):
        t = now - timedelta(hours=5 * i + 1)
        for name, shift in (("CreateApp", -2), ("DeleteApp", 0)):
            events.append(
                cloudtrail.app_event(
                    name, t + timedelta(hours=shift), account_id=aws.account_id,
                    region=aws.region, domain_id=world.domain_id, app_type="JupyterLab",
                    app_name="default", space_name="alice-space", instance_type="ml.t3.medium",
                    user_agent=OURS,
                )
            )  # fmt: skip
    cloudtrail.put_events(aws.account_id, aws.region, events)
    aws.reset_counts()
    doc, _ = build_report(clients_for(aws), report_options(world, tmp_path, savings_days=30))
    # Then every page was read without one throttle (the emulator answers ThrottlingException
    # above 2 per second), and the pages were followed: 30 days = 144 stops
    ct = doc["scopes"][0]["cloudtrail"]
    assert ct["status"] == "ok" and ct["throttled_retries"] == 0
    assert aws.count("cloudtrail", "LookupEvents") == ct["requests"] >= 4 + 2 * 2
    assert doc["savings"]["totals"]["shutdowns"] == 144


def test_summarize_never_adds_other_currencies():
    from datetime import datetime, timezone

    when = datetime(2026, 11, 3, 12, tzinfo=timezone.utc)
    rows = [
        Shutdown("1", "r", "d-1", "space", "a", "JupyterLab", "default", when, True, "x",
                 hours=2.0, amount=0.1, currency="USD"),
        Shutdown("1", "r", "d-1", "space", "b", "JupyterLab", "default", when, True, "x",
                 hours=2.0, amount=0.2, currency="EUR"),
    ]  # fmt: skip
    s = summarize(rows, "USD", [])
    assert s["totals"]["amount"] == 0.1 and s["totals"]["unknown"] == 1
    assert "priced in EUR" in s["unknown_reasons"][0]["reason"]


def test_agent_labels():
    assert agent_label(OURS) == "smstudio-ext"
    assert agent_label("sagemaker.amazonaws.com") == "AWS service (sagemaker.amazonaws.com)"
    assert agent_label("aws-cli/2.15.0 Python/3.11") == "aws-cli"
    assert agent_label("AWS Internal") == "AWS console/internal"
    assert agent_label("") == "unknown"


def test_the_week_before_the_window_tells_what_an_early_stop_ran_on(aws, tmp_path):
    # Given an app started 30.5 days ago and stopped by us 29 days ago (30-day window), and a
    # stop 31 days ago (before the window: not counted)
    world = seed_world(aws, kind="spaces")
    now, d, h = clock.utcnow(), timedelta(days=1), timedelta(hours=1)
    events = [
        ("CreateApp", now - 34 * d, None),
        ("DeleteApp", now - 31 * d, OURS),
        ("CreateApp", now - 30 * d - 12 * h, None),
        ("DeleteApp", now - 29 * d, OURS),
        ("CreateApp", now - 29 * d + h, None),
    ]
    cloudtrail.put_events(
        aws.account_id,
        aws.region,
        [
            cloudtrail.app_event(
                name, when, account_id=aws.account_id, region=aws.region,
                domain_id=world.domain_id, app_type="JupyterLab", app_name="default",
                space_name="alice-space", instance_type="ml.t3.medium",
                user_agent=agent or "AWS Internal",
            )
            for name, when, agent in events
        ],
    )  # fmt: skip
    doc, _ = build_report(clients_for(aws), report_options(world, tmp_path))
    t = doc["savings"]["totals"]
    # Then one shutdown, 1 h at 0.05, its type read from the CreateApp before the window
    assert (t["shutdowns"], t["known"], t["hours"], t["amount"]) == (1, 1, 1.0, 0.05)
