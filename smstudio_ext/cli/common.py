"""Shared CLI plumbing: configuration as the server sees it, output as tables or JSON, files
written safely, durations as flags.

Output conventions (every command): the data asked for goes to stdout (a table, a script, or
``--json``'s one JSON document); a summary of what was done goes to stdout too (``info``);
notes, hints and progress go to stderr (``note``); ``-q`` silences summaries, notes and
progress; warnings and errors always go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from traitlets.config import Config, Configurable
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

from ..config import load_config
from ..context import Studio, StudioContext, context_from_config
from ..errors import BadInput
from ..units import parse_duration

if TYPE_CHECKING:
    from ..aws import AwsClients

C = TypeVar("C", bound=Configurable)


class Env:
    """Everything a subcommand needs, built lazily from the args and the Jupyter config."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    @cached_property
    def config(self) -> Config:
        extra = Config()
        for path in getattr(self.args, "config", None) or []:
            extra.merge(load_config_file(path))
        cfg = load_config(extra=extra)
        if getattr(self.args, "metadata", None):
            cfg.Studio.metadata_path = self.args.metadata
        if getattr(self.args, "region", None):
            cfg.Studio.region = self.args.region
        return cfg

    def section(self, cls: type[C]) -> C:
        """An engine's config section (e.g. ``IdleShutdown``) as the server would see it."""
        return cls(config=self.config)

    @cached_property
    def context(self) -> StudioContext:
        return context_from_config(self.section(Studio))

    @cached_property
    def aws(self) -> AwsClients:
        from ..aws import Aws, AwsClients

        aws = self.section(Aws)
        endpoint = getattr(self.args, "endpoint_url", None)
        if endpoint:
            services = "s3 sagemaker ce pricing sts iam logs cloudtrail organizations".split()
            aws.endpoint_urls = {**aws.endpoint_urls, **{s: endpoint for s in services}}
        if getattr(self.args, "profile", None):
            aws.profile = self.args.profile
        for service, url in aws.endpoint_urls.items():
            check_endpoint_url(url, f"the endpoint URL of {service} (Aws.endpoint_urls)")
        # botocore loads (and the region is checked) with the first client, so a command's
        # local work comes first (``smstudio backup`` forks its no-change check before it).
        return AwsClients.from_config(aws, self.context.region, defer_validation=True)


# a config file is small; anything bigger is not one (and /dev/zero never ends)
CONFIG_FILE_LIMIT = 1 << 20


def load_config_file(path: str) -> Config:
    """``--config FILE``: a Jupyter config file (``.json``, or ``.py`` run as Python), refused
    with one line when it is missing, not a regular file, too big or not what it says."""
    if not path.endswith((".json", ".py")):
        raise BadInput(
            f"--config {path}: not a Jupyter config file (give a .json or .py file, e.g. "
            "jupyter_server_config.json)"
        )
    try:
        st = os.stat(path)
    except OSError as exc:
        raise BadInput(f"config file not found: {path} ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"--config {path}: not a regular file")
    if st.st_size > CONFIG_FILE_LIMIT:
        raise BadInput(f"--config {path}: {st.st_size} bytes is too big for a config file")
    loader_cls = PyFileConfigLoader if path.endswith(".py") else JSONFileConfigLoader
    loader = loader_cls(os.path.basename(path), path=os.path.dirname(path) or ".")
    try:
        cfg = loader.load_config()
    except ValueError as exc:  # JSON: not valid
        raise BadInput(f"--config {path}: not valid JSON: {exc}") from None
    except OSError as exc:
        raise BadInput(f"--config {path}: cannot read it: {exc.strerror}") from None
    except Exception as exc:  # a .py file that fails: its own error, in one line
        raise BadInput(f"--config {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(cfg, Config):
        raise BadInput(f"--config {path}: not a config (a JSON object of sections)")
    return cfg


def check_endpoint_url(url: str, what: str = "--endpoint-url") -> str:
    """An endpoint is ``http(s)://HOST[:PORT][/PATH]``; anything else is refused here, in one
    line, rather than by botocore with a traceback."""
    from urllib.parse import urlsplit

    hint = f"invalid {what} {url!r}: expected http(s)://HOST[:PORT], e.g. http://127.0.0.1:5000"
    if not url or any(c.isspace() for c in url):
        raise BadInput(hint)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise BadInput(hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise BadInput(hint)
    return url


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain aligned text table (no dependency); ``None`` prints as ``-``."""
    text_rows = [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(headers))
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for row in text_rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Kept for the modules that call it: ``--json`` is a global option of every command now
    (``smstudio_ext.cli.add_global_options``); nothing to add here."""


def quiet(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "quiet", False))


def info(args: argparse.Namespace, text: str) -> None:
    """A summary of what was done ("removed X"), on stdout; silent with -q."""
    if not quiet(args):
        print(text)


def note(args: argparse.Namespace, text: str) -> None:
    """A hint or a summary for people on stderr ("wrote FILE", "next: ..."); silent with -q."""
    if not quiet(args):
        print(text, file=sys.stderr)


def warn(text: str) -> None:
    """A warning on stderr, shown even with -q."""
    print(f"warning: {text}", file=sys.stderr)


def write_file(
    path: str, text: str | bytes, *, what: str = "--out", mode: int | None = None
) -> None:
    """Write an output file the command was asked for, atomically (a failed run never leaves
    half a file); every way it can fail is one line naming ``what`` and the reason."""
    from ..fsutil import atomic_write

    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise BadInput(f"{what} {path}: is a directory")
    if not os.path.isdir(parent):
        raise BadInput(f"{what} {path}: directory {parent} does not exist")
    try:
        atomic_write(path, text, mode=mode)
    except OSError as exc:
        raise BadInput(f"{what} {path}: cannot write there: {exc.strerror or exc}") from None


def make_dir(path: str, *, what: str = "--out-dir") -> None:
    """Create an output folder (and its parents), or say in one line why it can't be."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{what} {path}: cannot create it: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise BadInput(f"{what} {path}: not writable")


def duration_arg(default_unit: str, unit: str, *, integer: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` for a duration flag: ``2h30m``, ``90m``, ``45s`` or a bare number in
    ``default_unit``, converted to ``unit`` (``s``, ``m``, ``h`` or ``d``). ``integer`` refuses
    a value that is not a whole number of ``unit``."""
    per = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}[unit]

    def convert(text: str) -> float:
        try:
            value = parse_duration(text, default_unit) / per
        except BadInput as exc:
            raise argparse.ArgumentTypeError(exc.message) from None
        if integer:
            if abs(value - round(value)) > 1e-9:
                raise argparse.ArgumentTypeError(
                    f"{text!r} is not a whole number of {_UNIT_WORDS[unit]}"
                )
            return int(round(value))
        return value

    convert.__name__ = "duration"  # argparse names the type in its error messages
    return convert


_UNIT_WORDS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

# the duration flags' types, by the unit a bare number has (and the value is in)
SECONDS = duration_arg("s", "s")
MINUTES = duration_arg("m", "m")
HOURS = duration_arg("h", "h")
DAYS = duration_arg("d", "d")


def require_extra(extra: str, what: str, *modules: str) -> None:
    """Refuse, naming the extra to install, when an optional dependency is missing (found
    without importing it: a check costs no start-up time)."""
    import importlib.util

    from ..errors import MissingExtra

    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingExtra(what, extra, module)


def show_help(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The handler of a command group run without its action: its help, exit 2 (usage)."""

    def handler(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return handler


def examples(*lines: str) -> str:
    """A command's help epilog: ``examples:`` and the command lines, indented (kept as typed)."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
