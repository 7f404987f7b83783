"""Across accounts: every domain of each account and region, concurrently, under a role assumed
in each; one account's AccessDenied is a line of the report, not a failed run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from report_support import clients_for, report_options

from smstudio_ext import clock
from smstudio_ext.admin.report import build_report, exit_code, render
from smstudio_ext.aws import USER_AGENT
from smstudio_ext.errors import BadInput
from smstudio_ext.testing import cloudtrail, seed_world
from smstudio_ext.testing.accounts import create_member_accounts, in_account

ROLE = "OrganizationAccountAccessRole"


@pytest.fixture
def three_accounts(aws):
    """Accounts a and b with a seeded domain each; c whose audit role does not exist."""
    ids = create_member_accounts(aws, ["a", "b", "c"], role_names={"c": "SomethingElse"})
    worlds = {}
    for name in ("a", "b"):
        worlds[name] = seed_world(in_account(aws, ids[name]), kind="spaces")
    # one of our shutdowns in a: 2 h of alice-space (t3.medium, 0.05)
    now = clock.utcnow()
    w = worlds["a"]
    cloudtrail.put_events(
        ids["a"],
        aws.region,
        [
            cloudtrail.app_event(
                name, now - timedelta(hours=hrs), account_id=ids["a"], region=aws.region,
                domain_id=w.domain_id, app_type="JupyterLab", app_name="default",
                space_name="alice-space", instance_type="ml.t3.medium",
                user_agent=f"Botocore/1 {USER_AGENT}",
            )
            for name, hrs in (("CreateApp", 10), ("DeleteApp", 6), ("CreateApp", 4))
        ],
    )  # fmt: skip
    return ids, worlds


def _check(doc, reports, ids, worlds):
    scopes = {s["account_id"]: s for s in doc["scopes"]}
    # a and b audited, each domain once; c denied, with AWS's reason
    assert scopes[ids["a"]]["status"] == "ok" and scopes[ids["b"]]["status"] == "ok"
    assert [d["domain_id"] for d in scopes[ids["a"]]["domains"]] == [worlds["a"].domain_id]
    assert scopes[ids["c"]]["status"] == "denied"
    assert "sts:AssumeRole" in scopes[ids["c"]]["reason"]
    domains = {(d["account_id"], d["domain_id"]) for d in doc["domains"]}
    assert domains == {(ids[n], worlds[n].domain_id) for n in ("a", "b")}
    # merged: live cost of both accounts (2 x (0.05 + 0.75)), the savings of a
    assert doc["costs"]["live"]["per_hour"] == pytest.approx(1.6)
    assert doc["costs"]["live"]["running_apps"] == 4
    assert doc["savings"]["totals"]["amount"] == pytest.approx(0.10)
    assert doc["savings"]["status"] == "partial" and ids["c"] in doc["savings"]["reason"]
    owners = {r["owner"] for r in doc["savings"]["by_owner"]}
    assert owners == {f"{ids['a']}/{worlds['a'].region}/{worlds['a'].domain_id} space:alice-space"}
    assert doc["headline"]["scopes_not_ok"] == 1
    # the denied account fails a --fail-on unknown run only
    assert exit_code(doc, reports, "unknown") == 1


def test_three_accounts_merge_and_a_denied_one_is_a_line(aws, tmp_path, three_accounts):
    ids, worlds = three_accounts
    opts = report_options(
        None,
        tmp_path,
        accounts=[ids["a"], ids["b"], ids["c"]],
        role_name=ROLE,
        account_concurrency=3,
    )
    doc, reports = build_report(clients_for(aws), opts)
    _check(doc, reports, ids, worlds)
    # every account's requests went through its own assumed role: 3 AssumeRole calls
    assert aws.count("sts", "AssumeRole") == 3
    # the HTML says so at the top, and in the accounts table
    page = render(doc)
    top = page.split('<section id="overview"')[0]
    assert f"account {ids['c']}" in top and "denied" in top
    assert page.count('class="status-denied"') >= 2


def test_org_lists_the_accounts(aws, tmp_path, three_accounts):
    ids, worlds = three_accounts
    opts = report_options(None, tmp_path, org=True, role_name=ROLE)
    doc, reports = build_report(clients_for(aws), opts)
    _check(doc, reports, ids, worlds)
    # the management account (the caller) is audited with its own credentials: no domain there
    own = next(s for s in doc["scopes"] if s["account_id"] == aws.account_id)
    assert own["status"] == "ok" and own["domains"] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"accounts": ["111111111111"]}, "--assume-role-name"),
        ({"accounts": ["12345"], "role_name": ROLE}, "invalid account id"),
        ({"accounts": ["111111111111"], "org": True, "role_name": ROLE}, "not both"),
        ({"regions": ["mars-1"], "domain_id": "d-abc"}, "invalid region"),
        ({"savings_days": 120, "domain_id": "d-abc"}, "90 days"),
        ({"domain_id": None}, "--domain is required"),
    ],
)
def test_bad_input(tmp_path, kwargs, message):
    opts = report_options(None, tmp_path, **kwargs)
    with pytest.raises(BadInput, match=message):
        opts.validate()


def test_a_domain_the_role_may_not_read_is_a_line_too(aws, tmp_path):
    world = seed_world(aws, kind="spaces")
    aws.deny("ListUserProfiles")
    doc, reports = build_report(clients_for(aws), report_options(world, tmp_path))
    scope = doc["scopes"][0]
    assert scope["status"] == "ok" and scope["domains"][0]["status"] == "denied"
    assert "sagemaker:ListUserProfiles" in scope["domains"][0]["reason"]
    assert doc["domains"] == [] and reports == []
    # nothing counted for it is presented as complete
    assert world.domain_id in doc["savings"]["reason"]
    live = doc["costs"]["live"]
    assert live["status"] == "partial" and "could not be read" in live["reason"]
    assert exit_code(doc, reports, "fail") == 0 and exit_code(doc, reports, "unknown") == 1
