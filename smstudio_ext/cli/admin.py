"""The platform team's commands: plan-subnet, policies, domain export/import, audit."""

from __future__ import annotations

import argparse
import importlib

SUBMODULES = ("subnet", "policies", "domain", "audit")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name in SUBMODULES:
        importlib.import_module(f"{__package__}.{name}").register(sub)
