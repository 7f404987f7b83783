"""Helpers shared by the CLI tests."""

from __future__ import annotations

import argparse

from smstudio_ext.cli import all_parsers, build_parser


def _leaves() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command a user can run (``lcc render``, ``audit``, ...), by its words."""
    out = []
    for parser in all_parsers(build_parser()):
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            continue
        out.append((parser.prog.removeprefix("smstudio "), parser))
    return out


LEAVES = _leaves()
