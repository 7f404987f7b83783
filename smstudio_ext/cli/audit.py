"""``smstudio audit --domain D``: LCC, guardrails, idle, running apps and cost for a domain."""

from __future__ import annotations

import argparse

from traitlets import TraitError

from .. import __version__
from ..admin.audit import AuditOptions, AuditReport, exit_code, run_audit
from ..errors import BadInput
from ..insights.config import Insights
from .audit_report import add_report_flags, report_requested, run_report
from .common import Env, examples, print_json, print_table
from .progress import Progress


def _list(values: list[str] | None) -> list[str]:
    return [x.strip() for v in values or [] for x in v.split(",") if x.strip()]


def insights_config(env: Env, args: argparse.Namespace) -> Insights:
    """The ``Insights`` section (config file, env) with this command's overrides."""
    config = env.section(Insights)
    try:
        if args.tag_key:
            config.user_id_tag_key = args.tag_key
        if args.allowed_instance_types:
            config.allowed_instance_types = _list(args.allowed_instance_types)
        if args.approved_images:
            config.approved_images = _list(args.approved_images)
        if args.disable_check:
            config.disabled_checks = [*config.disabled_checks, *_list(args.disable_check)]
    except TraitError as exc:
        raise BadInput(str(exc)) from exc
    return config


def audit_options(
    env: Env, args: argparse.Namespace, progress: Progress, domain_id: str
) -> AuditOptions:
    """The audit's options from the command line (the plain audit and the report share them)."""
    return AuditOptions(
        domain_id=domain_id,
        concurrency=args.concurrency,
        max_rps=args.max_rps,
        lcc_prefix=args.lcc_prefix,
        include_prices=not args.no_prices,
        insights=insights_config(env, args),
        progress=progress,
    )


def run(args: argparse.Namespace) -> int:
    env = Env(args)
    if report_requested(args):
        return run_report(env, args)
    if not args.domain:
        raise BadInput("--domain is required (or --accounts/--org to audit every domain)")
    if args.fail_on not in ("fail", "unknown"):  # argparse choices guard this; keep engines honest
        return 2
    with Progress(args) as progress:
        options = audit_options(env, args, progress, args.domain)
        options.validate()
        report = run_audit(env.aws, options)
    if args.json:
        print_json({"smstudio_version": __version__, **report.to_dict(args.fail_on)})
        return exit_code(report, args.fail_on)
    s = report.summary()
    print(
        f"domain {report.domain_id}: {s['profiles']} profile(s), {s['spaces']} space(s) "
        f"(smstudio-ext {__version__})"
    )
    print(
        f"our LCC attached: {s['with_our_lcc']} (versions {s['lcc_versions'] or '-'}); "
        f"idle shutdown active: {s['idle_shutdown_active']}"
    )
    sources = ", ".join(f"{k} x{v}" for k, v in s["price_sources"].items()) or "-"
    totals = s["estimated_cost_per_hour_by_currency"] or {"USD": 0.0}
    cost = " + ".join(f"{v:.2f} {k}/h" for k, v in totals.items())
    cost += f" (estimate, prices: {sources}"
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
    _print_rollout(report)
    _print_migration(report)
    failing = report.failing(args.fail_on)
    if failing:
        print()
        print_table(
            [(f["where"], f["id"], f["status"], f["severity"], f["reason"]) for f in failing],
            ["where", "check", "status", "severity", "reason"],
        )
    return exit_code(report, args.fail_on)


def _print_rollout(report: AuditReport) -> None:
    """Per space/profile: where our config sits (built-in, default, listed) and which version
    the extension last recorded running there."""
    rows = []
    notes = []
    for o in report.owners:
        r = o.rollout
        if not r:
            continue
        where = f"{o.kind}:{o.name}"
        runs = r.get("runs") or {}
        rows.append(
            (
                where,
                r["app_type"],
                r["mode"],
                runs.get("name"),
                r.get("configured_version"),
                r.get("seen_version"),
                r.get("seen_at"),
                r["state"],
            )
        )
        notes += [f"note: {where}: {n}" for n in r.get("notes") or []]
        if r.get("seen_error"):
            notes.append(f"note: {where}: last seen version unknown: {r['seen_error']}")
    if not rows:
        return
    print()
    print("rollout: our lifecycle config (built-in runs always; default: new spaces keep it;")
    print("listed: runs if picked) and the version the extension last recorded running")
    print_table(rows, ["where", "app", "mode", "config", "configured", "seen", "seen at", "state"])
    for note in notes:
        print(note)


def _print_migration(report: AuditReport) -> None:
    items = [f"domain: {i}" for i in report.domain_migration]
    items += [f"{o.kind}:{o.name}: {i}" for o in report.owners for i in o.migration]
    if items:
        print()
        print(
            f"migration: Studio Classic is legacy (closed to new onboarding), {len(items)} item(s)"
        )
        for item in items:
            print(f"  {item}")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="audit every profile and space of a domain (exit 1 when checks fail)",
        description="Per profile and space: our lifecycle config (built-in, default or listed) "
        "and the version the extension last recorded running, guardrails, idle shutdown, "
        "running apps and their cost; Studio Classic use (legacy) as migration items. A big "
        "domain takes minutes: progress goes to stderr (-q: none). "
        "Exit codes: 0 nothing failing, 1 a check of the --fail-on severity failed, "
        ">1 the audit itself could not run (see smstudio --help).",
        epilog=examples(
            "smstudio audit --domain d-abc123",
            "smstudio audit --domain d-abc123 --json --fail-on unknown > audit.json",
            "smstudio audit --domain d-abc123 --report report.html --cost-tag team "
            "--history s3://corp-audits/studio",
            "smstudio --profile org-admin audit --org --assume-role-name "
            "OrganizationAccountAccessRole --regions us-east-1,eu-west-1 --report report.html",
        ),
    )
    p.add_argument(
        "--domain", help="domain id (d-...); optional with --accounts/--org (every domain)"
    )
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
        "--allowed-instance-types",
        action="append",
        metavar="A,B",
        help="override Insights.allowed_instance_types",
    )
    p.add_argument(
        "--approved-images",
        action="append",
        metavar="A,B",
        help="override Insights.approved_images",
    )
    p.add_argument(
        "--disable-check", action="append", metavar="ID,ID", help="add to Insights.disabled_checks"
    )
    p.add_argument("--lcc-prefix", default="smstudio-", help="name prefix of our lifecycle configs")
    p.add_argument("--tag-key", default=None, help="override Insights.user_id_tag_key")
    p.add_argument(
        "--no-prices",
        action="store_true",
        help="skip the Pricing API (admin price file, disk cache and bundled table only)",
    )
    add_report_flags(p)
    p.set_defaults(func=run)
