"""Build hook: bash and zsh completion for ``smstudio``, generated from its parser with shtab.

Generated when the wheel is built, so a shell's tab key never starts Python (no start-up cost,
unlike completion that asks the program at every key press), and always in step with the
commands. The scripts go into the wheel's data files (``pyproject.toml`` lists the others):

* ``share/bash-completion/completions/smstudio``: bash-completion loads it on first use when
  the environment's ``share`` is in ``XDG_DATA_DIRS`` or next to the ``smstudio`` command's
  ``bin`` (a virtualenv, ``/usr/local``);
* ``share/zsh/site-functions/_smstudio``: zsh finds it when that folder is in ``fpath``.

The parser is imported from the source tree in a child process (the build environment has
what it imports: see ``[build-system] requires``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# shell -> (file name, where the wheel installs it)
COMPLETIONS = {
    "bash": ("smstudio", "share/bash-completion/completions/smstudio"),
    "zsh": ("_smstudio", "share/zsh/site-functions/_smstudio"),
}

_GENERATE = """
import sys
import shtab
from smstudio_ext.cli import build_parser

parser = build_parser()
for shell, path in zip(sys.argv[1::2], sys.argv[2::2]):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(shtab.complete(parser, shell=shell))
"""


class CompletionBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        # a folder of this build's own: builds running side by side never read each other's
        out = Path(tempfile.mkdtemp(prefix="smstudio-completions-"))
        self._completions_dir = out
        argv: list[str] = []
        for shell, (name, _) in COMPLETIONS.items():
            argv += [shell, str(out / name)]
        path = os.pathsep.join(p for p in (self.root, os.environ.get("PYTHONPATH")) if p)
        env = dict(os.environ, PYTHONPATH=path)
        proc = subprocess.run(
            [sys.executable, "-c", _GENERATE, *argv],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"generating the shell completion scripts failed:\n{proc.stderr}")
        for name, dest in COMPLETIONS.values():
            build_data["shared_data"][str(out / name)] = dest

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        out = getattr(self, "_completions_dir", None)
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
