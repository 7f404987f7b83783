"""``smstudio audit --domain D``: LCC, guardrails, idle, running apps and cost for a domain."""

from __future__ import annotations

import argparse

from ..admin.audit import AuditOptions, exit_code, run_audit
from .common import Env, add_json_flag, print_json, print_table


def _list(values: list[str] | None) -> list[str]:
    return [x.strip() for v in values or [] for x in v.split(",") if x.strip()]


def run(args: argparse.Namespace) -> int:
    env = Env(args)
    options = AuditOptions(
        domain_id=args.domain,
        concurrency=args.concurrency,
        max_rps=args.max_rps,
        lcc_prefix=args.lcc_prefix,
        tag_key=args.tag_key,
        allowed_instance_types=_list(args.allowed_instance_types),
        include_prices=not args.no_prices,
    )
    options.validate()
    if args.fail_on not in ("fail", "unknown"):  # argparse choices guard this; keep engines honest
        return 2
    report = run_audit(env.aws, options)
    if args.json:
        print_json(report.to_dict(args.fail_on))
        return exit_code(report, args.fail_on)
    s = report.summary()
    print(f"domain {report.domain_id}: {s['profiles']} profile(s), {s['spaces']} space(s)")
    print(
        f"our LCC attached: {s['with_our_lcc']} (versions {s['lcc_versions'] or '-'}); "
        f"idle shutdown active: {s['idle_shutdown_active']}"
    )
    cost = f"{s['estimated_cost_per_hour']:.2f} USD/h (list-price estimate"
    cost += ")" if s["cost_complete"] else ", some prices unknown)"
    print(
        f"running apps: {s['running_apps']}, estimated {cost}; extension reachable "
        f"{s['extension_reachable']}, unreachable from here {s['extension_unreachable']}"
    )
    c = s["checks"]
    print(f"checks: {c['pass']} pass, {c['fail']} fail, {c['unknown']} unknown")
    print(
        f"{s['requests']} AWS requests in {s['elapsed_seconds']} s "
        f"({s['requests_per_second']}/s, limit {s['max_rps']}/s)"
    )
    failing = report.failing(args.fail_on)
    if failing:
        print()
        print_table(
            [(f["where"], f["id"], f["status"], f["severity"], f["reason"]) for f in failing],
            ["where", "check", "status", "severity", "reason"],
        )
    return exit_code(report, args.fail_on)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="audit every profile and space of a domain (exit 1 when checks fail)",
        description="Exit codes: 0 nothing failing, 1 a check of the --fail-on severity failed, "
        ">1 the audit itself could not run.",
    )
    p.add_argument("--domain", required=True, help="domain id (d-...)")
    p.add_argument(
        "--fail-on",
        choices=("fail", "unknown"),
        default="fail",
        help="exit 1 on failing checks (default), or on failing and unknown ones",
    )
    p.add_argument("--concurrency", type=int, default=8, help="parallel workers (1-64, default 8)")
    p.add_argument(
        "--max-rps", type=float, default=20.0, help="AWS requests per second at most (default 20)"
    )
    p.add_argument(
        "--allowed-instance-types", action="append", metavar="A,B", help="check running apps"
    )
    p.add_argument("--lcc-prefix", default="smstudio-", help="name prefix of our lifecycle configs")
    p.add_argument("--tag-key", default="studiouserid", help="the user-id tag key")
    p.add_argument("--no-prices", action="store_true", help="skip the Pricing API")
    add_json_flag(p)
    p.set_defaults(func=run)
