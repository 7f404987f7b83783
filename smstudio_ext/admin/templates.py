"""Find the lifecycle and image templates, installed or in a source checkout.

An installed wheel carries them as package data in ``smstudio_ext/_templates/{lifecycle,images}``
(pyproject's force-include); a source checkout has them at the repository root. The first that
holds the file wins; a missing template is a packaging bug, reported with every place looked at.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SmStudioError

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def template_roots() -> list[Path]:
    return [PACKAGE_DIR / "_templates", PACKAGE_DIR.parent]


def template_path(relpath: str) -> Path:
    """``relpath`` like ``lifecycle/common.sh`` → the file to read."""
    tried = []
    for root in template_roots():
        path = root / relpath
        if path.is_file():
            return path
        tried.append(str(path))
    raise SmStudioError(f"template {relpath} not found (looked in {', '.join(tried)})")


def read_template(relpath: str) -> str:
    return template_path(relpath).read_text(encoding="utf-8")
