"""The CLI's command -> module map: running one command imports only its module."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from smstudio_ext import cli
from smstudio_ext.cli.admin import SUBMODULES


def _registered(module: str) -> list[str]:
    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(f"smstudio_ext.cli.{module}").register(sub)
    return list(sub.choices)


LEAVES = [m for m in cli.MODULES if m != "admin"] + list(SUBMODULES)


@pytest.mark.parametrize("module", LEAVES)
def test_map_covers_every_command_a_module_registers(module):
    names = _registered(module)
    assert names, module
    for name in names:
        assert cli.COMMANDS.get(name) == module, name
    assert {c for c, m in cli.COMMANDS.items() if m == module} == set(names)


def test_map_names_exactly_the_commands_of_the_full_parser():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(cli.COMMANDS)


@pytest.mark.parametrize(
    "argv, command",
    [
        ([], None),
        (["--help"], None),
        (["backup", "--bucket", "s3://b/p"], "backup"),
        (["--endpoint-url", "backup", "restore", "latest"], "restore"),
        (["--endpoint", "http://x", "snapshots"], "snapshots"),
        (["--region=eu-west-1", "-v", "plan-subnet"], "plan-subnet"),
        (["--config", "a.json", "--config", "b.json", "audit"], "audit"),
        (["-v", "nosuchcommand"], None),
        (["--", "backup"], None),
    ],
)
def test_command_of(argv, command):
    assert cli.command_of(argv) == command


@pytest.mark.parametrize("command", sorted(set(cli.COMMANDS)))
def test_lazy_parser_resolves_the_same_handler_as_the_full_one(command):
    lazy = cli.build_parser(command)
    sub = next(a for a in lazy._actions if isinstance(a, argparse._SubParsersAction))
    assert command in sub.choices
    full = cli.build_parser()
    full_sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    assert sub.choices[command].format_help() == full_sub.choices[command].format_help()


def test_backup_command_imports_no_other_command_nor_jupyter_client():
    code = (
        "import sys\n"
        "from smstudio_ext.cli import build_parser, command_of\n"
        "build_parser(command_of(['backup', '--help']))\n"
        "bad = [m for m in sys.modules if m.startswith(("
        "'smstudio_ext.cli.conda', 'smstudio_ext.cli.audit', 'smstudio_ext.cli.lcc', "
        "'smstudio_ext.admin', 'smstudio_ext.conda', 'smstudio_ext.insights', "
        "'jupyter_client', 'jupyter_server'))]\n"
        "print(sorted(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_unknown_command_is_still_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["nosuchcommand"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
