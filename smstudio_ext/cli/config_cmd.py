"""``smstudio config show``: the effective configuration, as the server would load it."""

from __future__ import annotations

import argparse

from ..aws import Aws
from ..config import config_files, effective_values
from ..context import Studio
from .common import Env, examples, print_json, show_help


def configurables() -> list[type]:
    """Every config section the extension reads (the app's ``classes``)."""
    from ..app import StudioExtensionApp

    return [c for c in StudioExtensionApp.classes if c not in (Studio, Aws)] + [Studio, Aws]


def show(args: argparse.Namespace) -> int:
    env = Env(args)
    values = effective_values(env.section(cls) for cls in configurables())
    files = [str(p) for p in config_files()]
    if args.json:
        print_json({"files": files, "config": values, "context": env.context.to_dict()})
        return 0
    print("# config files, lowest priority first:")
    for path in files or ["(none)"]:
        print(f"#   {path}")
    ctx = env.context
    print(f"# context: {ctx.kind} (metadata {ctx.metadata_status}: {ctx.metadata_path})")
    for section, traits in values.items():
        print(f"[{section}]")
        for name, value in traits.items():
            print(f"  {name} = {value!r}")
    return 0


def context(args: argparse.Namespace) -> int:
    print_json(Env(args).context.to_dict())
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "config",
        help="show the effective configuration",
        epilog=examples("smstudio config show", "smstudio --config extra.json config show --json"),
    )
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    s = csub.add_parser(
        "show",
        help="print every setting and where config is read from",
        description="Every setting of every section as the server would load it (Jupyter's "
        "config files, the extension's own file, SMSTUDIO_* variables, --config last), and the "
        "files it was read from.",
        epilog=examples("smstudio config show", "smstudio config show --json"),
    )
    s.set_defaults(func=show)
    p.set_defaults(func=show_help(p))
    c = sub.add_parser(
        "context",
        help="print where this runs (Studio Classic, spaces or local)",
        description="What the resource metadata says about this app (domain, profile or space, "
        "app type and name, region), as JSON (with or without --json).",
        epilog=examples("smstudio context", "smstudio --metadata /tmp/metadata.json context"),
    )
    c.set_defaults(func=context)
