"""``smstudio audit --report``: the CLI door, and the HTML page (self-contained, escaped, the
same numbers as ``--json``)."""

from __future__ import annotations

import json
import re

import pytest

from smstudio_ext.admin.report import render
from smstudio_ext.admin.report.charts import nice_ticks, top_n
from smstudio_ext.cli import main
from smstudio_ext.testing import seed_world


@pytest.fixture
def cli(aws, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    world = seed_world(aws, kind="spaces")
    sm = aws.client("sagemaker")
    arn = f"arn:aws:sagemaker:{aws.region}:{aws.account_id}:user-profile/{world.domain_id}/bob"
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "vision"}])
    base = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
    audit = [*base, "audit", "--domain", world.domain_id, "--max-rps", "200", "--no-prices"]
    return world, audit


def test_report_html_and_json_carry_the_same_data(cli, tmp_path, capsys):
    world, audit = cli
    out = tmp_path / "report.html"
    hist = tmp_path / "history"
    code = main(
        [*audit, "--report", str(out), "--cost-tag", "team", "--history", str(hist), "--json"]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1  # the seeded apps started without our LCC, as in the plain audit
    assert (
        data["kind"] == "smstudio-audit-report"
        and data["domains"][0]["domain_id"] == world.domain_id
    )
    page = out.read_text()
    # self-contained: no URL is loaded (only the SVG namespace appears)
    urls = set(re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page))
    assert urls == set()
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)
    assert "vision" in page
    embedded = json.loads(
        page.split('<script type="application/json" id="report-data">')[1]
        .split("</script>")[0]
        .replace("<\\/", "</")
    )
    for key in ("savings", "costs", "compliance", "headline", "scopes"):
        assert embedded[key] == data[key], key
    assert len(list(hist.iterdir())) == 1
    # every value is escaped: AWS refuses "<" in tags, but reasons and names come from outside
    evil = "<script>alert(1)</script>"
    data["costs"]["live"]["by_tag"]["team"][0]["value"] = evil
    data["scopes"][0]["status"], data["scopes"][0]["reason"] = "denied", evil
    page = render(data)
    assert evil not in page.split('id="report-data">')[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<\\/script>" in page.split('id="report-data">')[1]  # the JSON can't end the block
    # the text summary names the report
    code = main([*audit, "--report", str(out)])
    text = capsys.readouterr().out
    assert "saved by idle shutdown" in text and f"report written to {out}" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--report", "x.pdf"], "must name an .html file"),
        (["--report", "/nonexistent-dir/r.html"], "does not exist"),
        (["--report", "r.html", "--savings-days", "120"], "90"),
        (["--report", "r.html", "--working-day-hours", "0"], "working-day-hours"),
        (["--accounts", "123"], "assume-role-name"),
        (["--report", "r.html", "--history", "s3://"], "invalid S3 location"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, capsys, extra, message, tmp_path, monkeypatch):
    _, audit = cli
    monkeypatch.chdir(tmp_path)
    code = main([*audit, *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_chart_helpers():
    assert nice_ticks(3.925) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert nice_ticks(0) == [0.0, 1.0]
    assert top_n([("a", 1), ("b", 5), ("c", 2), ("d", 0.5)], 2) == [
        ("b", 5),
        ("c", 2),
        ("rest (2)", 1.5),
    ]
