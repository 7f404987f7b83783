"""A SageMaker Distribution JupyterLab space for tests: pinned environments and the process
model (supervisord, ``jupyterlabserver``, ``restart-jupyter-server``) of real SMD releases.
Facts and sources: docs/smd.md."""

from __future__ import annotations

from .env import OLDEST, BaseEnv, base_env, make_layer, newest, pin_sets
from .space import LCC_LIMIT, LccRun, SmdSpace, ensure_user

__all__ = [
    "LCC_LIMIT",
    "OLDEST",
    "BaseEnv",
    "LccRun",
    "SmdSpace",
    "base_env",
    "ensure_user",
    "make_layer",
    "newest",
    "pin_sets",
]
