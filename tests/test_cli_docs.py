"""The CLI's documents say what the code does: the README's and docs/cli.md's exit codes are
``errors.EXIT_CODES``, the README's CLI table has every command, the changelog has the version
being built, and the README opens with its two commands."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from smstudio_ext.cli import GROUPS, build_parser
from smstudio_ext.errors import EXIT_CODES

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
CLI_DOC = REPO / "docs" / "cli.md"


def exit_code_table(text: str) -> dict[int, str]:
    """The ``| code | meaning |`` table of a Markdown document."""
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", text, flags=re.MULTILINE)
    assert rows, "no exit-code table"
    return {int(code): meaning for code, meaning in rows}


@pytest.mark.parametrize("doc", [README, CLI_DOC], ids=["README", "docs-cli"])
def test_the_documented_exit_codes_are_the_codes_the_cli_uses(doc):
    assert exit_code_table(doc.read_text()) == EXIT_CODES


def test_the_readme_cli_table_has_every_command_in_its_group():
    text = README.read_text()
    section = text.split("## The CLI\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `smstudio ([a-z-]+)[^|]*\| (users|admins) \|", section, re.MULTILINE)
    documented = {name: who for name, who in rows}
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(documented) == set(sub.choices)
    (user_title, users), (_, admins) = GROUPS
    assert "your commands" in user_title
    assert {n for n, who in documented.items() if who == "users"} == set(users)
    assert {n for n, who in documented.items() if who == "admins"} == set(admins)


def test_the_readme_starts_with_the_demo_and_the_test_command():
    text = README.read_text()
    title, rest = text.split("\n", 1)
    assert title.startswith("# ")
    block = re.match(r"\s*```bash\n(.*?)```", rest, re.DOTALL)
    assert block, "the README's first block after the title is not the commands"
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (REPO / "Makefile").read_text()
    assert "scripts/demo.sh" in makefile and "scripts/test.sh" in makefile
    assert 'smstudio" demo' in (REPO / "scripts" / "demo.sh").read_text()
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def test_the_changelog_has_an_entry_for_the_version_in_package_json():
    version = json.loads((REPO / "labextension" / "package.json").read_text())["version"]
    text = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    assert headings[0] == "Unreleased"
    assert version in headings
    assert f"[{version}]: " in text  # its link
