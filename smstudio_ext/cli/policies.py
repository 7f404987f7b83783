"""``smstudio policies render``: the IAM policies / SCPs enforcing the Studio guardrails."""

from __future__ import annotations

import argparse
import os

from ..admin.policies import USER_ID_SOURCES, lint_policy, render_policies, write_policies
from ..admin.policy_doc import DEFAULT_TAG_KEY, PARTITION_NAMES, PolicyInputs
from ..aws import partition_of
from .common import examples, make_dir, note, print_json, print_table, show_help


def lint_unavailable() -> str | None:
    """Why the policy lint (parliament, the ``admin`` extra) cannot run here, or None."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # parliament imports pkg_resources (deprecated)
            import parliament  # noqa: F401
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "parliament"
        why = (
            "parliament needs pkg_resources (setuptools<82)"
            if missing == "pkg_resources"
            else f"{missing} is not installed"
        )
        return f"policy lint skipped: {why}; pip install 'smstudio-ext[admin]' for it"
    return None


def _env_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def run_render(args: argparse.Namespace) -> int:
    inputs = PolicyInputs(
        allowed_instance_types=args.allowed_instance_types or [],
        approved_images=args.approved_images or [],
        vpce_ids=args.vpce or [],
        source_ips=args.source_ip or [],
        kms_keys=args.kms_key or [],
        tag_key=args.tag_key,
        user_id_source=args.user_id_source,
        partition=args.partition or partition_of(args.region or _env_region()),
        backup_bucket=args.backup_bucket or "",
        domain_id=args.domain_id or "",
        execution_roles=args.execution_role or [],
        shared_space_role=args.shared_space_role or "",
        backup_kms_key=args.backup_kms_key or "",
    )
    policies, skipped = render_policies(inputs)
    make_dir(args.out, what="--out")
    written = write_policies(policies, skipped, args.out)
    no_lint = None if args.no_lint else lint_unavailable()
    if no_lint:
        note(args, f"note: {no_lint}")
    results = []
    for p in policies:
        findings = None if args.no_lint or no_lint else lint_policy(p.document)
        results.append(
            {
                "name": p.name,
                "file": f"{args.out.rstrip('/')}/{p.name}.json",
                "description": p.description,
                "attach_as": p.attach_as,
                "lint_findings": findings,
            }
        )
    if args.json:
        print_json(
            {
                "policies": results,
                "skipped": skipped,
                "files": [str(w) for w in written],
                "lint": "skipped" if args.no_lint else (no_lint or "ran"),
            }
        )
    else:
        print_table(
            [
                (r["file"], None if f is None else len(f), r["description"])
                for r in results
                for f in [r["lint_findings"]]
            ],
            ["file", "lint", "description"],
        )
        for s in skipped:
            print(f"skipped {s}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "policies",
        help="IAM policies and SCPs enforcing the Studio guardrails",
        epilog=examples("smstudio policies render --out policies/ --vpce vpce-0123"),
    )
    psub = p.add_subparsers(dest="policies_command", metavar="SUBCOMMAND")
    r = psub.add_parser(
        "render",
        help="write one JSON file per policy (+ .meta.json description, README.md) into --out",
        description="Each policy is linted with parliament when the admin extra is installed "
        "(pip install 'smstudio-ext[admin]'); without it the lint is skipped with a note.",
        epilog=examples(
            "smstudio policies render --out policies/ --allowed-instance-types "
            "ml.t3.medium,ml.m5.large --vpce vpce-0123 --source-ip 10.0.0.0/8",
            "smstudio policies render --out policies/ --user-id-source principal-tag --json",
        ),
    )
    r.add_argument("--out", required=True, help="directory to write the policies into")
    r.add_argument(
        "--allowed-instance-types",
        action="append",
        metavar="A,B",
        help="instance types Studio apps may use ('system' is always added); repeatable",
    )
    r.add_argument(
        "--approved-images",
        action="append",
        metavar="ARN,ARN",
        help="approved SageMaker image ARNs",
    )
    r.add_argument("--vpce", action="append", metavar="ID,ID", help="VPC endpoints for Studio URLs")
    r.add_argument(
        "--source-ip", action="append", metavar="CIDR,CIDR", help="IP ranges for Studio URLs"
    )
    r.add_argument(
        "--kms-key", action="append", metavar="ARN,ARN", help="pin the required KMS keys to these"
    )
    r.add_argument(
        "--tag-key", default=DEFAULT_TAG_KEY, help=f"user-id tag key (default {DEFAULT_TAG_KEY})"
    )
    r.add_argument(
        "--user-id-source",
        choices=sorted(USER_ID_SOURCES),
        default="username",
        help="what the user-id tag is compared with: aws:username (IAM users, default) or the "
        "caller's principal tag of the same key (federated sessions)",
    )
    r.add_argument(
        "--partition",
        choices=PARTITION_NAMES,
        help="the domain's partition, used in every ARN the policies write (default: from "
        "--region / AWS_REGION, else aws)",
    )
    b = r.add_argument_group(
        "home-backup confinement (studio-backup-*: each user reads and writes only their own "
        "homes' backups; needs ExecutionRoleIdentityConfig=USER_PROFILE_NAME)"
    )
    b.add_argument(
        "--backup-bucket", metavar="s3://BUCKET[/PREFIX]", help="HomeBackup.bucket of the domain"
    )
    b.add_argument("--domain-id", metavar="d-…", help="the domain whose homes are confined")
    b.add_argument(
        "--execution-role",
        action="append",
        metavar="ARN,ARN",
        help="the execution role(s) users' apps run with; repeatable",
    )
    b.add_argument(
        "--shared-space-role",
        metavar="ARN",
        help="the execution role shared spaces run with (their own: DefaultSpaceSettings)",
    )
    b.add_argument("--backup-kms-key", metavar="ARN", help="HomeBackup.kms_key_id, as a key ARN")
    r.add_argument("--no-lint", action="store_true", help="skip the parliament lint")
    r.set_defaults(func=run_render)
    p.set_defaults(func=show_help(p))
