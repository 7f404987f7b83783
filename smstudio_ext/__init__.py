"""smstudio-ext: idle shutdown, home backup, persisted conda envs and insights for SageMaker Studio.

The package is three thin doors (a Jupyter server extension, the ``smstudio`` CLI and generated
lifecycle scripts) onto one engine per concern; see ``docs/design.md``.
"""

from typing import Any

try:  # written at build time from labextension/package.json (pyproject.toml)
    from ._version import __version__
except ImportError:  # a source tree that was never built nor installed (pip install -e .)
    __version__ = "0+unknown"

__all__ = ["__version__"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import StudioExtensionApp

    return [{"module": "smstudio_ext", "app": StudioExtensionApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "smstudio-ext"}]
