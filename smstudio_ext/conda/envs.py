"""Finding persisted environments on disk, without running conda or any interpreter.

An env is a folder of the envs folder with a ``conda-meta/`` sub-folder. What we read, all by
``stat``/``scandir``: the interpreter (``bin/python``, ``bin/R``), whether ``ipykernel`` is in
site-packages, whether ``IRkernel`` is in the R library, the Python version (from
``conda-meta/python-*.json``, ``pyvenv.cfg`` or the ``lib/pythonX.Y`` folder name) and the size
on disk (walked once, cached until the env changes).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BadInput
from ..fsutil import KB, read_capped_text

log = logging.getLogger("smstudio_ext")

# Refuse anything a shell, a path or a kernel name would misread. Kernel names allow [a-z0-9._-].
ENV_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PY_META_RE = re.compile(r"^python-(\d+\.\d+(?:\.\d+)?)-")
_R_META_RE = re.compile(r"^r-base-(\d+\.\d+(?:\.\d+)?)-")
_LIB_PY_RE = re.compile(r"^python(\d+\.\d+)$")


def validate_env_name(name: str) -> str:
    """The name, or ``BadInput`` if it has a ``/``, spaces, shell characters or is too long."""
    if not isinstance(name, str) or not ENV_NAME_RE.match(name):
        raise BadInput(
            f"invalid environment name {name!r}: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, at most 100 characters)"
        )
    return name


@dataclass
class EnvInfo:
    """One persisted environment as found on disk."""

    name: str
    path: str
    python: str | None = None  # interpreter path
    python_version: str | None = None
    site_packages: str | None = None
    has_ipykernel: bool = False
    r: str | None = None
    r_version: str | None = None
    has_irkernel: bool = False
    name_ok: bool = True
    size_bytes: int | None = None
    kernels: list[str] = field(default_factory=list)
    reason: str | None = None  # why there is no kernel
    fix: str | None = None  # the exact command that gives it one

    @property
    def broken(self) -> bool:
        return self.python is None and self.r is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _is_env_dir(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "conda-meta"))


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _site_packages(env: str) -> tuple[str | None, str | None]:
    """(site-packages folder, X.Y from its lib/pythonX.Y parent)."""
    lib = os.path.join(env, "lib")
    try:
        entries = sorted(os.listdir(lib), reverse=True)
    except OSError:
        return None, None
    for entry in entries:
        m = _LIB_PY_RE.match(entry)
        sp = os.path.join(lib, entry, "site-packages")
        if m and os.path.isdir(sp):
            return sp, m.group(1)
    return None, None


def _meta_version(env: str, pattern: re.Pattern[str]) -> str | None:
    try:
        names = os.listdir(os.path.join(env, "conda-meta"))
    except OSError:
        return None
    for entry in names:
        m = pattern.match(entry)
        if m and entry.endswith(".json"):
            return m.group(1)
    return None


def _pyvenv_version(env: str) -> str | None:
    try:
        text = read_capped_text(
            os.path.join(env, "pyvenv.cfg"), 64 * KB, what="a pyvenv.cfg", errors="replace"
        )
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return None


def inspect_env(path: str) -> EnvInfo:
    """What one env folder holds (no subprocess)."""
    name = os.path.basename(path.rstrip("/"))
    info = EnvInfo(name=name, path=path, name_ok=bool(ENV_NAME_RE.match(name)))
    py = os.path.join(path, "bin", "python")
    if _executable(py):
        info.python = py
        sp, lib_version = _site_packages(path)
        info.site_packages = sp
        info.python_version = (
            _meta_version(path, _PY_META_RE) or _pyvenv_version(path) or lib_version
        )
        if sp:
            info.has_ipykernel = os.path.isfile(os.path.join(sp, "ipykernel", "__init__.py"))
    r = os.path.join(path, "bin", "R")
    if _executable(r):
        info.r = r
        info.r_version = _meta_version(path, _R_META_RE)
        info.has_irkernel = os.path.isdir(os.path.join(path, "lib", "R", "library", "IRkernel"))
    return info


def fix_command(info: EnvInfo, tool: str = "conda") -> str:
    """The exact command that gives ``info`` a kernel."""
    prefix = shlex.quote(info.path)
    if info.r and not info.python:
        return f"{tool} install -y -p {prefix} -c conda-forge r-irkernel"
    return f"{tool} install -y -p {prefix} ipykernel"


def env_signature(envs_dir: str) -> tuple[Any, ...]:
    """A cheap fingerprint of the envs folder: changes when an env is added, removed or has
    packages installed (conda-meta, bin, site-packages or the R library change). Only stat calls."""
    parts: list[Any] = [_mtime(envs_dir)]
    try:
        entries = sorted(os.scandir(envs_dir), key=lambda e: e.name)
    except OSError:
        return tuple(parts)
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        p = entry.path
        parts.append(
            (
                entry.name,
                _mtime(os.path.join(p, "conda-meta")),
                _mtime(os.path.join(p, "bin")),
                _mtime(os.path.join(p, "lib")),
                _sp_mtime(p),
                _mtime(os.path.join(p, "lib", "R", "library")),
            )
        )
    return tuple(parts)


_sp_cache: dict[str, str | None] = {}


def _sp_mtime(env: str) -> int:
    sp = _sp_cache.get(env)
    if sp is None or not os.path.isdir(sp):
        sp = _site_packages(env)[0]
        _sp_cache[env] = sp
    return _mtime(sp) if sp else 0


def scan_envs(envs_dir: str) -> tuple[list[EnvInfo], list[str]]:
    """(envs with an interpreter, warnings). Broken envs (no interpreter) are skipped, warned."""
    envs: list[EnvInfo] = []
    warnings: list[str] = []
    try:
        entries = sorted(os.scandir(envs_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return envs, warnings
    except OSError as exc:
        warnings.append(f"cannot read the envs folder {envs_dir}: {exc.strerror or exc}")
        return envs, warnings
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir() or not _is_env_dir(entry.path):
            continue
        info = inspect_env(entry.path)
        if info.broken:
            warnings.append(
                f"skipping env {info.name!r} at {info.path}: no interpreter (bin/python or "
                f"bin/R); it is broken, remove it with `smstudio conda rm {info.name}`"
                if info.name_ok
                else f"skipping env at {info.path}: no interpreter (bin/python or bin/R)"
            )
            continue
        envs.append(info)
    return envs, warnings


def dir_size(path: str) -> int:
    """Bytes on disk under ``path`` (allocated blocks, hard links counted once, no symlinks)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            it = os.scandir(current)
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                total += getattr(st, "st_blocks", 0) * 512 or st.st_size
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return total


