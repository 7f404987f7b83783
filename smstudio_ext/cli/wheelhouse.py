"""``smstudio wheelhouse build|push``: our wheel and its dependencies for SMD, put in S3."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..admin import wheelhouse
from ..units import format_bytes
from .common import Env, examples, info, make_dir, note, print_json, show_help
from .progress import Progress


def build_cmd(args: argparse.Namespace) -> int:
    make_dir(args.out, what="--out")
    with Progress(args) as progress:
        progress(f"wheelhouse {args.out}: downloading the wheels for Python {args.python}")
        manifest = wheelhouse.build(
            Path(args.out),
            args.python,
            Path(args.wheel) if args.wheel else None,
            pip_args=[f"--index-url={args.index_url}"] if args.index_url else None,
        )
    if args.json:
        print_json({"folder": args.out, **manifest})
        return 0
    size = format_bytes(sum(w["size"] for w in manifest["wheels"]))
    info(
        args,
        f"wheelhouse {args.out}: {len(manifest['wheels'])} wheels, {size}, "
        f"{manifest['smstudio_ext']['file']} for Python {args.python}",
    )
    note(args, f"next: smstudio wheelhouse push {args.out} s3://BUCKET/PREFIX")
    return 0


def push_cmd(args: argparse.Namespace) -> int:
    keys = wheelhouse.push(Env(args).aws, Path(args.folder), args.uri)
    uri = args.uri.rstrip("/")
    if args.json:
        print_json({"uri": uri, "keys": keys})
        return 0
    info(args, f"pushed {len(keys)} objects to {uri}/")
    note(args, f"next: smstudio lcc render|register ... --wheelhouse {uri}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "wheelhouse",
        help="our wheel + its dependencies for SMD, in S3",
        description="What a lifecycle config installs from, offline (VpcOnly domains too): "
        "build it once on a machine with a package index, push it to S3.",
        epilog=examples(
            "smstudio wheelhouse build --python 3.11 --out wheelhouse/",
            "smstudio wheelhouse push wheelhouse/ s3://corp-wheels/smstudio",
        ),
    )
    wsub = p.add_subparsers(dest="wheelhouse_command", metavar="ACTION")
    b = wsub.add_parser(
        "build",
        help="our wheel and every dependency wheel for the SMD platform",
        epilog=examples(
            "smstudio wheelhouse build --python 3.11 --out wheelhouse-3.11/",
            "smstudio wheelhouse build --python 3.12 --out wheelhouse-3.12/ "
            "--wheel dist/smstudio_ext-0.1.0-py3-none-any.whl --json",
        ),
    )
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
    u = wsub.add_parser(
        "push",
        help="upload a built wheelhouse to s3://BUCKET[/PREFIX]",
        epilog=examples("smstudio wheelhouse push wheelhouse-3.11/ s3://corp-wheels/smstudio"),
    )
    u.add_argument("folder", metavar="DIR")
    u.add_argument("uri", metavar="s3://BUCKET[/PREFIX]")
    u.set_defaults(func=push_cmd)
    p.set_defaults(func=show_help(p))
