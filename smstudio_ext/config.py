"""Reading the same configuration the Jupyter server reads, for the CLI and ``config show``.

Order (later wins), for each directory of ``jupyter --paths`` from lowest to highest priority:
``jupyter_server_config.d/*.json`` (sorted), ``jupyter_server_config.json``,
``jupyter_server_config.py``. This is what an LCC-written ``jupyter_server_config.d/smstudio.json``
feeds to the running server too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from traitlets.config import Config, Configurable
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

log = logging.getLogger("smstudio_ext")

CONFIG_BASENAME = "jupyter_server_config"


def config_files(paths: Iterable[str] | None = None) -> list[Path]:
    """Config files in load order (lowest priority first)."""
    if paths is None:
        from jupyter_core.paths import jupyter_config_path

        paths = jupyter_config_path()
    files: list[Path] = []
    for directory in reversed(list(paths)):
        base = Path(directory)
        d = base / f"{CONFIG_BASENAME}.d"
        if d.is_dir():
            files.extend(sorted(d.glob("*.json")))
        for name in (f"{CONFIG_BASENAME}.json", f"{CONFIG_BASENAME}.py"):
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
