"""The floor plan, checked: doors (``handlers/``, ``cli/``, the extension ``app.py``) import
engines, never the other way round, and no engine needs tornado. Read from the source with
``ast`` (imports inside functions count too), so a lazy import cannot hide a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import smstudio_ext

PACKAGE = Path(smstudio_ext.__file__).parent
DOORS = ("handlers", "cli")
# the doors themselves and the two entry points that wire them
NOT_ENGINES = {"handlers", "cli", "app.py", "__main__.py"}


def _module_name(path: Path) -> list[str]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every module ``path`` imports (``source``: its text, read when None), resolved to
    absolute dotted names."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, str(path))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # ``from .. import handlers`` names the door as an attribute
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def _engine_files() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in NOT_ENGINES
    ]


def test_the_walk_sees_every_engine_package():
    tops = {p.relative_to(PACKAGE).parts[0] for p in _engine_files()}
    assert {"idle", "backup", "conda", "insights", "admin", "aws.py", "testing"} <= tops


def test_no_engine_imports_a_door_or_tornado():
    bad = []
    for path in _engine_files():
        for line, module in _imports(path):
            parts = module.split(".")
            door = parts[0] == "smstudio_ext" and len(parts) > 1 and parts[1] in DOORS
            if door or parts[0] == "tornado":
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    assert not bad, "engines must not import handlers/, cli/ or tornado:\n" + "\n".join(bad)


def test_the_checker_sees_lazy_and_relative_imports():
    """A door imported inside a function, or as ``from .. import cli``, is still found."""
    source = "def f():\n    from ..handlers.idle import X\n    from .. import cli\n"
    found = {m for _, m in _imports(PACKAGE / "idle" / "sample.py", source)}
    assert {"smstudio_ext.handlers.idle", "smstudio_ext.cli"} <= found
