"""``smstudio lcc render|register|detach``: generated lifecycle configs for Studio apps."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..admin import lcc
from ..errors import BadInput
from .common import Env, duration_arg, examples, note, print_json, show_help, write_file

# durations as flags: 2h30m, 90m, or a bare number of the flag's unit (a whole number of it)
MINUTES = duration_arg("m", "m", integer=True)
HOURS = duration_arg("h", "h", integer=True)
SECONDS = duration_arg("s", "s", integer=True)

# CLI flag dest → LccSettings field (same names); lists are repeatable flags.
SERVER_FLAGS = (
    (
        "--idle-timeout",
        "idle_timeout",
        MINUTES,
        "idle shutdown after this long: 1h30m, 90m or minutes (IdleShutdown)",
    ),
    ("--idle-max-timeout", "idle_max_timeout", MINUTES, "the most a user may set (e.g. 8h)"),
    ("--backup-bucket", "backup_bucket", str, "s3://BUCKET[/prefix] for home backups"),
    ("--kms-key", "kms_key", str, "KMS key id, alias/NAME or ARN for backups"),
    (
        "--backup-interval-hours",
        "backup_interval_hours",
        HOURS,
        "time between backups: 1d, 6h or hours",
    ),
    ("--conda-envs-dir", "conda_envs_dir", str, "where persisted conda envs live (~/…)"),
    (
        "--user-id-tag-key",
        "user_id_tag_key",
        str,
        "profile tag naming the user (e.g. studiouserid)",
    ),
)
SCRIPT_FLAGS = (
    ("--features", "features", str, "comma list of: " + ",".join(lcc.FEATURES)),
    (
        "--wheelhouse",
        "wheelhouse",
        str,
        "install from this S3 prefix made by `smstudio wheelhouse push` (offline)",
    ),
    ("--wheel", "wheel", str, "install from this wheel in S3 (s3://…/smstudio_ext-….whl; offline)"),
    (
        "--pip-spec",
        "pip_spec",
        str,
        "opt-in: install this requirement from your own package index (see --pip-index-url)",
    ),
    ("--python", "python", str, "the Python to install into (default: per app type)"),
    ("--git-user-name", "git_user_name", str, "git user.name (when the user has none)"),
    ("--git-user-email", "git_user_email", str, "git user.email (when the user has none)"),
    ("--git-name-tag", "git_name_tag", str, "profile tag holding the git user name"),
    ("--git-email-tag", "git_email_tag", str, "profile tag holding the git email"),
    ("--http-proxy", "http_proxy", str, "http proxy URL for pip/git/aws in the script"),
    ("--https-proxy", "https_proxy", str, "https proxy URL"),
    ("--no-proxy", "no_proxy", str, "comma list of hosts not to proxy"),
    ("--pip-index-url", "pip_index_url", str, "package index (VpcOnly domains: your mirror)"),
    ("--pip-extra-index-url", "pip_extra_index_url", str, "an extra package index"),
    ("--pip-trusted-host", "pip_trusted_host", str, "host[:port] pip may reach without TLS checks"),
    (
        "--pip-timeout",
        "pip_timeout",
        SECONDS,
        "how long a foreground pip install may take: 2m, 90s or seconds (10-150, default 150)",
    ),
)


def add_server_flags(p: argparse.ArgumentParser) -> None:
    for flag, dest, typ, text in SERVER_FLAGS:
        p.add_argument(flag, dest=dest, type=_typed(typ, flag), help=text)


def _typed(typ: Any, flag: str) -> Any:
    if typ is not int:
        return typ

    def convert(value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes an integer, not {value!r}") from None

    return convert


def add_render_flags(p: argparse.ArgumentParser, *, app_type_required: bool = True) -> None:
    p.add_argument(
        "--app-type",
        choices=lcc.APP_TYPES,
        required=app_type_required,
        help="the Studio app the script runs in",
    )
    p.add_argument(
        "--config",
        dest="settings_file",
        metavar="FILE",
        help="settings file (JSON or YAML) with the same keys as these flags; flags win",
    )
    add_server_flags(p)
    for flag, dest, typ, text in SCRIPT_FLAGS:
        p.add_argument(flag, dest=dest, type=_typed(typ, flag), help=text)
    p.add_argument("--restore", action="store_true", default=None, help="restore an empty home")
    p.add_argument(
        "--strict", action="store_true", default=None, help="fail the app start if a step fails"
    )
    p.add_argument(
        "--git-repo",
        dest="git_repos",
        action="append",
        metavar="URL",
        help="clone once (repeatable)",
    )
    p.add_argument(
        "--extension",
        dest="extensions",
        action="append",
        metavar="NAME==VERSION",
        help="extra pinned package (repeatable)",
    )
    p.add_argument("--no-shellcheck", action="store_true", help="skip the shellcheck run")


def settings_from_args(args: argparse.Namespace) -> lcc.LccSettings:
    base = (
        lcc.load_settings_file(args.settings_file)
        if getattr(args, "settings_file", None)
        else lcc.LccSettings()
    )
    names = [d for _, d, _, _ in SERVER_FLAGS + SCRIPT_FLAGS] + [
        "app_type",
        "restore",
        "strict",
        "git_repos",
        "extensions",
    ]
    overrides = {n: getattr(args, n, None) for n in names}
    features = overrides.get("features")
    if isinstance(features, str):
        overrides["features"] = [f for f in features.split(",") if f.strip()]
    return base.merged(overrides)


def render_checked(args: argparse.Namespace) -> lcc.RenderedLcc:
    rendered = lcc.render(settings_from_args(args))
    if not args.no_shellcheck and lcc.shellcheck_path():
        findings = lcc.shellcheck(rendered.script)
        if findings:
            raise BadInput("the rendered script is not shellcheck-clean:\n" + "\n".join(findings))
    return rendered


def _report(rendered: lcc.RenderedLcc, args: argparse.Namespace) -> None:
    for text in rendered.notes:
        note(args, f"note: {text}")
    note(args, rendered.summary())


def render_cmd(args: argparse.Namespace) -> int:
    rendered = render_checked(args)
    if args.out:
        write_file(args.out, rendered.script)
    if args.json:
        print_json(
            {
                "script": rendered.script,
                "out": args.out,
                "notes": rendered.notes,
                "summary": rendered.summary(),
            }
        )
        return 0
    if args.out:
        note(args, f"wrote {args.out}")
    else:
        sys.stdout.write(rendered.script)
    _report(rendered, args)
    return 0


def _print_plan(plan: lcc.Plan, args: argparse.Namespace, label: str = "lifecycle config") -> None:
    if args.json:
        print_json(plan.to_dict())
        return
    if args.quiet:
        if plan.name:
            print(f"{plan.name} {plan.arn or ''}".rstrip())
        return
    head = "dry run: would call" if plan.dry_run else "called"
    for call in plan.calls:
        params = dict(call.params)
        if "StudioLifecycleConfigContent" in params:
            params["StudioLifecycleConfigContent"] = (
                f"<base64, {len(params['StudioLifecycleConfigContent'])} characters>"
            )
        print(f"{head} {call.operation} {json.dumps(params, sort_keys=True, default=str)}")
    for text in plan.notes:
        print(f"note: {text}")
    if plan.name:
        print(f"{label}: {plan.name} {plan.arn or ''}".rstrip())


def register_cmd(args: argparse.Namespace) -> int:
    rendered = render_checked(args)
    if not args.json:
        _report(rendered, args)
    plan = lcc.register(
        Env(args).aws,
        rendered,
        domain=args.domain,
        name=args.name,
        profile=args.user_profile,
        space=args.space,
        shared_spaces=args.shared_spaces,
        default=args.default,
        built_in=args.built_in,
        dry_run=args.dry_run,
    )
    _print_plan(plan, args)
    return 0


def detach_cmd(args: argparse.Namespace) -> int:
    plan = lcc.detach(
        Env(args).aws,
        domain=args.domain,
        app_type=args.app_type,
        name=args.name,
        profile=args.user_profile,
        space=args.space,
        shared_spaces=args.shared_spaces,
        delete=args.delete,
        dry_run=args.dry_run,
    )
    _print_plan(plan, args)
    return 0


def _target_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--domain", required=True, help="domain id (d-…)")
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--user-profile",
        metavar="NAME",
        help="this user profile instead of the domain's defaults (--profile is the AWS profile)",
    )
    who.add_argument("--space", help="this space instead of the domain's defaults")
    who.add_argument(
        "--shared-spaces",
        action="store_true",
        help="the domain's DefaultSpaceSettings (shared spaces) instead of DefaultUserSettings "
        "(profiles and their private spaces)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the API calls, change nothing")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "lcc",
        help="render and register lifecycle configs",
        description="Lifecycle configs for JupyterLab spaces, and for Studio Classic's "
        "JupyterServer/KernelGateway apps (legacy: closed to new onboarding).",
        epilog=examples(
            "smstudio lcc render --app-type JupyterLab --idle-timeout 1h "
            "--wheelhouse s3://corp-wheels/smstudio",
            "smstudio lcc register --domain d-abc123 --name smstudio --app-type JupyterLab "
            "--wheelhouse s3://corp-wheels/smstudio --built-in --dry-run",
            "smstudio lcc detach --domain d-abc123 --name smstudio --app-type JupyterLab",
        ),
    )
    lsub = p.add_subparsers(dest="lcc_command", metavar="ACTION")

    r = lsub.add_parser(
        "render",
        help="print a lifecycle script (size and headroom on stderr)",
        epilog=examples(
            "smstudio lcc render --app-type JupyterLab --idle-timeout 2h30m "
            "--backup-bucket s3://corp-backups/homes --wheelhouse s3://corp-wheels/smstudio",
            "smstudio lcc render --app-type JupyterLab --config settings.yaml --out lcc.sh",
            "smstudio lcc render --app-type JupyterLab --wheelhouse s3://corp-wheels/smstudio "
            "--json",
        ),
    )
    add_render_flags(r)
    r.add_argument("--out", metavar="FILE", help="write the script here instead of stdout")
    r.set_defaults(func=render_cmd)

    g = lsub.add_parser(
        "register",
        help="create the config (versioned name) and attach it in place of our older versions",
        description="Creates NAME-<hash> and attaches it, replacing older versions of ours "
        "(same NAME, carrying our tag or marker) and keeping every other config. How it runs: "
        "--built-in (JupyterLab/CodeEditor; always runs, resolved from the domain or profile at "
        "each launch: upgrades reach existing spaces), --default (pre-selected for new spaces, "
        "which keep it: an upgrade does not reach existing spaces), or neither (listed: runs "
        "only when a user picks it). JupyterServer and KernelGateway are Studio Classic "
        "(legacy, closed to new onboarding).",
        epilog=examples(
            "smstudio lcc register --domain d-abc123 --name smstudio --app-type JupyterLab "
            "--wheelhouse s3://corp-wheels/smstudio --built-in --dry-run",
            "smstudio lcc register --domain d-abc123 --user-profile alice --name smstudio "
            "--app-type JupyterLab --wheelhouse s3://corp-wheels/smstudio --default",
        ),
    )
    add_render_flags(g)
    _target_flags(g)
    g.add_argument("--name", required=True, help="base name; a content hash is appended")
    how = g.add_mutually_exclusive_group()
    how.add_argument(
        "--default", action="store_true", help="also make it the default config (new spaces)"
    )
    how.add_argument(
        "--built-in",
        action="store_true",
        help="make it the built-in config (JupyterLab/CodeEditor): runs at every start",
    )
    g.set_defaults(func=register_cmd)

    d = lsub.add_parser(
        "detach",
        help="detach a config (by base name, name or ARN)",
        epilog=examples(
            "smstudio lcc detach --domain d-abc123 --name smstudio --app-type JupyterLab",
            "smstudio lcc detach --domain d-abc123 --space team --name smstudio "
            "--app-type JupyterLab --delete --dry-run",
        ),
    )
    d.add_argument(
        "--app-type",
        choices=lcc.APP_TYPES,
        required=True,
        help="JupyterLab, or JupyterServer/KernelGateway (Studio Classic, legacy)",
    )
    _target_flags(d)
    d.add_argument("--name", required=True, help="base name, full name or ARN")
    d.add_argument("--delete", action="store_true", help="also delete the detached configs")
    d.set_defaults(func=detach_cmd)
    p.set_defaults(func=show_help(p))
