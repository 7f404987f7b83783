"""Persisted envs as kernels: kernelspec files kept in step with the envs folder.

One mechanism serves every door. ``KernelspecSync.refresh()`` compares the envs folder's
signature (a few ``stat`` calls) with the last one and, when it changed, rewrites the kernelspec
files of the envs that have ipykernel/IRkernel and removes the ones it wrote earlier for envs that
are gone. Files we write carry ``metadata.smstudio_conda.managed = true``; a kernelspec without
that mark is the user's and is never overwritten or removed.

- In the server, ``setup_conda`` keeps the user's Jupyter kernels folder (searched by every
  kernel spec manager) in step from a background loop; or, when configured as
  ``ServerApp.kernel_spec_manager_class``, ``PersistedEnvKernelSpecManager`` refreshes on every
  kernelspec request.
- ``smstudio conda sync`` (the lifecycle-config step, also on KernelGateway apps) runs one refresh.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager

from ..fsutil import MB, atomic_write, foreign_symlink, read_capped_text
from .config import CondaEnvs
from .envs import EnvInfo, EnvScanner, fix_command

log = logging.getLogger("smstudio_ext")

MARK = "smstudio_conda"
KERNEL_PREFIX = "conda-env-"


def kernel_name(env: EnvInfo, language: str) -> str:
    """Same scheme as nb_conda_kernels (``conda-env-NAME-py``), so notebooks move between them."""
    return f"{KERNEL_PREFIX}{env.name.lower()}-{'py' if language == 'python' else 'r'}"


def _display(fmt: str, env: EnvInfo, language: str, version: str | None) -> str:
    text = fmt.format(
        name=env.name,
        language="Python" if language == "python" else "R",
        version=version or "",
        path=env.path,
    )
    return " ".join(text.split()).replace(" ,", ",").replace("( ", "(").replace(" )", ")")


def _activated_env(env: EnvInfo) -> dict[str, str]:
    # ${PATH} is substituted from the server's environment by jupyter_client (>= 7).
    return {
        "CONDA_PREFIX": env.path,
        "CONDA_DEFAULT_ENV": env.name,
        "PATH": os.path.join(env.path, "bin") + os.pathsep + "${PATH}",
    }


def kernel_specs_for(env: EnvInfo, display_format: str) -> dict[str, dict[str, Any]]:
    """The kernelspec dicts (``kernel.json`` content) this env offers; empty if none."""
    specs: dict[str, dict[str, Any]] = {}
    mark = {MARK: {"managed": True, "env": env.path, "name": env.name}}
    if env.python and env.has_ipykernel:
        specs[kernel_name(env, "python")] = {
            "argv": [env.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": _display(display_format, env, "python", env.python_version),
            "language": "python",
            "env": _activated_env(env),
            "metadata": {"debugger": True, **mark},
        }
    if env.r and env.has_irkernel:
        specs[kernel_name(env, "r")] = {
            "argv": [env.r, "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"],
            "display_name": _display(display_format, env, "r", env.r_version),
            "language": "R",
            "env": _activated_env(env),
            "metadata": mark,
        }
    return specs


def desired_specs(
    envs: list[EnvInfo], display_format: str, tool: str = "conda"
) -> dict[str, dict[str, Any]]:
    """Specs for every env; fills each env's ``kernels`` or ``reason`` + ``fix`` on the way."""
    out: dict[str, dict[str, Any]] = {}
    for env in envs:
        env.kernels, env.reason, env.fix = [], None, None
        if not env.name_ok:
            env.reason = (
                "its folder name has characters refused in env names (use letters, digits, "
                "'.', '_', '-'); rename the folder to get a kernel"
            )
            continue
        specs = kernel_specs_for(env, display_format)
        if not specs:
            if env.python:
                env.reason = "ipykernel is not installed in this env"
            else:
                env.reason = "IRkernel is not installed in this env"
            env.fix = fix_command(env, tool)
            continue
        for name, spec in specs.items():
            if name in out:
                env.reason = (
                    f"kernel name {name} is already used by another env (names differ only by case)"
                )
                continue
            out[name] = spec
            env.kernels.append(name)
    return out


KERNEL_JSON_CAP = 1 * MB


def _read_spec(spec_dir: str) -> str:
    return read_capped_text(
        os.path.join(spec_dir, "kernel.json"), KERNEL_JSON_CAP, what="a kernelspec"
    )


def is_managed(spec_dir: str) -> bool:
    """True when ``spec_dir/kernel.json`` was written by us (carries the mark)."""
    try:
        data = json.loads(_read_spec(spec_dir))
    except (OSError, ValueError):
        return False
    meta = data.get("metadata") if isinstance(data, dict) else None
    return isinstance(meta, dict) and bool((meta.get(MARK) or {}).get("managed"))


@dataclass
class SyncResult:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # a user-made kernelspec holds the name
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.__dict__.items()}


