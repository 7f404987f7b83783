"""Putting the persisted envs folder in ``~/.condarc`` without losing the user's file.

A line-based edit, not a YAML load/dump (that would drop comments and reorder keys): the folder
is added first to the top-level ``envs_dirs`` list (so ``conda create -n X`` lands there too),
in the list's own style (block or one-line flow). The result is parsed again and must equal the
original plus our entry; otherwise, or when the file is not valid YAML, the file is left
untouched and a warning says why. Written atomically, keeping the file's mode.

A symlinked ``~/.condarc`` (dotfile repositories) is edited where it points, but root never
follows another user's link: it could aim the write at any file on the system (the lifecycle
script runs this as the home's owner; a Studio Classic server running as root follows its own).
Read through ``fsutil.read_capped``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

from ..fsutil import MB, atomic_write, foreign_symlink, read_capped_text

log = logging.getLogger("smstudio_ext")

_PLAIN_RE = re.compile(r"^[A-Za-z0-9_~/.+@-][A-Za-z0-9_~/.+@:-]*$")


@dataclass
class CondarcResult:
    path: str
    status: str  # unchanged | updated | created | invalid | error
    message: str = ""
    added: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in ("unchanged", "updated", "created")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "message": self.message,
            "added": list(self.added),
        }


def _norm(value: Any) -> str:
    return os.path.normpath(os.path.expanduser(str(value))) if value is not None else ""


def _quote(value: str) -> str:
    return value if _PLAIN_RE.match(value) else json.dumps(value)


def _load(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def _key_line(lines: list[str], key: str) -> int | None:
    pattern = re.compile(rf"^{re.escape(key)}\s*:(\s|$)")
    for i, line in enumerate(lines):
        if pattern.match(line):
            return i
    return None


def _add_first(lines: list[str], key: str, value: str) -> list[str] | None:
    """Lines with ``value`` first in the top-level list ``key``; None if we cannot edit safely."""
    item = _quote(value)
    i = _key_line(lines, key)
    if i is None:
        out = list(lines)
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        return [*out, f"{key}:\n", f"  - {item}\n"]
    line = lines[i]
    rest = line.split(":", 1)[1]
    m_comment = re.match(r"^(.*?)(\s+#.*)?$", rest.rstrip("\n"))
    body = (m_comment.group(1) if m_comment else rest).strip()
    comment = (m_comment.group(2) or "") if m_comment else ""
    nl = "\n" if line.endswith("\n") else ""
    if body in ("", "~", "null", "[]"):
        if body == "":  # block list (or empty) follows: indent like its first item
            indent = "  "
            for nxt in lines[i + 1 :]:
                stripped = nxt.lstrip()
                if not stripped.strip() or stripped.startswith("#"):
                    continue
                if stripped.startswith("- ") or stripped.rstrip() == "-":
                    indent = nxt[: len(nxt) - len(stripped)]
                break
            return [*lines[: i + 1], f"{indent}- {item}\n", *lines[i + 1 :]]
        return [*lines[:i], f"{key}:{comment}\n", f"  - {item}\n", *lines[i + 1 :]]
    m = re.match(r"^\[(.*)\]$", body)
    if m:
        inner = m.group(1).strip()
        new = f"[{item}, {inner}]" if inner else f"[{item}]"
        return [*lines[:i], f"{key}: {new}{comment}{nl}", *lines[i + 1 :]]
    return None  # a scalar or a multi-line flow list: not ours to rewrite


def plan_condarc(text: str, entries: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """(new text, keys changed) adding each ``(key, folder)``; raises ValueError if unsafe."""
    try:
        data = _load(text) if text.strip() else {}
    except Exception as exc:
        raise ValueError(f"it is not valid YAML ({str(exc).splitlines()[0]})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("its top level is not a mapping of settings")
    lines = text.splitlines(keepends=True)
    changed: list[str] = []
    expected = dict(data)
    for key, value in entries:
        current = data.get(key)
        if current is not None and not isinstance(current, list):
            raise ValueError(f"{key} is not a list")
        if _norm(value) in {_norm(v) for v in current or []}:
            continue
        new_lines = _add_first(lines, key, value)
        if new_lines is None:
            raise ValueError(
                f"{key} is written in a form this tool does not edit; add {value} by hand"
            )
        lines = new_lines
        expected[key] = [value, *(current or [])]
        changed.append(key)
    new_text = "".join(lines)
    if changed:
        try:
            reparsed = _load(new_text)
        except Exception as exc:
            raise ValueError(f"the edited file would not parse ({exc}); left untouched") from exc
        if reparsed != expected:
            raise ValueError("the edit would change other settings; left untouched")
    return new_text, changed


def ensure_condarc(path: str, envs_dir: str, pkgs_dir: str = "") -> CondarcResult:
    """Make ``path`` list ``envs_dir`` in ``envs_dirs`` (and ``pkgs_dir`` in ``pkgs_dirs``)."""
    entries = [("envs_dirs", envs_dir)]
    if pkgs_dir:
        entries.append(("pkgs_dirs", pkgs_dir))
    if _as_root() and foreign_symlink(path):
        return _warn(
            CondarcResult(
                path,
                "error",
                f"{path} left untouched: it is another user's symbolic link, and this runs as "
                "root (root never writes through a user's link); run it as the home's owner",
            )
        )
    try:
        text = read_capped_text(path, CONDARC_CAP, what="a .condarc")
        exists = True
    except FileNotFoundError:
        text, exists = "", False
    except (OSError, UnicodeDecodeError) as exc:
        return _warn(CondarcResult(path, "error", f"cannot read {path}: {exc}"))
    try:
        new_text, changed = plan_condarc(text, entries)
    except ValueError as exc:
        return _warn(
            CondarcResult(
                path,
                "invalid",
                f"{path} left untouched: {exc}. Add {envs_dir} to envs_dirs yourself so conda "
                "finds the persisted envs.",
            )
        )
    if not changed:
        return CondarcResult(path, "unchanged", f"{path} already lists {envs_dir}")
    if not exists:
        new_text = (
            "# envs_dirs added by smstudio so environments persist on the home volume\n" + new_text
        )
    try:
        path = os.path.realpath(path)  # keep a symlinked ~/.condarc (dotfile repos) a symlink
        mode = os.stat(path).st_mode & 0o7777 if exists else 0o644
        directory = os.path.dirname(path) or "."
        os.makedirs(directory, exist_ok=True)
        atomic_write(path, new_text, mode=mode, fsync=False)
    except OSError as exc:
        return _warn(CondarcResult(path, "error", f"cannot write {path}: {exc.strerror or exc}"))
    status = "updated" if exists else "created"
    log.info("smstudio conda: %s %s (%s)", status, path, ", ".join(changed))
    return CondarcResult(
        path, status, f"{path}: added {envs_dir} to {', '.join(changed)}", tuple(changed)
    )


CONDARC_CAP = 1 * MB


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _warn(result: CondarcResult) -> CondarcResult:
    log.warning("smstudio conda: %s", result.message)
    return result
