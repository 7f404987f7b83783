"""The ``CondaEnvs`` config section: where persisted environments live and how they become kernels."""

from __future__ import annotations

import os

from traitlets import Bool, Float, Unicode, default, validate
from traitlets.config import Configurable

from ..errors import BadInput

DEFAULT_ENVS_DIR = "~/.conda/envs"
DISPLAY_FIELDS = {"name": "myenv", "language": "Python", "version": "3.11", "path": "/x/myenv"}


class CondaEnvs(Configurable):
    """Conda environments kept on the home volume (they survive app restarts) and their kernels."""

    envs_dir = Unicode(
        help="Folder holding the persisted environments (one sub-folder per env, each with "
        "conda-meta/). Env: SMSTUDIO_CONDA_ENVS_DIR. Default ~/.conda/envs.",
    ).tag(config=True)

    pkgs_dir = Unicode(
        help="If set, put this folder first in pkgs_dirs of ~/.condarc so package tarballs are "
        "cached on local disk (e.g. /tmp/conda-pkgs) instead of filling the home volume. "
        "Empty = leave pkgs_dirs alone. Env: SMSTUDIO_CONDA_PKGS_DIR.",
    ).tag(config=True)

    manage_condarc = Bool(
        True,
        help="Add envs_dir (and pkgs_dir) to ~/.condarc on server start and on `smstudio conda "
        "sync`, keeping the user's own settings and comments.",
    ).tag(config=True)

    condarc_path = Unicode(
        help="The .condarc to keep in step. Env: SMSTUDIO_CONDARC. Default ~/.condarc.",
    ).tag(config=True)

    display_name_format = Unicode(
        "{name} ({language} {version}, persisted)",
        help="Launcher name of a persisted env's kernel. Fields: {name}, {language} "
        "(Python or R), {version}, {path}.",
    ).tag(config=True)

    kernelspec_dir = Unicode(
        "",
        help="Kernels folder the server keeps kernelspec files in step in. Empty = the user's "
        "Jupyter kernels folder (<jupyter data dir>/kernels), which every kernel spec manager "
        "searches.",
    ).tag(config=True)

    refresh_interval = Float(
        1.0,
        help="Seconds between two cheap checks (a few stat calls, no subprocess) of the envs "
        "folder by the server. Between 0.1 and 300.",
    ).tag(config=True)

    tool = Unicode(
        "auto",
        help="Which tool `smstudio conda create/export/recreate` runs: auto (the first of "
        "micromamba, mamba, conda on PATH), micromamba, mamba or conda. Env: SMSTUDIO_CONDA_TOOL.",
    ).tag(config=True)

    add_ipykernel = Bool(
        True,
        help="`smstudio conda create` adds ipykernel so the new env is a kernel at once.",
    ).tag(config=True)

    @default("envs_dir")
    def _default_envs_dir(self) -> str:
        return os.environ.get("SMSTUDIO_CONDA_ENVS_DIR", DEFAULT_ENVS_DIR)

    @default("pkgs_dir")
    def _default_pkgs_dir(self) -> str:
        return os.environ.get("SMSTUDIO_CONDA_PKGS_DIR", "")

    @default("condarc_path")
    def _default_condarc_path(self) -> str:
        return os.environ.get("SMSTUDIO_CONDARC", "~/.condarc")

    @default("tool")
    def _default_tool(self) -> str:
        return os.environ.get("SMSTUDIO_CONDA_TOOL", "auto")

    @validate("envs_dir")
    def _check_envs_dir(self, proposal: dict) -> str:
        value = proposal["value"].strip()
        if not value:
            raise BadInput("CondaEnvs.envs_dir must not be empty")
        return value

    @validate("display_name_format")
    def _check_display(self, proposal: dict) -> str:
        value = proposal["value"]
        try:
            value.format(**DISPLAY_FIELDS)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise BadInput(
                f"CondaEnvs.display_name_format {value!r} is not valid: {exc!r}; "
                f"fields are {', '.join('{' + k + '}' for k in DISPLAY_FIELDS)}"
            ) from exc
        return value

    @validate("refresh_interval")
    def _check_interval(self, proposal: dict) -> float:
        value = float(proposal["value"])
        if not 0.1 <= value <= 300:
            raise BadInput(f"CondaEnvs.refresh_interval must be 0.1..300 s, got {value}")
        return value

    @validate("tool")
    def _check_tool(self, proposal: dict) -> str:
        value = proposal["value"].strip().lower()
        if value not in ("auto", "micromamba", "mamba", "conda"):
            raise BadInput(
                f"CondaEnvs.tool must be auto, micromamba, mamba or conda, got {value!r}"
            )
        return value

    # Resolved paths (``~`` expanded at use time, so HOME set by tests or the LCC is honoured).
    @property
    def envs_path(self) -> str:
        return os.path.abspath(os.path.expanduser(self.envs_dir))

    @property
    def condarc(self) -> str:
        return os.path.abspath(os.path.expanduser(self.condarc_path))

    @property
    def kernels_path(self) -> str:
        if self.kernelspec_dir:
            return os.path.abspath(os.path.expanduser(self.kernelspec_dir))
        from jupyter_core.paths import jupyter_data_dir

        return os.path.join(jupyter_data_dir(), "kernels")
