"""The one JSON document of the persisted environments.

``GET smstudio/conda/envs`` and ``smstudio conda list --json`` answer with the same document
(``rest-api.yaml`` describes it), built here once: a door never assembles it by hand.
"""

from __future__ import annotations

from typing import Any

from .envs import EnvInfo
from .manage import CondaManager


def env_document(env: EnvInfo) -> dict[str, Any]:
    """One env: where it is, its size and interpreter, its kernels or why it has none."""
    return {
        "name": env.name,
        "path": env.path,
        "size_bytes": env.size_bytes,
        "python_version": env.python_version,
        "r_version": env.r_version,
        "language": "python" if env.python else "R",
        "kernels": env.kernels,
        "kernel_name": env.kernels[0] if env.kernels else None,
        "reason": env.reason,
        "fix": env.fix,
    }


def envs_document(manager: CondaManager, sizes: bool = True) -> dict[str, Any]:
    """Every persisted env, the conda tool found (or why none) and the scan's warnings.
    ``kernel_mode`` is how the server offers the kernels (None outside a server)."""
    listing = manager.list_envs(sizes=sizes)
    return {
        "envs_dir": manager.envs_dir,
        "kernel_mode": manager.kernel_mode,
        "tool": listing.tool,
        "tool_message": listing.tool_message,
        "warnings": listing.warnings,
        "envs": [env_document(e) for e in listing.envs],
    }
