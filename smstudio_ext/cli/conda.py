"""``smstudio conda ...``: persisted environments (create, list, export, recreate, rm, sync)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from ..conda.config import CondaEnvs
from ..conda.document import envs_document
from ..conda.kernelspecs import KernelspecSync
from ..conda.manage import CondaManager
from ..units import format_bytes
from .common import Env, examples, info, note, print_json, print_table, quiet


def _manager(args: argparse.Namespace, kernels_dir: str | None = None) -> CondaManager:
    cfg = Env(args).section(CondaEnvs)
    if getattr(args, "envs_dir", None):
        cfg.envs_dir = args.envs_dir
    if kernels_dir:
        cfg.kernelspec_dir = kernels_dir
    return CondaManager(cfg)


def _echo(args: argparse.Namespace) -> Callable[[str], None]:
    """Where the conda tool's own output goes: stderr, or nowhere with -q."""
    if quiet(args):
        return lambda _text: None
    return lambda text: print(text, file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    manager = _manager(args)
    doc = envs_document(manager, sizes=not args.no_size)  # GET smstudio/conda/envs's document
    if args.json:
        print_json(doc)
        return 0
    # broken envs are reported by the engine's log (a warning on stderr)
    envs = doc["envs"]
    if not envs:
        info(args, f"no persisted envs in {manager.envs_dir}")
    else:
        rows = [
            (
                e["name"],
                e["python_version"] or e["r_version"],
                format_bytes(e["size_bytes"]) if e["size_bytes"] is not None else None,
                ", ".join(e["kernels"]) if e["kernels"] else f"none: {e['reason']}",
                e["path"],
            )
            for e in envs
        ]
        print_table(rows, ["NAME", "VERSION", "SIZE", "KERNEL", "PATH"])
        for e in envs:
            if e["fix"]:
                info(args, f"to give {e['name']} a kernel: {e['fix']}")
    if doc["tool_message"]:
        note(args, f"note: {doc['tool_message']}")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    manager = _manager(args)
    kw = dict(python=args.python, file=args.file, clone=args.clone, ipykernel=not args.no_ipykernel)
    if args.dry_run:
        steps = [str(step) for step in manager.plan_create(args.name, **kw)]
        if args.json:
            print_json({"dry_run": True, "name": args.name, "steps": steps})
        else:
            print("\n".join(steps))
        return 0
    env = manager.create(args.name, echo=_echo(args), **kw)
    if args.json:
        print_json({"dry_run": False, "created": env.to_dict()})
        return 0
    kernel = ", ".join(env.kernels) if env.kernels else f"none ({env.reason})"
    info(args, f"created {env.name} at {env.path}; kernel: {kernel}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    manager = _manager(args)
    text, path = manager.export(args.name)
    if args.json:
        print_json({"name": args.name, "file": path, "environment_yml": text})
        return 0
    sys.stdout.write(text)
    note(args, f"written to {path}")
    return 0


def cmd_recreate(args: argparse.Namespace) -> int:
    manager = _manager(args)
    results = manager.recreate(args.names or None, echo=_echo(args))
    if args.json:
        print_json({"results": results})
    else:
        for r in results:
            line = f"{r['name']}: " + (
                "recreated" if r["ok"] else f"FAILED, old env kept: {r['error']}"
            )
            if r["ok"]:
                info(args, line)
            else:
                print(line)
    return 0 if all(r["ok"] for r in results) else 1


def cmd_rm(args: argparse.Namespace) -> int:
    path = _manager(args).remove(args.name)
    if args.json:
        print_json({"removed": args.name, "path": path})
    else:
        info(args, f"removed {args.name} ({path})")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """The lifecycle-config step: .condarc, then kernelspec files for every persisted env."""
    kernels_dir = None
    if args.prefix:
        kernels_dir = os.path.join(os.path.abspath(args.prefix), "share", "jupyter", "kernels")
    manager = _manager(args, kernels_dir)
    if args.user and not args.prefix:
        from jupyter_core.paths import jupyter_data_dir

        manager.sync = KernelspecSync(
            manager.sync.scanner,
            os.path.join(jupyter_data_dir(), "kernels"),
            manager.cfg.display_name_format,
            manager.tool_name,
        )
    condarc = manager.ensure_condarc() if manager.cfg.manage_condarc else None
    _envs, warnings, _ = manager.sync.scanner.scan(force=True)
    result = manager.refresh_kernels(force=True)
    assert result is not None
    if args.json:
        print_json(
            {
                "condarc": condarc.to_dict() if condarc else None,
                "kernels_dir": manager.sync.kernels_dir,
                "warnings": warnings,
                **result.to_dict(),
            }
        )
    else:
        if condarc:
            if condarc.ok:
                info(args, condarc.message)
            else:
                print(f"warning: {condarc.message}")
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        info(
            args,
            f"kernelspecs in {manager.sync.kernels_dir}: written {len(result.written)}, "
            f"unchanged {len(result.unchanged)}, removed {len(result.removed)}",
        )
        for name in result.skipped:
            print(
                f"warning: {name} exists and was not made by smstudio; left as is",
                file=sys.stderr,
            )
        for e in result.errors:
            print(f"error: {e}", file=sys.stderr)
    return 1 if result.errors else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "conda",
        help="conda environments persisted on the home volume",
        description="Environments in ~/.conda/envs live on the home volume: they survive app "
        "restarts, and every env with ipykernel (or IRkernel) is offered as a kernel.",
        epilog=examples(
            "smstudio conda create ds --python 3.11",
            "smstudio conda list",
            "smstudio conda export ds > ds.yml",
            "smstudio conda recreate",
        ),
    )
    p.add_argument("--envs-dir", help="persisted envs folder (default: CondaEnvs.envs_dir)")
    csub = p.add_subparsers(dest="conda_command", metavar="ACTION", required=True)

    s = csub.add_parser(
        "list",
        help="persisted envs: size, version, kernel or why none",
        description="The persisted envs; --json prints the document GET smstudio/conda/envs "
        "answers with.",
        epilog=examples("smstudio conda list", "smstudio conda list --no-size --json"),
    )
    s.add_argument("--no-size", action="store_true", help="skip the size on disk (faster)")
    s.set_defaults(func=cmd_list)

    s = csub.add_parser(
        "create",
        help="create an env under the persisted folder",
        epilog=examples(
            "smstudio conda create ds --python 3.11",
            "smstudio conda create ds --file environment.yml",
            "smstudio conda create ds2 --clone ds --dry-run",
        ),
    )
    s.add_argument("name")
    s.add_argument("--python", metavar="X.Y", help="Python version")
    s.add_argument("--file", help="environment.yml to create from")
    s.add_argument("--clone", metavar="ENV", help="persisted env name or prefix to copy")
    s.add_argument("--no-ipykernel", action="store_true", help="do not add ipykernel")
    s.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    s.set_defaults(func=cmd_create)

    s = csub.add_parser(
        "export",
        help="print environment.yml and write it next to the env",
        epilog=examples("smstudio conda export ds", "smstudio conda export ds --json"),
    )
    s.add_argument("name")
    s.set_defaults(func=cmd_export)

    s = csub.add_parser(
        "recreate",
        help="rebuild envs from their exported files",
        description="Rebuild envs from the environment.yml files export wrote (after a "
        "migration); an env that fails to rebuild keeps its old version. Exit 1 if one failed.",
        epilog=examples("smstudio conda recreate", "smstudio conda recreate ds ds2"),
    )
    s.add_argument("names", nargs="*", metavar="NAME", help="default: every exported env")
    s.set_defaults(func=cmd_recreate)

    s = csub.add_parser(
        "rm",
        help="remove a persisted env (its exported file is kept)",
        epilog=examples("smstudio conda rm ds"),
    )
    s.add_argument("name")
    s.set_defaults(func=cmd_rm)

    s = csub.add_parser(
        "sync",
        help="fix ~/.condarc and write kernelspecs for every persisted env (LCC step)",
        epilog=examples("smstudio conda sync", "smstudio conda sync --prefix /opt/conda --json"),
    )
    where = s.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="user Jupyter data dir (default)")
    where.add_argument("--prefix", help="write into PREFIX/share/jupyter/kernels")
    s.set_defaults(func=cmd_sync)
