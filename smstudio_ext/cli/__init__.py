"""The ``smstudio`` command: a thin door onto the engines, like the REST handlers.

Each subcommand module exports ``register(subparsers)``, which adds its parsers with
``set_defaults(func=handler)``; a handler takes the parsed args and returns the exit code.
Typed errors (``smstudio_ext.errors``) become a one-line message on stderr and their exit code
(``errors.EXIT_CODES``); anything else becomes one line too (the traceback with ``-v``).

Global options (``--json``, ``-q``, ``-v``, ``--endpoint-url``, ``--profile``, ``--region``)
are accepted anywhere on the line, as aws and restic accept theirs: ``smstudio audit --json``
and ``smstudio --json audit`` are the same command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .. import __version__
from ..errors import EXIT_CODES, SmStudioError

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

# How ``smstudio --help`` lists the commands: a user's first, the platform team's apart.
GROUPS = (
    (
        "your commands (in a Studio app or a terminal)",
        (
            "idle",
            "backup",
            "snapshots",
            "restore",
            "conda",
            "insights",
            "context",
            "config",
            "demo",
        ),
    ),
    (
        "admin commands (the platform team's: domains, rollout, policies)",
        ("audit", "lcc", "image", "wheelhouse", "domain", "policies", "plan-subnet"),
    ),
)

# Global options that take a value (the command is the first other word). argparse also
# accepts unambiguous prefixes (``--endpoint URL``); none of these share one with a flag.
_VALUED = ("--region", "--endpoint-url", "--metadata", "--config", "--profile")
_GLOBAL_TITLE = "global options (anywhere on the line)"


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


def add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command accepts. On subcommands their default is SUPPRESS, so a value
    given before the command (``smstudio -q backup``) is not reset by the subcommand's parser;
    an option a subcommand already defines (backup's ``-q``) is made to behave the same way."""
    own = parser._option_string_actions
    for action in parser._actions:
        if not top and any(s in _GLOBAL_STRINGS for s in action.option_strings):
            action.default = argparse.SUPPRESS
    group = parser.add_argument_group(_GLOBAL_TITLE)

    def add(*names: str, **kw: Any) -> None:
        names = tuple(n for n in names if n not in own)
        if not names:
            return
        if not top:
            kw["default"] = argparse.SUPPRESS
        group.add_argument(*names, **kw)

    add("--json", action="store_true", default=False, help="print one JSON document")
    add(
        "-q",
        "--quiet",
        action="store_true",
        default=False,
        help="no progress, notes or summaries: only the data asked for, warnings and errors",
    )
    add(
        "-v",
        "--verbose",
        action="store_true",
        default=False,
        help="log debug details (AWS requests included; secrets are masked)",
    )
    add("--profile", metavar="NAME", help="AWS profile (default: Aws.profile, AWS_PROFILE)")
    add("--region", help="AWS region (default: from Studio metadata or AWS_REGION)")
    add(
        "--endpoint-url",
        metavar="URL",
        help="send every AWS call to this endpoint (a local emulator or S3-compatible server)",
    )


_GLOBAL_STRINGS = {
    "--json",
    "-q",
    "--quiet",
    "-v",
    "--verbose",
    "--profile",
    "--region",
    "--endpoint-url",
}


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs as argparse does, keeps indented blocks (examples, tables) as
    typed: a description stays readable and ``examples:`` stay copy-pasteable."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out = []
        for para in textwrap.dedent(text).strip("\n").split("\n\n"):
            lines = para.split("\n")
            if any(line.startswith(" ") for line in lines[1:]) or para.startswith(" "):
                out.append("\n".join(indent + line for line in lines))
            else:
                flat = re.sub(r"\s+", " ", para).strip()
                out.append(
                    textwrap.fill(flat, width, initial_indent=indent, subsequent_indent=indent)
                )
        return "\n\n".join(out)


class TopParser(argparse.ArgumentParser):
    """``smstudio --help``: the commands in their groups, then the options, exit codes and
    examples."""

    def format_help(self) -> str:
        formatter = self._get_formatter()
        formatter.add_usage(self.usage, self._actions, self._mutually_exclusive_groups)
        formatter.add_text(self.description)
        sub = _subparsers_action(self)
        if sub is not None:
            pseudo = {a.dest: a for a in sub._choices_actions}
            listed: set[str] = set()
            for title, names in GROUPS:
                formatter.start_section(title)
                formatter.add_arguments([pseudo[n] for n in names if n in pseudo])
                formatter.end_section()
                listed.update(names)
            rest = [a for n, a in pseudo.items() if n not in listed]
            if rest:
                formatter.start_section("other commands")
                formatter.add_arguments(rest)
                formatter.end_section()
        for group in self._action_groups:
            actions = [a for a in group._group_actions if a is not sub]
            if not actions:
                continue
            formatter.start_section(group.title)
            formatter.add_arguments(actions)
            formatter.end_section()
        formatter.add_text(self.epilog)
        return formatter.format_help()


