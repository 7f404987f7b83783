"""``smstudio wheelhouse build|push``: our wheel and its dependencies for SMD, put in S3."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..admin import wheelhouse
from .common import Env


def build_cmd(args: argparse.Namespace) -> int:
    manifest = wheelhouse.build(
        Path(args.out),
        args.python,
        Path(args.wheel) if args.wheel else None,
        pip_args=[f"--index-url={args.index_url}"] if args.index_url else None,
    )
    size = sum(w["size"] for w in manifest["wheels"]) / 1e6
    print(
        f"wheelhouse {args.out}: {len(manifest['wheels'])} wheels, {size:.1f} MB, "
        f"{manifest['smstudio_ext']['file']} for Python {args.python}"
    )
    print(f"next: smstudio wheelhouse push {args.out} s3://BUCKET/PREFIX", file=sys.stderr)
    return 0


def push_cmd(args: argparse.Namespace) -> int:
    keys = wheelhouse.push(Env(args).aws, Path(args.folder), args.uri)
    print(f"pushed {len(keys)} objects to {args.uri.rstrip('/')}/")
    print(
        f"next: smstudio lcc render|register ... --wheelhouse {args.uri.rstrip('/')}",
        file=sys.stderr,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("wheelhouse", help="our wheel + its dependencies for SMD, in S3 (admins)")
    wsub = p.add_subparsers(dest="wheelhouse_command", metavar="ACTION")
    b = wsub.add_parser("build", help="our wheel and every dependency wheel for the SMD platform")
    b.add_argument(
        "--python",
        required=True,
        choices=wheelhouse.PYTHONS,
        help="the image's Python (SMD 2.x: 3.11, SMD 3.x: 3.12)",
    )
    b.add_argument("--out", required=True, metavar="DIR", help="an empty or new folder")
    b.add_argument("--wheel", metavar="FILE", help="our wheel (default: built from the checkout)")
    b.add_argument("--index-url", help="the package index to download from (default: pip's)")
    b.set_defaults(func=build_cmd)
    u = wsub.add_parser("push", help="upload a built wheelhouse to s3://BUCKET[/PREFIX]")
    u.add_argument("folder", metavar="DIR")
    u.add_argument("uri", metavar="s3://BUCKET[/PREFIX]")
    u.set_defaults(func=push_cmd)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
