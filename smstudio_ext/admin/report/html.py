"""The report as one self-contained HTML file: inline CSS and SVG, the data embedded as JSON.

Nothing is loaded from anywhere (no scripts, fonts, images or styles by URL), so the file opens
offline and can be mailed as it is. Every value comes from the report document (``build.py``),
HTML-escaped; the document itself is embedded in ``<script type="application/json"
id="report-data">`` so that what the charts show can be checked against the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from . import charts

CSS = """
:root { color-scheme: light; --fg:#1f2933; --muted:#61707e; --line:#d9e2ec; --card:#f5f7fa;
  --ok:#2e7d32; --bad:#c62828; --warn:#b26a00; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  margin: 0 auto; max-width: 1040px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px;
  border-bottom: 2px solid var(--line); padding-bottom: 4px; } h3 { font-size: 15px; margin: 20px 0 6px; }
.muted { color: var(--muted); } .small { font-size: 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px;
  margin: 16px 0; }
.card { background: var(--card); border-radius: 8px; padding: 12px 14px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 22px; font-weight: 600; margin-top: 2px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--card); font-weight: 600; } td.num, th.num { text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.status-ok, .status-pass { color: var(--ok); } .status-fail, .status-denied, .status-error,
.status-unknown { color: var(--bad); } .status-partial, .status-not_requested { color: var(--warn); }
.note { background: #fff8e1; border-left: 4px solid var(--warn); padding: 8px 12px; margin: 8px 0; }
svg.chart { max-width: 760px; display: block; margin: 8px 0 4px; }
.overview { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 24px; }
.overview figure { margin: 0; } .overview figure.wide { grid-column: 1 / -1; }
.overview figcaption { font-weight: 600; margin-top: 8px; }
@media (max-width: 800px) { .overview { grid-template-columns: 1fr; } }
svg .grid { stroke: #e4e7eb; } svg .axis { stroke: #9aa5b1; }
svg text { font: 11px system-ui, sans-serif; fill: #3e4c59; } svg .unit { font-size: 11px; }
ol.method li { margin: 2px 0; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
"""


def _e(value: Any) -> str:
    return escape("-" if value is None else str(value))


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Sequence[int] = (),
    table_id: str | None = None,
) -> str:
    head = "".join(
        f'<th class="num">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            if i in numeric:
                cells.append(f'<td class="num">{_e(_num(v))}</td>')
            elif isinstance(v, str) and v in (
                "ok",
                "pass",
                "fail",
                "unknown",
                "denied",
                "error",
                "partial",
            ):
                cells.append(f'<td class="status-{v}">{_e(v)}</td>')
            else:
                cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="muted">none</td></tr>')
    ident = f' id="{escape(table_id, quote=True)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _note(status: str | None, reason: str | None) -> str:
    if not reason and status in (None, "ok"):
        return ""
    return f'<div class="note"><b class="status-{_e(status)}">{_e(status)}</b>: {_e(reason)}</div>'


def _card(key: str, value: str, card_id: str) -> str:
    return (
        f'<div class="card" id="{card_id}"><div class="k">{_e(key)}</div>'
        f'<div class="v">{_e(value)}</div></div>'
    )


def _savings(doc: dict[str, Any]) -> str:
    s = doc["savings"]
    cur = doc["currency"]
    out = ['<section id="savings"><h2>What idle shutdown saved</h2>']
    if s.get("status") == "not_requested":
        return out[0] + _note(s["status"], s["reason"]) + "</section>"
    out.append(_note(s["status"], s.get("reason")))
    w = s["window"]
    out.append(
        f'<p class="muted">{_e(w["start"][:10])} to {_e(w["end"][:10])} '
        f"({_e(w['days'])} days), amounts in {_e(cur)}.</p>"
    )
    out.append("<h3>Saved per week (our shutdowns)</h3>")
    out.append(
        table(
            ["week", "shutdowns", "priced", "unknown", "hours avoided", f"saved ({cur})"],
            [
                (r["week"], r["shutdowns"], r["known"], r["unknown"], r["hours"], r["amount"])
                for r in s["by_week"]
            ],
            numeric=(1, 2, 3, 4, 5),
            table_id="table-savings-week",
        )
    )
    t = s["totals"]
    out.append("<h3>Ours and the others'</h3>")
    out.append(
        table(
            ["who", "shutdowns", "priced", "unknown", "hours avoided", f"saved ({cur})"],
            [
                ("smstudio-ext", t["shutdowns"], t["known"], t["unknown"], t["hours"], t["amount"]),
                *[
                    (r["agent"], r["shutdowns"], r["known"], r["unknown"], r["hours"], r["amount"])
                    for r in s["others_by_agent"]
                ],
            ],
            numeric=(1, 2, 3, 4, 5),
            table_id="table-savings-who",
        )
    )
    for key, rows in s["by_tag"].items():
        out.append(f"<h3>Saved per {_e(key)}</h3>")
        out.append(
            table(
                [key, "shutdowns", "unknown", "hours avoided", f"saved ({cur})"],
                [(r["value"], r["shutdowns"], r["unknown"], r["hours"], r["amount"]) for r in rows],
                numeric=(1, 2, 3, 4),
                table_id=f"table-savings-tag-{key}",
            )
        )
    top = doc["options"]["top"]
    out.append(f"<h3>Saved per owner (top {top})</h3>")
    out.append(
        table(
            ["owner", "shutdowns", "unknown", "hours avoided", f"saved ({cur})"],
            [
                (r["owner"], r["shutdowns"], r["unknown"], r["hours"], r["amount"])
                for r in s["by_owner"][:top]
            ],
            numeric=(1, 2, 3, 4),
            table_id="table-savings-owner",
        )
    )
    out.append(f"<h3>Saved per app (top {top})</h3>")
    out.append(
        table(
            ["app", "shutdowns", "unknown", "hours avoided", f"saved ({cur})"],
            [
                (r["app"], r["shutdowns"], r["unknown"], r["hours"], r["amount"])
                for r in s["by_app"][:top]
            ],
            numeric=(1, 2, 3, 4),
        )
    )
    if s["unknown_reasons"]:
        out.append("<h3>Shutdowns with an unknown amount</h3>")
        out.append(
            table(
                ["reason", "shutdowns"],
                [(r["reason"], r["shutdowns"]) for r in s["unknown_reasons"]],
                numeric=(1,),
                table_id="table-savings-unknown",
            )
        )
    out.append('<h3>Method and assumptions</h3><ol class="method">')
    out.extend(f"<li>{_e(m)}</li>" for m in s["method"])
    out.append("</ol></section>")
    return "".join(out)


def _costs(doc: dict[str, Any]) -> str:
    live, billed = doc["costs"]["live"], doc["costs"]["billed"]
    cur, top = live["currency"], doc["options"]["top"]
    out = ['<section id="costs"><h2>Cost per user and team</h2>']
    out.append(
        f"<h3>Now: running apps × hourly price (estimate)</h3>"
        f'<p class="muted">{live["running_apps"]} running app(s), '
        f"{_num(live['per_hour'])} {_e(cur)} per hour in total.</p>"
    )
    out.append(_note(live["status"], live.get("reason")))
    user_key = doc["options"]["user_id_tag_key"]
    for key, rows in live["by_tag"].items():
        items = charts.top_n([(r["value"], r["per_hour"]) for r in rows], top)
        out.append(f"<h3>Per {_e(key)}: {_e(cur)} per hour now (top {top} + rest)</h3>")
        if key != user_key:  # the user chart is in the overview
            out.append(
                charts.bars(f"chart-live-{key}", f"Cost per hour per {key}", items, unit=f"{cur}/h")
            )
        out.append(
            table(
                [key, "running apps", "without price", f"{cur} per hour"],
                [(r["value"], r["apps"], r["unpriced"], r["per_hour"]) for r in rows],
                numeric=(1, 2, 3),
                table_id=f"table-live-{key}",
            )
        )
    out.append("<h3>Billed (Cost Explorer)</h3>")
    if billed["status"] == "not_requested":
        out.append(_note(billed["status"], billed["reason"]))
    for t in billed.get("tables") or []:
        key = t["tag_key"]
        out.append(f"<h3>Billed per {_e(key)} ({_e(t.get('currency') or cur)})</h3>")
        out.append(_note(t["status"], t.get("reason")))
        if t["rows"]:
            items = charts.top_n([(r["value"], r["total"]) for r in t["rows"]], top)
            out.append(
                charts.bars(
                    f"chart-billed-{key}", f"Billed per {key}", items, unit=t.get("currency") or ""
                )
            )
            out.append(
                table(
                    [key, *t["months"], "total"],
                    [
                        (r["value"], *[r["months"][m] for m in t["months"]], r["total"])
                        for r in t["rows"]
                    ],
                    numeric=tuple(range(1, len(t["months"]) + 2)),
                    table_id=f"table-billed-{key}",
                )
            )
    out.append("</section>")
    return "".join(out)


def _compliance(doc: dict[str, Any]) -> str:
    c = doc["compliance"]
    out = ['<section id="compliance"><h2>Compliance over time</h2>']
    out.append(_note(c["status"], c.get("reason")))
    runs = [{**r, "label": r["run_at"][:16].replace("T", " ")} for r in c["totals"]]
    labels = [r["label"] for r in runs]
    out.append("<h3>Per guardrail (pass / fail / unknown)</h3>")
    out.append(
        table(
            ["guardrail", *labels],
            [
                (
                    f"{g['title']} ({g['id']})",
                    *[f"{r['pass']} / {r['fail']} / {r['unknown']}" for r in g["runs"]],
                )
                for g in c["guardrails"]
            ],
            table_id="table-compliance",
        )
    )
    out.append(f"<h3>Owners who changed ({c['changes_total']})</h3>")
    out.append(
        table(
            ["run", "guardrail", "owner", "from", "to"],
            [
                (x["run_at"][:16].replace("T", " "), x["guardrail"], x["owner"], x["from"], x["to"])
                for x in c["changes"]
            ],
            table_id="table-changes",
        )
    )
    out.append("</section>")
    return "".join(out)


def _scopes(doc: dict[str, Any]) -> str:
    rows = []
    for s in doc["scopes"]:
        trail = s.get("cloudtrail") or {}
        domains = ", ".join(f"{d['domain_id']} ({d['status']})" for d in s["domains"]) or "-"
        rows.append(
            (
                s["account_id"],
                s["region"],
                s["status"],
                s.get("reason"),
                domains,
                trail.get("status"),
            )
        )
    summary = [
        (
            d["account_id"],
            d["region"],
            d["domain_id"],
            d["summary"]["profiles"],
            d["summary"]["spaces"],
            d["summary"]["running_apps"],
            d["summary"]["checks"]["fail"],
            d["summary"]["checks"]["unknown"],
        )
        for d in doc["domains"]
    ]
    return (
        '<section id="scopes"><h2>Accounts, regions and domains</h2>'
        + table(
            ["account", "region", "status", "reason", "domains", "CloudTrail"],
            rows,
            table_id="table-scopes",
        )
        + table(
            [
                "account",
                "region",
                "domain",
                "profiles",
                "spaces",
                "running apps",
                "failing",
                "unknown",
            ],
            summary,
            numeric=(3, 4, 5, 6, 7),
            table_id="table-domains",
        )
        + "</section>"
    )


def _overview(doc: dict[str, Any]) -> str:
    """The three charts at a glance; the sections below hold the tables behind them."""
    cur, top = doc["currency"], doc["options"]["top"]
    figures = []
    s = doc["savings"]
    if s.get("by_week") is not None:
        weeks = [(r["week"], r["amount"]) for r in s["by_week"]]
        chart = charts.columns("chart-savings-week", "Saved per week", weeks, unit=cur)
        figures.append(("wide", "Saved per week by our idle shutdown", chart))
    user_key = doc["options"]["user_id_tag_key"]
    rows = doc["costs"]["live"]["by_tag"].get(user_key) or []
    items = charts.top_n([(r["value"], r["per_hour"]) for r in rows], top)
    chart = charts.bars(
        f"chart-live-{user_key}", f"Cost per hour per {user_key}", items, unit=f"{cur}/h", width=480
    )
    figures.append(("half", f"Cost per {user_key} now, {cur}/h (top {top} + rest)", chart))
    runs = [
        {**r, "label": r["run_at"][5:16].replace("T", " ")} for r in doc["compliance"]["totals"]
    ]
    chart = charts.stacked("chart-compliance", "Compliance per run", runs, width=480)
    figures.append(("half", "Compliance per run: owners × guardrails", chart))
    return (
        '<section id="overview" class="overview">'
        + "".join(
            f'<figure class="{size}"><figcaption>{_e(caption)}</figcaption>{svg}</figure>'
            for size, caption, svg in figures
        )
        + "</section>"
    )


def render(
    doc: dict[str, Any], title: str = "SageMaker Studio: savings, costs and compliance"
) -> str:
    """The HTML page for a report document."""
    h, cur = doc["headline"], doc["currency"]
    saved = charts.money(h["saved"], cur)
    if h["saved"] is not None and h["saved_at_least"]:
        saved = "≥ " + saved
    cards = "".join(
        [
            _card("saved by idle shutdown", saved, "card-saved"),
            _card("shutdowns", _num(h["shutdowns"]), "card-shutdowns"),
            _card("hours avoided", _num(h["hours_avoided"], 1), "card-hours"),
            _card("running now", f"{charts.money(h['live_per_hour'], cur)}/h", "card-live"),
            _card(
                "owners passing",
                "-" if h["pass_rate"] is None else f"{h['pass_rate']} %",
                "card-pass",
            ),
        ]
    )
    denied = [s for s in doc["scopes"] if s["status"] != "ok"]
    warning = "".join(
        _note(s["status"], f"account {s['account_id']} ({s['region']}): {s['reason']}")
        for s in denied
    )
    data = json.dumps(doc, sort_keys=True, default=str).replace("</", "<\\/")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><p class="muted">Generated {_e(doc["generated_at"][:19])} UTC '
        f"by {_e(doc['generator'])} · {h['domains']} domain(s) · amounts in {_e(cur)}</p></header>"
        f'<div class="cards">{cards}</div>{warning}'
        + _overview(doc)
        + _savings(doc)
        + _costs(doc)
        + _compliance(doc)
        + _scopes(doc)
        + "<footer>Live costs are estimates (list prices × running time); billed figures come "
        'from Cost Explorer and lag 24-48 h. "unknown" always means can\'t tell, never zero.'
        "</footer>"
        f'<script type="application/json" id="report-data">{data}</script>'
        "</body></html>"
    )