def _subparsers_action(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def all_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every subcommand parser below it (depth first)."""
    yield parser
    sub = _subparsers_action(parser)
    if sub is not None:
        seen: set[int] = set()
        for child in sub.choices.values():
            if id(child) not in seen:  # aliases share a parser
                seen.add(id(child))
                yield from all_parsers(child)


def exit_codes_text() -> str:
    return "exit codes:\n" + "\n".join(f"  {code:>3}  {what}" for code, what in EXIT_CODES.items())


TOP_EPILOG = (
    "Run `smstudio COMMAND --help` for a command's options and examples. Durations are "
    "written 2h30m, 90m, 45s (a bare number has the flag's unit).\n\n"
    + exit_codes_text()
    + "\n\n"
    + "examples:\n"
    "  smstudio idle status\n"
    "  smstudio idle keepalive 2h30m\n"
    "  smstudio backup --bucket s3://corp-backups/homes\n"
    "  smstudio audit --domain d-abc123 --json > audit.json\n"
    "  smstudio --profile admin --region eu-west-1 lcc register --domain d-abc123 --name smstudio "
    "--app-type JupyterLab --wheelhouse s3://corp-wheels/smstudio --built-in --dry-run"
)


# Examples for the commands whose module does not give its own yet (cli/backup.py is being
# changed elsewhere: move these into its register() and drop them here).
DEFAULT_EXAMPLES = {
    "smstudio backup": (
        "smstudio backup --bucket s3://corp-backups/homes",
        "smstudio backup --dry-run --exclude '*.ckpt'",
        "smstudio backup prune --dry-run",
        "smstudio backup check --read-data --json",
    ),
    "smstudio snapshots": (
        "smstudio snapshots",
        "smstudio snapshots --json",
        "smstudio snapshots ls latest notebooks/",
        "smstudio snapshots diff 20261206T12 latest --json",
    ),
    "smstudio restore": (
        "smstudio restore latest --target ~/restored",
        "smstudio restore latest notebooks/analysis.ipynb --overwrite",
        "smstudio restore latest --target $HOME --if-empty -q",
        "smstudio restore latest --target ~/restored --dry-run",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command``, only that command's module is imported and registered."""
    parser = TopParser(
        prog="smstudio",
        description="smstudio-ext: idle shutdown, home backup, conda envs and insights for "
        "SageMaker Studio, and the platform team's tools to roll it out and audit it.",
        epilog=TOP_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"smstudio {__version__}")
    parser.add_argument("--metadata", help="path of Studio's resource-metadata.json")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="extra Jupyter config file (.json or .py) to apply last; repeatable",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = (COMMANDS[command],) if command in COMMANDS else MODULES
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    for i, p in enumerate(all_parsers(parser)):
        p.formatter_class = HelpFormatter
        if p.epilog is None and p.prog in DEFAULT_EXAMPLES:
            p.epilog = "examples:\n" + "\n".join(f"  {e}" for e in DEFAULT_EXAMPLES[p.prog])
        add_global_options(p, top=i == 0)
    return parser


@contextmanager
def cli_logging(verbose: bool) -> Iterator[None]:
    """One stderr handler for everything (botocore's debug log with ``-v``), every record
    passed through the redaction filter: ``-v`` never prints a token, key or signature.
    Removed again at the end (``main`` may run in a longer-lived process: tests, scripts)."""
    from ..redact import RedactFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(command_of(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    with cli_logging(args.verbose):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.endpoint_url is not None:
            from .common import check_endpoint_url

            check_endpoint_url(args.endpoint_url)
        return int(args.func(args) or 0)
    except SmStudioError as exc:
        print(f"smstudio: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("smstudio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `smstudio ... | head`: the reader is gone, nothing to say
        _silence_stdout()
        return 0
    except Exception as exc:  # never a traceback for a user: one line, the details with -v
        logging.getLogger("smstudio_ext").debug("unexpected error", exc_info=True)
        from ..redact import redact_text

        hint = "" if args.verbose else " (run with -v for the details)"
        print(
            f"smstudio: error: unexpected {type(exc).__name__}: {redact_text(str(exc))}{hint}",
            file=sys.stderr,
        )
        return 1


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