class EnvScanner:
    """Scans the envs folder again only when its signature changed; caches sizes per env."""

    def __init__(self, envs_dir: str) -> None:
        self.envs_dir = envs_dir
        self._lock = threading.Lock()
        self._sig: tuple[Any, ...] | None = None
        self._envs: list[EnvInfo] = []
        self._warnings: list[str] = []
        self._sizes: dict[str, tuple[Any, int]] = {}
        self.generation = 0  # bumped on every rescan; readers compare, nobody consumes it

    def scan(self, force: bool = False) -> tuple[list[EnvInfo], list[str], bool]:
        """(envs, warnings, changed since the last call). Warnings are logged once per change."""
        sig = env_signature(self.envs_dir)
        with self._lock:
            if not force and sig == self._sig:
                return list(self._envs), list(self._warnings), False
            envs, warnings = scan_envs(self.envs_dir)
            for w in warnings:
                if w not in self._warnings:
                    log.warning("smstudio conda: %s", w)
            self._sig, self._envs, self._warnings = sig, envs, warnings
            self.generation += 1
            return list(envs), list(warnings), True

    def size_of(self, info: EnvInfo) -> int:
        key = (_mtime(os.path.join(info.path, "conda-meta")), _sp_mtime(info.path))
        cached = self._sizes.get(info.path)
        if cached and cached[0] == key:
            return cached[1]
        size = dir_size(info.path)
        self._sizes[info.path] = (key, size)
        return size
