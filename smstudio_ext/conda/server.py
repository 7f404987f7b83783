"""Wiring the conda engine into the Jupyter server: .condarc on start, kernels kept in step.

jupyter_server builds its kernel spec manager (``ServerApp.kernel_spec_manager_class``) in
``init_configurables``, before extensions load, so ``initialize_settings`` cannot swap the class.
Two ways that work in jupyter_server 2.x, both on the same kernelspec files:

- default, no configuration: the persisted envs' kernelspec files are kept in step in the
  user's Jupyter kernels folder, which every local kernel spec manager searches; a background
  loop checks the envs folder every ``CondaEnvs.refresh_interval`` s (stat calls only);
- ``c.ServerApp.kernel_spec_manager_class =
  "smstudio_ext.conda.kernelspecs.PersistedEnvKernelSpecManager"``: refreshed on each kernelspec
  request instead, no loop.

With a gateway kernel spec manager (kernels run elsewhere) nothing is synced here: the
KernelGateway side runs ``smstudio conda sync`` from its lifecycle config.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .config import CondaEnvs
from .kernelspecs import KernelspecSync, PersistedEnvKernelSpecManager, build_sync
from .manage import CondaManager

log = logging.getLogger("smstudio_ext")


def setup_conda(app: Any) -> CondaManager:
    """Build ``services.conda`` from the ``CondaEnvs`` section; a bad section raises
    (``TraitError``, ``SmStudioError``) and the app disables the engine with the reason."""
    cfg = CondaEnvs(parent=app)
    manager = CondaManager(cfg)
    app.services.conda = manager
    if cfg.manage_condarc:
        manager.ensure_condarc()  # logs a warning itself when it cannot
    serverapp = getattr(app, "serverapp", None)
    ksm = getattr(serverapp, "kernel_spec_manager", None)
    manager.kernel_mode = attach_kernels(ksm, manager.sync)
    if manager.kernel_mode == "loop":
        app.add_loop(lambda: refresh_loop(manager.sync, cfg.refresh_interval))
    log.info(
        "smstudio conda: persisted envs in %s, kernels %s (%s)",
        cfg.envs_path,
        manager.kernel_mode,
        manager.sync.kernels_dir,
    )
    return manager


def attach_kernels(ksm: Any, sync: KernelspecSync) -> str:
    """How persisted envs reach this server's kernel list: manager | loop | gateway | none."""
    if ksm is None:
        return "none"
    if isinstance(ksm, PersistedEnvKernelSpecManager):
        ksm.attach(sync)
        return "manager"
    if type(ksm).__module__.startswith("jupyter_server.gateway"):
        log.info(
            "smstudio conda: kernels run behind a gateway; run `smstudio conda sync` on the "
            "kernel side (KernelGateway lifecycle config) to offer persisted envs there"
        )
        return "gateway"
    dirs = list(getattr(ksm, "kernel_dirs", []) or [])
    if sync.kernels_dir not in dirs:
        ksm.kernel_dirs = [*dirs, sync.kernels_dir]
    try:
        sync.refresh(force=True)
    except Exception:
        log.warning("smstudio conda: first kernelspec sync failed", exc_info=True)
    return "loop"


async def refresh_loop(sync: KernelspecSync, interval: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        try:
            await loop.run_in_executor(None, sync.refresh)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("smstudio conda: kernelspec refresh failed", exc_info=True)


__all__ = ["build_sync", "setup_conda"]
