"""The conda engine: list persisted envs with their kernels; create, export, recreate, remove.

Drivable from a plain script: ``CondaManager(CondaEnvs(...))``. Only create/export/recreate need
a conda tool; listing, kernelspec sync and removal work without one.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable

from ..clock import utcnow
from ..errors import BadInput, Conflict, NotFound, SmStudioError
from ..fsutil import atomic_write
from .condarc import CondarcResult, ensure_condarc
from .config import CondaEnvs
from .envs import EnvInfo, validate_env_name
from .kernelspecs import KernelspecSync, SyncResult, build_sync, desired_specs
from .tools import (
    Step,
    Tool,
    ToolFailed,
    create_steps,
    export_step,
    find_tool,
    require_tool,
    run_step,
)

log = logging.getLogger("smstudio_ext")

EXPORT_SUFFIX = ".environment.yml"


@dataclass
class Listing:
    envs: list[EnvInfo]
    warnings: list[str] = field(default_factory=list)
    tool: str | None = None
    tool_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "envs": [e.to_dict() for e in self.envs],
            "warnings": self.warnings,
            "tool": self.tool,
            "tool_message": self.tool_message,
        }


class CondaManager:
    kernel_mode: str | None = None  # set by the server: loop | manager | gateway | none

    def __init__(self, cfg: CondaEnvs, sync: KernelspecSync | None = None) -> None:
        self.cfg = cfg
        self._tool: Tool | None = None
        self.sync = sync or build_sync(cfg, self.tool_name)

    # -- the tool -----------------------------------------------------------------------------
    def find_tool(self) -> Tool | None:
        return find_tool(self.cfg.tool)

    @property
    def tool_name(self) -> str:
        tool = self.find_tool()
        return tool.name if tool else "conda"

    def require_tool(self) -> Tool:
        return require_tool(self.cfg.tool)

    # -- paths --------------------------------------------------------------------------------
    @property
    def envs_dir(self) -> str:
        return self.cfg.envs_path

    def prefix(self, name: str) -> str:
        return os.path.join(self.envs_dir, validate_env_name(name))

    def export_path(self, name: str) -> str:
        return os.path.join(self.envs_dir, validate_env_name(name) + EXPORT_SUFFIX)

    def _existing(self, name: str) -> str:
        prefix = self.prefix(name)
        if not os.path.isdir(os.path.join(prefix, "conda-meta")):
            raise NotFound(f"no persisted env named {name!r} in {self.envs_dir}")
        return prefix

    # -- listing and kernels --------------------------------------------------------------------
    def list_envs(self, sizes: bool = True) -> Listing:
        envs, warnings, _ = self.sync.scanner.scan()
        tool = self.find_tool()
        desired_specs(envs, self.cfg.display_name_format, tool.name if tool else "conda")
        if sizes:
            for env in envs:
                env.size_bytes = self.sync.scanner.size_of(env)
        message = None
        if tool is None:
            message = (
                "no conda tool (micromamba, mamba, conda) on PATH: envs are listed and offered "
                "as kernels, but create/export/recreate need one"
            )
        return Listing(envs, warnings, tool.name if tool else None, message)

    def refresh_kernels(self, force: bool = False) -> SyncResult | None:
        return self.sync.refresh(force=force)

    def ensure_condarc(self) -> CondarcResult:
        return ensure_condarc(self.cfg.condarc, self.cfg.envs_dir, self.cfg.pkgs_dir)

    # -- create / export / recreate / remove ------------------------------------------------
    def _make_envs_dir(self) -> None:
        try:
            os.makedirs(self.envs_dir, exist_ok=True)
        except OSError as exc:
            raise SmStudioError(
                f"cannot create the envs folder {self.envs_dir}: {exc.strerror or exc}"
            ) from exc
        if not os.access(self.envs_dir, os.W_OK):
            raise SmStudioError(f"the envs folder {self.envs_dir} is not writable")

    def plan_create(
        self,
        name: str,
        *,
        python: str | None = None,
        file: str | None = None,
        clone: str | None = None,
        ipykernel: bool | None = None,
        tool: Tool | None = None,
    ) -> list[Step]:
        prefix = self.prefix(name)
        if os.path.exists(prefix):
            raise Conflict(f"env {name!r} already exists at {prefix}")
        if file is not None:
            if not os.path.isfile(file):
                raise BadInput(f"environment file not found: {file}")
            file = os.path.abspath(file)
        if clone is not None:
            if os.path.isabs(clone):
                source = clone
            else:
                source = self.prefix(clone)
            if not os.path.isdir(os.path.join(source, "conda-meta")):
                raise NotFound(f"env to clone not found: {clone}")
            clone = source
        tool = tool or self.require_tool()
        add = self.cfg.add_ipykernel if ipykernel is None else ipykernel
        return create_steps(tool, prefix, python=python, file=file, clone=clone, ipykernel=add)

    def create(self, name: str, echo: Callable[[str], None] = log.info, **kw: Any) -> EnvInfo:
        steps = self.plan_create(name, **kw)
        self._make_envs_dir()
        prefix = self.prefix(name)
        try:
            for step in steps:
                echo(f"$ {step}")
                run_step(step)
        except SmStudioError:
            if os.path.isdir(prefix):  # it did not exist before: a half-made env is no use
                shutil.rmtree(prefix, ignore_errors=True)
            raise
        finally:
            for step in steps:
                if step.stdout_path and os.path.exists(step.stdout_path):
                    os.unlink(step.stdout_path)
        try:
            self.export(name)
        except SmStudioError as exc:
            echo(f"note: could not export {name}: {exc.message}")
        self.refresh_kernels()
        return self._info(name)

    def _info(self, name: str) -> EnvInfo:
        for env in self.list_envs(sizes=False).envs:
            if env.name == name:
                return env
        raise NotFound(f"env {name!r} has no interpreter after creation")

    def export(self, name: str) -> tuple[str, str]:
        """(environment.yml text, path it was written to, next to the env)."""
        prefix = self._existing(name)
        text = run_step(export_step(self.require_tool(), prefix), capture=True)
        # the prefix line is machine-specific; recreate passes -p itself
        text = "".join(
            line for line in text.splitlines(keepends=True) if not line.startswith("prefix:")
        )
        path = self.export_path(name)
        try:
            atomic_write(path, text)
        except OSError as exc:
            raise SmStudioError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return text, path

    def exported_names(self) -> list[str]:
        try:
            names = os.listdir(self.envs_dir)
        except OSError:
            return []
        return sorted(n[: -len(EXPORT_SUFFIX)] for n in names if n.endswith(EXPORT_SUFFIX))

    def recreate(
        self, names: list[str] | None = None, echo: Callable[[str], None] = log.info
    ) -> list[dict[str, Any]]:
        """Rebuild envs from their exported files; the old env is kept until the new one works."""
        names = names or self.exported_names()
        if not names:
            raise NotFound(f"no exported environment files (*{EXPORT_SUFFIX}) in {self.envs_dir}")
        for name in names:
            validate_env_name(name)
            if not os.path.isfile(self.export_path(name)):
                raise NotFound(f"no exported file for {name!r}: {self.export_path(name)}")
        tool = self.require_tool()
        results = []
        for name in names:
            prefix = self.prefix(name)
            stamp = utcnow().strftime("%Y%m%dT%H%M%S")
            aside = os.path.join(self.envs_dir, f".{name}.recreate-{stamp}")
            if os.path.exists(prefix):
                try:
                    os.rename(prefix, aside)
                except OSError as exc:
                    results.append(
                        {
                            "name": name,
                            "ok": False,
                            "error": f"cannot move the old env aside: {exc.strerror or exc}",
                        }
                    )
                    continue
            steps = create_steps(tool, prefix, file=self.export_path(name), ipykernel=False)
            try:
                for step in steps:
                    echo(f"$ {step}")
                    run_step(step)
                if not os.path.isdir(os.path.join(prefix, "conda-meta")):
                    raise ToolFailed(f"the tool reported success but {prefix} is not an env")
            except SmStudioError as exc:
                shutil.rmtree(prefix, ignore_errors=True)
                if os.path.exists(aside):
                    os.rename(aside, prefix)
                results.append({"name": name, "ok": False, "error": exc.message})
                continue
            shutil.rmtree(aside, ignore_errors=True)
            results.append({"name": name, "ok": True, "path": prefix})
        self.refresh_kernels()
        return results

    def remove(self, name: str) -> str:
        prefix = self._existing(name)
        try:
            shutil.rmtree(prefix)
        except OSError as exc:
            raise SmStudioError(f"cannot remove {prefix}: {exc.strerror or exc}") from exc
        self.refresh_kernels()
        return prefix
