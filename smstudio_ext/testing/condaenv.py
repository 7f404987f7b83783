"""Real environments laid out like conda envs, for tests and benchmarks (no conda channel needed).

``make_env`` builds a Python virtual environment (its own ``bin/python`` and ``sys.prefix``) with
``conda-meta/history``. With ``ipykernel=True`` every package of the running interpreter's
site-packages is linked into the env's own site-packages, so ``ipykernel`` is physically there,
as in a conda env, and a kernel started from it runs with ``sys.prefix`` = the env.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import venv


def make_env(envs_dir: str, name: str, *, ipykernel: bool = True, interpreter: bool = True) -> str:
    path = os.path.join(envs_dir, name)
    if interpreter:
        venv.EnvBuilder(with_pip=False, symlinks=True, clear=False).create(path)
    else:
        os.makedirs(os.path.join(path, "lib"), exist_ok=True)
    meta = os.path.join(path, "conda-meta")
    os.makedirs(meta, exist_ok=True)
    with open(os.path.join(meta, "history"), "w", encoding="utf-8") as fh:
        fh.write(f"==> 2026-01-01 00:00:00 <==\n# cmd: conda create -p {path}\n")
    if interpreter and ipykernel:
        source = sysconfig.get_paths()["purelib"]
        target = os.path.join(
            path, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages"
        )
        os.makedirs(target, exist_ok=True)
        for entry in os.listdir(source):
            if entry.endswith(".pth") or entry == "__pycache__":
                continue
            dest = os.path.join(target, entry)
            if not os.path.lexists(dest):
                os.symlink(os.path.join(source, entry), dest)
    return path
