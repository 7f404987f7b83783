"""``smstudio domain export|import``: move a domain's profiles and spaces to another domain."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..admin.copy_plan import copy_plan_script
from ..admin.domain import export_domain, import_domain, load_manifest
from ..errors import BadInput
from .common import Env, examples, note, print_json, print_table, quiet, show_help, write_file


def run_export(args: argparse.Namespace) -> int:
    env = Env(args)
    manifest = export_domain(env.aws, args.domain)
    text = json.dumps(manifest, indent=2, default=str) + "\n"
    if args.out:
        write_file(args.out, text)
        summary = (
            f"exported {len(manifest['profiles'])} profile(s) and {len(manifest['spaces'])} "
            f"space(s) of {args.domain} to {args.out}"
        )
        if args.json:
            print_json(
                {
                    "out": args.out,
                    "domain_id": args.domain,
                    "profiles": len(manifest["profiles"]),
                    "spaces": len(manifest["spaces"]),
                }
            )
        else:
            note(args, summary)
    else:
        sys.stdout.write(text)  # the manifest is JSON already (--json changes nothing)
    return 0


def run_import(args: argparse.Namespace) -> int:
    env = Env(args)
    manifest = load_manifest(args.manifest)
    for out in (args.uid_map_out, args.copy_plan_out):
        if out and not Path(out).parent.is_dir():
            raise BadInput(f"directory {Path(out).parent} does not exist")
    result = import_domain(
        env.aws,
        manifest,
        args.domain,
        dry_run=args.dry_run,
        progress=None if quiet(args) else (lambda msg: print(msg, file=sys.stderr)),
    )
    source = (manifest.get("source") or {}).get("domain_id", "")
    if not args.dry_run:
        if args.uid_map_out:
            write_file(
                args.uid_map_out,
                json.dumps(result.uid_map, indent=2) + "\n",
                what="--uid-map-out",
            )
        if args.copy_plan_out:
            write_file(
                args.copy_plan_out,
                copy_plan_script(result.uid_map, source=source, target=args.domain, via=args.via),
                what="--copy-plan-out",
                mode=0o755,
            )
    if args.json:
        print_json(result.to_dict())
        return 0
    verb = "would call" if args.dry_run else "called"
    print_table(
        [(c.operation, c.target, json.dumps(c.params, sort_keys=True)) for c in result.plan.calls],
        ["operation", "target", "parameters"],
    )
    print(
        f"{verb} {len(result.plan.calls)} create(s); skipped {len(result.plan.skipped)} "
        "identical existing item(s)"
    )
    for w in result.plan.warnings:
        print(f"warning: {w}")
    for n in result.plan.notes:
        print(f"note: {n}")
    if args.dry_run:
        print("dry run: nothing was created; no UID map or copy plan written")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "domain",
        help="export a domain's profiles/spaces, import them elsewhere",
        epilog=examples(
            "smstudio domain export --domain d-old --out manifest.json",
            "smstudio domain import --manifest manifest.json --domain d-new --dry-run",
        ),
    )
    dsub = p.add_subparsers(dest="domain_command", metavar="SUBCOMMAND")
    e = dsub.add_parser(
        "export",
        help="write the manifest of a domain's profiles and spaces",
        epilog=examples(
            "smstudio domain export --domain d-old --out manifest.json",
            "smstudio domain export --domain d-old > manifest.json",
        ),
    )
    e.add_argument("--domain", required=True, help="domain id (d-...)")
    e.add_argument("--out", help="manifest file (default: stdout)")
    e.set_defaults(func=run_export)
    i = dsub.add_parser(
        "import",
        help="create the manifest's profiles/spaces in a domain (create-or-skip)",
        epilog=examples(
            "smstudio domain import --manifest manifest.json --domain d-new --dry-run",
            "smstudio domain import --manifest manifest.json --domain d-new "
            "--uid-map-out uids.json --copy-plan-out copy-homes.sh",
        ),
    )
    i.add_argument("--manifest", required=True, help="manifest written by domain export")
    i.add_argument("--domain", required=True, help="target domain id (d-...)")
    i.add_argument("--dry-run", action="store_true", help="show the calls, make none")
    i.add_argument("--uid-map-out", help="write the old UID -> new UID map (JSON) here")
    i.add_argument("--copy-plan-out", help="write the home copy plan (bash script) here")
    i.add_argument(
        "--via",
        choices=("efs", "s3"),
        default="efs",
        help="copy plan route for homes on the domain's EFS volume (profiles, Classic spaces): "
        "EFS to EFS on a host mounting both (default) or S3 via smstudio backup snapshots; "
        "JupyterLab and Code Editor space homes (EBS) always go through S3",
    )
    i.set_defaults(func=run_import)
    p.set_defaults(func=show_help(p))
