"""The ``smstudio`` command: a thin door onto the engines, like the REST handlers.

Each subcommand module exports ``register(subparsers)``, which adds its parsers with
``set_defaults(func=handler)``; a handler takes the parsed args and returns the exit code.
Typed errors (``smstudio_ext.errors``) become a one-line message on stderr and their exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import SmStudioError

# One module per concern; each exports register(subparsers).
MODULES = (
    "config_cmd",
    "demo",
    "admin",
    "conda",
    "idle",
    "insights",
    "lcc",
    "image",
    "backup",
    "wheelhouse",
)

# Which module registers each top-level command, so that running one command imports only its
# module (boto3, jupyter_client, ... cost a quarter of a second at start-up). ``admin`` is a
# group: its commands live in its submodules. tests/test_cli_commands.py checks this map against
# what every module registers.
COMMANDS = {
    "config": "config_cmd",
    "context": "config_cmd",
    "demo": "demo",
    "plan-subnet": "subnet",
    "policies": "policies",
    "domain": "domain",
    "audit": "audit",
    "conda": "conda",
    "idle": "idle",
    "insights": "insights",
    "lcc": "lcc",
    "wheelhouse": "wheelhouse",
    "image": "image",
    "backup": "backup",
    "snapshots": "backup",
    "restore": "backup",
}

# Global options that take a value (the command is the first other word). argparse also
# accepts unambiguous prefixes (``--endpoint URL``); none of these share one with a flag.
_VALUED = ("--region", "--endpoint-url", "--metadata", "--config")


def _takes_value(arg: str) -> bool:
    return arg.startswith("--") and "=" not in arg and any(v.startswith(arg) for v in _VALUED)


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, or None (no command, ``--help``, or an unknown word)."""
    it = iter(argv)
    for arg in it:
        if arg == "--":
            return None
        if _takes_value(arg):
            next(it, None)
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command``, only that command's module is imported and registered."""
    parser = argparse.ArgumentParser(
        prog="smstudio",
        description="smstudio-ext: idle shutdown, home backup, conda envs and insights for "
        "SageMaker Studio.",
    )
    parser.add_argument("--version", action="version", version=f"smstudio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("--region", help="AWS region (default: from Studio metadata or AWS_REGION)")
    parser.add_argument(
        "--endpoint-url",
        help="send every AWS call to this endpoint (a local emulator or S3-compatible server)",
    )
    parser.add_argument("--metadata", help="path of Studio's resource-metadata.json")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="extra Jupyter config file (JSON or .py) to apply last; repeatable",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = (COMMANDS[command],) if command in COMMANDS else MODULES
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(command_of(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SmStudioError as exc:
        print(f"smstudio: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("smstudio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
