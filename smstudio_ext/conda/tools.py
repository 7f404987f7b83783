"""micromamba / mamba / conda: which one is on PATH, and the exact commands we run with it.

Commands are built as argv lists (never a shell string), so env names and paths are passed as
they are; ``shlex.join`` shows them to the user.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from ..errors import BadInput, NotConfigured, SmStudioError

TOOLS = ("micromamba", "mamba", "conda")
_PY_RE = re.compile(r"^\d+(\.\d+){0,2}$")


class ToolFailed(SmStudioError):
    """The conda tool ran and failed; its own output was shown to the user."""

    status = 502
    code = "tool_failed"
    exit_code = 9


@dataclass(frozen=True)
class Tool:
    name: str  # micromamba | mamba | conda
    path: str


@dataclass
class Step:
    """One command; ``stdout_path`` captures its output into a file (e.g. an explicit spec)."""

    argv: list[str]
    stdout_path: str | None = None

    def __str__(self) -> str:
        text = shlex.join(self.argv)
        return f"{text} > {shlex.quote(self.stdout_path)}" if self.stdout_path else text


def find_tool(preference: str = "auto", path: str | None = None) -> Tool | None:
    """The first of micromamba, mamba, conda on PATH (or only ``preference``); None if none.

    ``$MAMBA_EXE`` / ``$CONDA_EXE`` (set by activated shells) are honoured too."""
    names = TOOLS if preference in ("", "auto") else (preference,)
    for name in names:
        found = shutil.which(name, path=path)
        if not found:
            exe = os.environ.get(
                "MAMBA_EXE" if name == "micromamba" else "CONDA_EXE" if name == "conda" else ""
            )
            if exe and os.path.basename(exe) == name and os.access(exe, os.X_OK):
                found = exe
        if found:
            return Tool(name, found)
    return None


def require_tool(preference: str = "auto", path: str | None = None) -> Tool:
    tool = find_tool(preference, path)
    if tool is None:
        looked = "micromamba, mamba or conda" if preference in ("", "auto") else preference
        raise NotConfigured(
            f"no conda tool found on PATH (looked for {looked}); install one or add it to PATH "
            "(e.g. /opt/conda/bin). Listing envs and their kernels works without it."
        )
    return tool


def check_python(version: str) -> str:
    if not _PY_RE.match(version or ""):
        raise BadInput(f"invalid Python version {version!r}: use X.Y or X.Y.Z, e.g. 3.11")
    return version


def install_step(tool: Tool, prefix: str, *packages: str) -> Step:
    return Step([tool.path, "install", "-y", "-p", prefix, *packages])


def create_steps(
    tool: Tool,
    prefix: str,
    *,
    python: str | None = None,
    file: str | None = None,
    clone: str | None = None,
    ipykernel: bool = True,
    spec_tmp: str | None = None,
) -> list[Step]:
    """The commands that create the env at ``prefix`` (from a version, a file or a clone)."""
    if sum(x is not None for x in (python, file, clone)) > 1:
        raise BadInput("give at most one of --python, --file and --clone")
    steps: list[Step] = []
    extra = ["ipykernel"] if ipykernel else []
    if file is not None:
        if tool.name == "micromamba":
            steps.append(Step([tool.path, "create", "-y", "-p", prefix, "-f", file]))
        else:
            steps.append(Step([tool.path, "env", "create", "-p", prefix, "-f", file]))
        if ipykernel:
            steps.append(install_step(tool, prefix, "ipykernel"))
    elif clone is not None:
        if tool.name == "micromamba":  # no --clone: go through an explicit spec list
            tmp = spec_tmp or prefix + ".clone-spec.txt"
            steps.append(Step([tool.path, "env", "export", "-p", clone, "--explicit"], tmp))
            steps.append(Step([tool.path, "create", "-y", "-p", prefix, "-f", tmp]))
        else:
            steps.append(Step([tool.path, "create", "-y", "-p", prefix, "--clone", clone]))
        if ipykernel:
            steps.append(install_step(tool, prefix, "ipykernel"))
    else:
        py = f"python={check_python(python)}" if python else "python"
        steps.append(Step([tool.path, "create", "-y", "-p", prefix, py, *extra]))
    return steps


def export_step(tool: Tool, prefix: str) -> Step:
    """environment.yml on stdout; without build strings so it recreates on another machine."""
    if tool.name == "micromamba":
        return Step([tool.path, "env", "export", "-p", prefix])
    return Step([tool.path, "env", "export", "-p", prefix, "--no-builds"])


def run_step(step: Step, capture: bool = False) -> str:
    """Run one step (output to the terminal unless captured/redirected); ToolFailed on error."""
    try:
        if step.stdout_path:
            with open(step.stdout_path, "w", encoding="utf-8") as out:
                proc = subprocess.run(step.argv, stdout=out, stderr=subprocess.PIPE, text=True)
        elif capture:
            proc = subprocess.run(step.argv, capture_output=True, text=True)
        else:
            proc = subprocess.run(step.argv, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise ToolFailed(
            f"cannot run {step.argv[0]}: {exc.strerror or exc}", command=str(step)
        ) from exc
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-5:]
        detail = ("; " + " | ".join(tail)) if tail else ""
        raise ToolFailed(
            f"`{step}` failed with exit code {proc.returncode}{detail}", command=str(step)
        )
    return proc.stdout if capture and proc.stdout else ""
