"""Shared CLI plumbing: configuration as the server sees it, output as tables or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from traitlets.config import Config, Configurable
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

from ..config import load_config
from ..context import Studio, StudioContext, context_from_config
from ..errors import BadInput

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
            loader_cls = PyFileConfigLoader if path.endswith(".py") else JSONFileConfigLoader
            import os

            if not os.path.isfile(path):
                raise BadInput(f"config file not found: {path}")
            extra.merge(
                loader_cls(os.path.basename(path), path=os.path.dirname(path) or ".").load_config()
            )
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
        # botocore loads (and the region is checked) with the first client, so a command's
        # local work comes first (``smstudio backup`` forks its no-change check before it).
        return AwsClients.from_config(aws, self.context.region, defer_validation=True)


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
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