def sync_kernelspec_dir(kernels_dir: str, desired: dict[str, dict[str, Any]]) -> SyncResult:
    """Make ``kernels_dir`` hold exactly our ``desired`` specs (user-made ones untouched)."""
    result = SyncResult()
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    for name, spec in sorted(desired.items()):
        spec_dir = os.path.join(kernels_dir, name)
        text = json.dumps(spec, indent=1, sort_keys=True) + "\n"
        if as_root and any(foreign_symlink(p) for p in (kernels_dir, spec_dir)):
            # root never writes through a user's link (it could aim anywhere)
            result.errors.append(f"not writing kernelspec {spec_dir} as root: a user's link")
            continue
        try:
            if os.path.isdir(spec_dir) and not is_managed(spec_dir):
                result.skipped.append(name)
                continue
            try:
                if _read_spec(spec_dir) == text:
                    result.unchanged.append(name)
                    continue
            except (OSError, ValueError):
                pass
            os.makedirs(spec_dir, exist_ok=True)
            atomic_write(os.path.join(spec_dir, "kernel.json"), text, mode=0o644, fsync=False)
            result.written.append(name)
        except OSError as exc:
            result.errors.append(f"cannot write kernelspec {spec_dir}: {exc.strerror or exc}")
    try:
        existing = sorted(os.listdir(kernels_dir))
    except OSError:
        existing = []
    for name in existing:
        spec_dir = os.path.join(kernels_dir, name)
        if name in desired or not name.startswith(KERNEL_PREFIX) or not is_managed(spec_dir):
            continue
        try:
            shutil.rmtree(spec_dir)
            result.removed.append(name)
        except OSError as exc:
            result.errors.append(
                f"cannot remove stale kernelspec {spec_dir}: {exc.strerror or exc}"
            )
    return result


class KernelspecSync:
    """Keeps ``kernels_dir`` in step with ``scanner``'s envs folder; cheap when nothing changed."""

    def __init__(
        self, scanner: EnvScanner, kernels_dir: str, display_format: str, tool: str = "conda"
    ) -> None:
        self.scanner = scanner
        self.kernels_dir = kernels_dir
        self.display_format = display_format
        self.tool = tool
        self.last: SyncResult | None = None
        self._lock = threading.Lock()
        self._failed = False
        self._logged: set[str] = set()
        self._synced_generation = -1

    def refresh(self, force: bool = False) -> SyncResult | None:
        """Sync if the envs folder changed (or the last sync failed); None when nothing to do."""
        with self._lock:
            envs, _warnings, _changed = self.scanner.scan(force=force)
            generation = self.scanner.generation
            if not (force or self._failed) and generation == self._synced_generation:
                return None
            self._synced_generation = generation
            desired = desired_specs(envs, self.display_format, self.tool)
            result = sync_kernelspec_dir(self.kernels_dir, desired)
            self._failed = bool(result.errors)
            notes = list(result.errors) + [
                f"kernelspec {name} in {self.kernels_dir} was not written by smstudio; left as is"
                for name in result.skipped
            ]
            for note in notes:  # retried every check while failing: say each thing once
                if note not in self._logged:
                    log.warning("smstudio conda: %s", note)
            self._logged = set(notes)
            if result.written or result.removed:
                log.info(
                    "smstudio conda: kernelspecs written %s, removed %s",
                    result.written,
                    result.removed,
                )
            self.last = result
            return result


def build_sync(cfg: CondaEnvs, tool: str = "conda") -> KernelspecSync:
    return KernelspecSync(
        EnvScanner(cfg.envs_path), cfg.kernels_path, cfg.display_name_format, tool
    )


class PersistedEnvKernelSpecManager(KernelSpecManager):
    """A ``KernelSpecManager`` that refreshes persisted-env kernelspecs on every request.

    Configure it with ``c.ServerApp.kernel_spec_manager_class =
    "smstudio_ext.conda.kernelspecs.PersistedEnvKernelSpecManager"`` (the server builds its kernel
    spec manager before extensions load, so this has to be configuration, not code). Without it,
    ``setup_conda`` keeps the same files in step from a loop, at most ``refresh_interval`` late.
    """

    _conda_sync: KernelspecSync | None = None

    @property
    def conda_sync(self) -> KernelspecSync:
        if self._conda_sync is None:
            cfg = CondaEnvs(parent=self.parent or self, config=self.config)
            self._conda_sync = build_sync(cfg)
            if self._conda_sync.kernels_dir not in self.kernel_dirs:
                self.kernel_dirs = [*self.kernel_dirs, self._conda_sync.kernels_dir]
        return self._conda_sync

    def attach(self, sync: KernelspecSync) -> None:
        """Share the server's sync (same scanner, same caches)."""
        self._conda_sync = sync
        if sync.kernels_dir not in self.kernel_dirs:
            self.kernel_dirs = [*self.kernel_dirs, sync.kernels_dir]

    _listing = False

    def _refresh(self) -> None:
        if self._listing:  # get_all_specs already refreshed once for this listing
            return
        try:
            self.conda_sync.refresh()
        except Exception:  # never let our refresh break the kernel list
            self.log.warning("smstudio conda: kernelspec refresh failed", exc_info=True)

    def find_kernel_specs(self) -> dict[str, str]:
        self._refresh()
        return super().find_kernel_specs()

    def get_kernel_spec(self, kernel_name: str) -> Any:
        if kernel_name.lower().startswith(KERNEL_PREFIX):
            self._refresh()
        return super().get_kernel_spec(kernel_name)

    def get_all_specs(self) -> dict[str, Any]:
        self._refresh()
        self._listing = True
        try:
            return super().get_all_specs()
        finally:
            self._listing = False
