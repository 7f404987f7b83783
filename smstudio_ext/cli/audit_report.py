"""``smstudio audit --report FILE.html`` and the flags of the report (savings, costs per user and
team, compliance history, many accounts). The engine is ``smstudio_ext.admin.report``."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import BadInput
from .common import DAYS, HOURS, Env, print_json, print_table, write_file
from .progress import Progress

REPORT_FLAGS = ("report", "accounts", "org", "history", "billed")


def report_requested(args: argparse.Namespace) -> bool:
    """A report is built when asked for (--report) or implied (accounts, history, billed)."""
    return any(getattr(args, name, None) for name in REPORT_FLAGS)


def add_report_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("report (savings, cost per user/team, compliance over time)")
    g.add_argument("--report", metavar="FILE.html", help="write the report as one HTML file")
    g.add_argument(
        "--savings-days",
        type=DAYS,
        default=30.0,
        help="CloudTrail history to count shutdowns in: 2w, 30d or days (max 90, default 30)",
    )
    g.add_argument(
        "--working-day-hours",
        type=HOURS,
        default=8.0,
        help="cap of the time one shutdown avoids: 7h30m or hours (default 8: a working day)",
    )
    g.add_argument("--no-savings", action="store_true", help="skip CloudTrail (no savings section)")
    g.add_argument(
        "--cost-tag",
        action="append",
        metavar="KEY",
        help="attribute costs and savings to this tag too (team, project); repeatable",
    )
    g.add_argument(
        "--billed",
        action="store_true",
        help="billed cost per tag from Cost Explorer (USD 0.01 per request)",
    )
    g.add_argument(
        "--history",
        metavar="DIR|s3://BUCKET/PREFIX",
        help="write this run's result there and show the compliance trend of past runs",
    )
    g.add_argument("--history-runs", type=int, default=12, help="runs in the trend (default 12)")
    g.add_argument("--top", type=int, default=10, help="top N owners/tag values (default 10)")
    g.add_argument(
        "--accounts", action="append", metavar="A,B", help="audit every domain of these accounts"
    )
    g.add_argument(
        "--org", action="store_true", help="audit every active account of the organization"
    )
    g.add_argument(
        "--assume-role-name",
        metavar="ROLE",
        help="role to assume in each account (--accounts/--org)",
    )
    g.add_argument(
        "--regions", action="append", metavar="R1,R2", help="regions to audit (default: current)"
    )
    g.add_argument(
        "--account-concurrency",
        type=int,
        default=4,
        help="accounts and regions audited at once (default 4)",
    )


def run_report(env: Env, args: argparse.Namespace) -> int:
    from ..admin.report import ReportOptions, build_report, exit_code, render
    from .audit import _list, audit_options  # (audit imports this module)

    if args.report and not args.report.endswith((".html", ".htm")):
        raise BadInput(f"--report must name an .html file, got {args.report!r}")
    if args.report and not os.path.isdir(os.path.dirname(os.path.abspath(args.report))):
        raise BadInput(f"--report: directory {os.path.dirname(args.report)} does not exist")
    progress = Progress(args)
    options = ReportOptions(
        audit=audit_options(env, args, progress, args.domain or "d-x"),
        domain_id=args.domain,
        accounts=_list(args.accounts),
        org=args.org,
        role_name=args.assume_role_name,
        regions=_list(args.regions),
        savings_days=args.savings_days,
        working_day_hours=args.working_day_hours,
        tag_keys=_list(args.cost_tag),
        billed=args.billed,
        history=args.history,
        history_runs=args.history_runs,
        top=args.top,
        account_concurrency=args.account_concurrency,
        savings=not args.no_savings,
    )
    options.validate()
    with progress:
        doc, reports = build_report(env.aws, options)
    if args.report:
        write_file(args.report, render(doc), what="--report")  # atomic: never half a report
    code = exit_code(doc, reports, args.fail_on)
    if args.json:
        print_json(doc)  # its "generator" names this version
        return code
    h, cur = doc["headline"], doc["currency"]
    saved = "unknown" if h["saved"] is None else f"{h['saved']:.2f} {cur}"
    if h["saved"] is not None and h["saved_at_least"]:
        saved = "at least " + saved
    print(
        f"{h['domains']} domain(s); saved by idle shutdown: {saved} "
        f"({h['shutdowns'] or 0} shutdown(s), {h['hours_avoided'] or 0:.1f} h avoided, "
        f"last {options.savings_days:g} days)"
    )
    print(
        f"running now: {h['running_apps']} app(s), {h['live_per_hour']:.2f} {cur}/h (estimate); "
        f"owners passing: {'-' if h['pass_rate'] is None else str(h['pass_rate']) + ' %'}"
    )
    if doc["savings"].get("reason"):
        print(f"savings: {doc['savings']['status']}: {doc['savings']['reason']}", file=sys.stderr)
    rows = [
        (s["account_id"], s["region"], s["status"], s.get("reason") or "-")
        for s in doc["scopes"]
        if s["status"] != "ok"
    ]
    if rows:
        print()
        print_table(rows, ["account", "region", "status", "reason"])
    if args.report:
        print(f"report written to {args.report}")
    return code
