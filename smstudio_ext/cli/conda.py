"""``smstudio conda ...``: persisted environments (create, list, export, recreate, rm, sync)."""

from __future__ import annotations

import argparse
import os
import sys

from ..conda.config import CondaEnvs
from ..conda.kernelspecs import KernelspecSync
from ..conda.manage import CondaManager
from .common import Env, add_json_flag, print_json, print_table


def _manager(args: argparse.Namespace, kernels_dir: str | None = None) -> CondaManager:
    cfg = Env(args).section(CondaEnvs)
    if getattr(args, "envs_dir", None):
        cfg.envs_dir = args.envs_dir
    if kernels_dir:
        cfg.kernelspec_dir = kernels_dir
    return CondaManager(cfg)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _size(n: int | None) -> str | None:
    if n is None:
        return None
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return None


def cmd_list(args: argparse.Namespace) -> int:
    manager = _manager(args)
    listing = manager.list_envs(sizes=not args.no_size)
    if args.json:
        print_json({"envs_dir": manager.envs_dir, **listing.to_dict()})
        return 0
    # broken envs are reported by the engine's log (a warning on stderr)
    if not listing.envs:
        print(f"no persisted envs in {manager.envs_dir}")
    else:
        rows = [
            (
                e.name,
                e.python_version or e.r_version,
                _size(e.size_bytes),
                ", ".join(e.kernels) if e.kernels else f"none: {e.reason}",
                e.path,
            )
            for e in listing.envs
        ]
        print_table(rows, ["NAME", "VERSION", "SIZE", "KERNEL", "PATH"])
        for e in listing.envs:
            if e.fix:
                print(f"to give {e.name} a kernel: {e.fix}")
    if listing.tool_message:
        _err(f"note: {listing.tool_message}")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    manager = _manager(args)
    kw = dict(python=args.python, file=args.file, clone=args.clone, ipykernel=not args.no_ipykernel)
    if args.dry_run:
        for step in manager.plan_create(args.name, **kw):
            print(step)
        return 0
    info = manager.create(args.name, echo=_err, **kw)
    kernel = ", ".join(info.kernels) if info.kernels else f"none ({info.reason})"
    print(f"created {info.name} at {info.path}; kernel: {kernel}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    manager = _manager(args)
    text, path = manager.export(args.name)
    sys.stdout.write(text)
    _err(f"written to {path}")
    return 0


def cmd_recreate(args: argparse.Namespace) -> int:
    manager = _manager(args)
    results = manager.recreate(args.names or None, echo=_err)
    for r in results:
        print(
            f"{r['name']}: " + ("recreated" if r["ok"] else f"FAILED, old env kept: {r['error']}")
        )
    return 0 if all(r["ok"] for r in results) else 1


def cmd_rm(args: argparse.Namespace) -> int:
    path = _manager(args).remove(args.name)
    print(f"removed {args.name} ({path})")
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
            print(("" if condarc.ok else "warning: ") + condarc.message)
        for w in warnings:
            _err(f"warning: {w}")
        print(
            f"kernelspecs in {manager.sync.kernels_dir}: written {len(result.written)}, "
            f"unchanged {len(result.unchanged)}, removed {len(result.removed)}"
        )
        for name in result.skipped:
            _err(f"warning: {name} exists and was not made by smstudio; left as is")
        for e in result.errors:
            _err(f"error: {e}")
    return 1 if result.errors else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("conda", help="conda environments persisted on the home volume")
    p.add_argument("--envs-dir", help="persisted envs folder (default: CondaEnvs.envs_dir)")
    csub = p.add_subparsers(dest="conda_command", metavar="ACTION", required=True)

    s = csub.add_parser("list", help="persisted envs: size, version, kernel or why none")
    add_json_flag(s)
    s.add_argument("--no-size", action="store_true", help="skip the size on disk (faster)")
    s.set_defaults(func=cmd_list)

    s = csub.add_parser("create", help="create an env under the persisted folder")
    s.add_argument("name")
    s.add_argument("--python", metavar="X.Y", help="Python version")
    s.add_argument("--file", help="environment.yml to create from")
    s.add_argument("--clone", metavar="ENV", help="persisted env name or prefix to copy")
    s.add_argument("--no-ipykernel", action="store_true", help="do not add ipykernel")
    s.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    s.set_defaults(func=cmd_create)

    s = csub.add_parser("export", help="print environment.yml and write it next to the env")
    s.add_argument("name")
    s.set_defaults(func=cmd_export)

    s = csub.add_parser("recreate", help="rebuild envs from their exported files")
    s.add_argument("names", nargs="*", metavar="NAME", help="default: every exported env")
    s.set_defaults(func=cmd_recreate)

    s = csub.add_parser("rm", help="remove a persisted env (its exported file is kept)")
    s.add_argument("name")
    s.set_defaults(func=cmd_rm)

    s = csub.add_parser(
        "sync", help="fix ~/.condarc and write kernelspecs for every persisted env (LCC step)"
    )
    where = s.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="user Jupyter data dir (default)")
    where.add_argument("--prefix", help="write into PREFIX/share/jupyter/kernels")
    add_json_flag(s)
    s.set_defaults(func=cmd_sync)
