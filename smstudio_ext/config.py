"""Reading the same configuration the Jupyter server gives the extension, for the CLI.

The extension (a jupyter_server ``ExtensionApp`` named ``smstudio_ext``) reads its own
``jupyter_smstudio_ext_config.{json,py}`` from every Jupyter config directory, then the server's
``jupyter_server_config.{json,py}`` on top. This is where lifecycle configs and images write the
admin's choices: ``jupyter_smstudio_ext_config.json``, never the user's own server config. (Files in
``jupyter_server_config.d/`` only enable extensions; jupyter_server ignores other settings there.)

Root never runs a user's config. A ``.py`` config file is Python that loading executes, and the
user's own config dirs (``~/.jupyter``, ``~/.local/etc/jupyter``) belong to the user, so:

* with ``SMSTUDIO_SYSTEM_CONFIG_ONLY=1`` (set by the lifecycle script for everything it runs as
  root) only the Python prefix's and the system's config dirs are read, never a user's;
* whenever the process runs as root, a config file is skipped with a warning unless root owns
  it and the folder it is in, and no one else may write to it.

Every file is read through ``fsutil.read_capped`` (``CONFIG_CAP``): a FIFO or a huge file named
like a config file is skipped with a warning instead of hanging or filling memory.
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
from .fsutil import MB, read_capped

log = logging.getLogger("smstudio_ext")

EXTENSION_CONFIG = "jupyter_smstudio_ext_config"
SERVER_CONFIG = "jupyter_server_config"
SYSTEM_CONFIG_ONLY_ENV = "SMSTUDIO_SYSTEM_CONFIG_ONLY"
CONFIG_CAP = 1 * MB  # a config file larger than this is not a config file


def system_config_only() -> bool:
    """True when ``SMSTUDIO_SYSTEM_CONFIG_ONLY`` says to read no user's config dir."""
    raw = os.environ.get(SYSTEM_CONFIG_ONLY_ENV, "").strip().lower()
    return raw in ("1", "true", "yes", "on")


def config_dirs() -> list[str]:
    """The Jupyter config path (highest priority first); without the user's own dirs when
    ``system_config_only()``: the Python prefix's ``etc/jupyter``, then the system's."""
    from jupyter_core import paths as jp

    if not system_config_only():
        return list(jp.jupyter_config_path())
    return list(dict.fromkeys([*jp.ENV_CONFIG_PATH, *jp.SYSTEM_CONFIG_PATH]))


def config_files(paths: Iterable[str] | None = None) -> list[Path]:
    """Config files in load order (lowest priority first), as the server applies them."""
    if paths is None:
        paths = config_dirs()
    dirs = [Path(d) for d in reversed(list(paths))]
    files: list[Path] = []
    for basename in (EXTENSION_CONFIG, SERVER_CONFIG):
        for base in dirs:
            for name in (f"{basename}.py", f"{basename}.json"):
                if (base / name).is_file():
                    files.append(base / name)
    return files


class _CappedJSONLoader(JSONFileConfigLoader):
    """traitlets' JSON loader reading through ``read_capped``."""

    def _read_file_as_dict(self) -> dict[str, Any]:
        data = json.loads(read_capped(self.full_filename, CONFIG_CAP, what="a config file"))
        if not isinstance(data, dict):
            raise ValueError(f"holds a JSON {type(data).__name__}, not an object")
        return data


def root_may_load(path: Path) -> str | None:
    """Why root must not load ``path`` (None = it may): root owns neither the file nor its
    folder, or someone else may write to it (loading a .py config runs it)."""
    try:
        link, target, folder = os.lstat(path), os.stat(path), os.stat(path.parent)
    except OSError as exc:
        return f"cannot stat it ({exc.strerror or exc})"
    if link.st_uid != 0 or target.st_uid != 0 or folder.st_uid != 0:
        return "running as root, and root does not own it or its folder"
    if target.st_mode & 0o022:
        return "running as root, and others may write to it"
    return None


def load_config_file(path: str | os.PathLike[str]) -> Config:
    """One config file (``.py`` or JSON), read through ``read_capped``; raises what the
    loaders raise (``OSError`` subclasses for unreadable, refused or oversized files)."""
    p = Path(path)
    read_capped(p, CONFIG_CAP, what="a config file")  # a FIFO or a huge file: refused here
    loader_cls = PyFileConfigLoader if p.suffix == ".py" else _CappedJSONLoader
    return loader_cls(p.name, path=str(p.parent)).load_config()


def load_config(paths: Iterable[str] | None = None, extra: Config | None = None) -> Config:
    """Merge every config file (see module doc); unreadable files are logged and skipped."""
    merged = Config()
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    for path in config_files(paths):
        why = root_may_load(path) if as_root else None
        if why:
            log.warning("smstudio: skipping config file %s: %s", path, why)
            continue
        try:
            merged.merge(load_config_file(path))
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
