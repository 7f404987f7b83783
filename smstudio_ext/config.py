"""Reading the same configuration the Jupyter server gives the extension, for the CLI.

The extension (a jupyter_server ``ExtensionApp`` named ``smstudio_ext``) reads its own
``jupyter_smstudio_ext_config.{json,py}`` from every Jupyter config directory, then the server's
``jupyter_server_config.{json,py}`` on top. This is where lifecycle configs and images write the
admin's choices: ``jupyter_smstudio_ext_config.json``, never the user's own server config. (Files in
``jupyter_server_config.d/`` only enable extensions; jupyter_server ignores other settings there.)
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable

from traitlets.config import Config, Configurable
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

from . import units
from .errors import BadInput

log = logging.getLogger("smstudio_ext")

EXTENSION_CONFIG = "jupyter_smstudio_ext_config"
SERVER_CONFIG = "jupyter_server_config"


def config_files(paths: Iterable[str] | None = None) -> list[Path]:
    """Config files in load order (lowest priority first), as the server applies them."""
    if paths is None:
        from jupyter_core.paths import jupyter_config_path

        paths = jupyter_config_path()
    dirs = [Path(d) for d in reversed(list(paths))]
    files: list[Path] = []
    for basename in (EXTENSION_CONFIG, SERVER_CONFIG):
        for base in dirs:
            for name in (f"{basename}.py", f"{basename}.json"):
                if (base / name).is_file():
                    files.append(base / name)
    return files


def load_config(paths: Iterable[str] | None = None, extra: Config | None = None) -> Config:
    """Merge every config file (see module doc); unreadable files are logged and skipped."""
    merged = Config()
    for path in config_files(paths):
        loader_cls = PyFileConfigLoader if path.suffix == ".py" else JSONFileConfigLoader
        try:
            merged.merge(loader_cls(path.name, path=str(path.parent)).load_config())
        except Exception as exc:  # a broken user file must not break the CLI
            log.warning("smstudio: skipping config file %s: %s", path, exc)
    if extra:
        merged.merge(extra)
    return merged


def env_value(name: str, parse: Callable[[str], Any], fallback: Any) -> Any:
    """``parse(os.environ[name])``, or ``fallback`` (with a warning) when unset or invalid."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return fallback
    try:
        return parse(raw.strip())
    except (TypeError, ValueError):
        log.warning("smstudio: ignoring %s=%r (invalid); using %r", name, raw, fallback)
        return fallback


def parse_bool(raw: str) -> bool:
    """An environment variable's yes/no (for :func:`env_value`): the words ``units.parse_bool``
    accepts everywhere else (flags, query arguments); anything else is a ``ValueError``."""
    try:
        return units.parse_bool(raw, "value")
    except BadInput as exc:
        raise ValueError(str(exc)) from None


def effective_values(configurables: Iterable[Configurable]) -> dict[str, dict[str, Any]]:
    """``{section: {trait: value}}`` for every config trait, JSON-serialisable."""
    out: dict[str, dict[str, Any]] = {}
    for obj in configurables:
        section: dict[str, Any] = {}
        for name, trait in sorted(obj.traits(config=True).items()):
            value = getattr(obj, name)
            try:
                json.dumps(value)
            except TypeError:
                value = repr(value)
            section[name] = value
            del trait
        out[type(obj).__name__] = section
    return out
