"""``smstudio insights``: tags, costs and guardrails, as a table or ``--json``.

By default it asks the running Jupyter server (warm caches, and the idle/backup engines feed the
idle and backup checks); with no server, or ``--direct``, it runs the engine in this process.
``--domain`` with ``--user-profile`` or ``--space`` looks at another owner (needs the rights).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from ..errors import BadInput, NotConfigured
from ..insights.config import Insights
from ..insights.engine import PARTS, InsightsEngine
from ..insights.facts import Subject
from .common import Env, examples, print_json, print_table
from .server import server_api

log = logging.getLogger("smstudio_ext")

_MARK = {"pass": "PASS", "fail": "FAIL", "unknown": "????"}


def _subject(args: argparse.Namespace, env: Env) -> Subject | None:
    if not (args.domain or args.user_profile or args.space):
        return None
    if not args.domain:
        raise BadInput("--user-profile/--space need --domain")
    if args.user_profile and args.space:
        raise BadInput("give --user-profile or --space, not both")
    kind = "space" if args.space else ("user-profile" if args.user_profile else None)
    ctx = env.context
    return Subject(
        domain_id=args.domain,
        region=env.aws.region,
        owner_kind=kind,
        owner_name=args.space or args.user_profile,
        account_id=ctx.account_id if ctx.domain_id == args.domain else None,
        caller_user_id=env.section(Insights).caller_user_id or None,
    )


def collect(args: argparse.Namespace) -> dict[str, Any]:
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or any(p not in PARTS for p in parts):
        raise BadInput(f"--parts must be a comma-separated subset of {', '.join(PARTS)}")
    env = Env(args)
    subject = _subject(args, env)
    if subject is None and not args.direct:
        try:
            path = "smstudio/insights?parts=" + ",".join(parts)
            data: dict[str, Any] = server_api("GET", path + ("&refresh=1" if args.refresh else ""))
            return data
        except NotConfigured:
            log.info("smstudio: no running server; computing insights in this process")
    engine = InsightsEngine(env.aws, env.section(Insights), env.context)
    try:
        return engine.collect(subject, refresh=args.refresh, parts=parts)
    finally:
        engine.close()


def _money(value: Any, currency: Any) -> str:
    return "-" if value is None else f"{value:,.2f} {currency or ''}".strip()


def print_insights(data: dict[str, Any]) -> None:
    ctx = data.get("context") or {}
    subject = ctx.get("subject") or {}
    owner = subject.get("owner_name") or ctx.get("owner_name") or "-"
    print(
        f"{subject.get('owner_kind') or ctx.get('owner_kind') or 'local'} {owner} "
        f"in domain {subject.get('domain_id') or ctx.get('domain_id') or '-'} "
        f"({ctx.get('kind', '?')}, {subject.get('region') or ctx.get('region') or '?'})"
    )
    parts = data.get("parts") or {}
    for name, part in parts.items():
        if part.get("status") not in ("ok",):
            print(f"  {name}: {part.get('status')} {part.get('reason') or ''}".rstrip())
        for err in part.get("errors") or []:
            print(f"    - {err.get('detail')}")
    if "tags" in data:
        print("\nTags")
        rows = [
            (
                t["source"],
                t["key"],
                t["value"],
                ",".join(f for f in ("automatic", "user-id") if t[f.replace("-", "_")]) or "",
            )
            for t in data["tags"]
        ]
        print_table(rows, ["SOURCE", "KEY", "VALUE", "FLAGS"])
    if "costs" in data and data["costs"].get("estimate"):
        est, billed = data["costs"]["estimate"], data["costs"]["billed"]
        cur = est.get("currency")
        print(f"\nCosts (estimate, {est.get('status')}, prices: {est.get('price_source') or '-'})")
        print(
            f"  now {_money(est.get('per_hour'), cur)}/h · since start "
            f"{_money(est.get('since_start'), cur)} · today {_money(est.get('today'), cur)}"
            f"  (as of {est.get('as_of') or '-'})"
        )
        totals = est.get("totals") or {}
        if len(totals) > 1:  # never added together: one line per currency
            for currency, total in totals.items():
                print(
                    f"  in {currency}: now {_money(total.get('per_hour'), currency)}/h · since "
                    f"start {_money(total.get('since_start'), currency)} · today "
                    f"{_money(total.get('today'), currency)}"
                )
        if est.get("reason"):
            print(f"  {est['reason']}")
        for note in est.get("notes") or []:  # e.g. why a list price is unknown
            print(f"  note: {note}")
        if est.get("apps"):
            print_table(
                [
                    (
                        a["app_type"],
                        a["app_name"],
                        a["instance_type"],
                        _money(a["per_hour"], a.get("currency") or cur),
                        _money(a["since_start"], a.get("currency") or cur),
                        a["started"],
                    )
                    for a in est["apps"]
                ],
                ["APP TYPE", "APP", "INSTANCE", "PER HOUR", "SINCE START", "STARTED"],
            )
        if billed:
            if billed.get("status") == "ok":
                cur = billed.get("currency")
                print(
                    f"  billed: month to date {_money(billed.get('month_to_date'), cur)} · "
                    f"last month {_money(billed.get('last_month'), cur)} "
                    f"(Cost Explorer, as of {billed.get('as_of')})"
                )
            else:
                print(f"  billed: {billed.get('status')}: {billed.get('reason')}")
    if "guardrails" in data:
        print("\nGuardrails")
        checks = data["guardrails"]
        print_table(
            [(_MARK.get(c["status"], c["status"]), c["id"], c["reason"]) for c in checks],
            ["STATUS", "CHECK", "REASON"],
        )
        for c in checks:
            if c["status"] == "fail":
                print(f"  {c['id']}: fix: {c['fix']}")
        summary = parts.get("guardrails", {}).get("summary")
        if summary:
            print(f"  {summary['pass']} pass, {summary['fail']} fail, {summary['unknown']} unknown")


def insights(args: argparse.Namespace) -> int:
    data = collect(args)
    if args.json:
        print_json(data)
    else:
        print_insights(data)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "insights",
        help="tags, costs and guardrail checks of this profile/space (or another)",
        description="Asks the running Jupyter server (warm caches; the idle and backup checks "
        "need it); with no server, or --direct, computes here. --domain with --user-profile or "
        "--space looks at another owner (needs the rights).",
        epilog=examples(
            "smstudio insights",
            "smstudio insights --parts costs --json",
            "smstudio insights --domain d-abc123 --user-profile alice --direct",
        ),
    )
    p.add_argument("--refresh", action="store_true", help="bypass caches (within a floor)")
    p.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated subset of: " + ", ".join(PARTS),
    )
    p.add_argument(
        "--direct", action="store_true", help="compute here instead of asking the running server"
    )
    p.add_argument("--domain", help="domain id (with --user-profile or --space): another owner")
    p.add_argument("--user-profile", help="user profile name")
    p.add_argument("--space", help="space name")
    p.set_defaults(func=insights)
