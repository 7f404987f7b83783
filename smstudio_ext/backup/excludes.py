"""What is not backed up: default excludes, config patterns and a gitignore-style ``~/.smstudioignore``.

Patterns follow gitignore: ``#`` comments, ``!`` re-includes, a trailing ``/`` matches only
directories, a pattern with a ``/`` in it (other than at the end) is anchored at the source
root, otherwise it matches a name at any depth; ``*`` and ``?`` never match ``/``, ``**``
matches any number of directories, ``[...]`` is a character class. Last match wins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

IGNORE_FILE = ".smstudioignore"

DEFAULT_EXCLUDES = (
    ".cache/",
    "__pycache__/",
    ".ipynb_checkpoints/",
    "/.conda/pkgs/",
    "/.local/share/Trash/",
    ".Trash/",
    ".Trash-*/",
    "/lost+found/",
    "/.pip/cache/",
    "/.npm/_cacache/",
)


def _translate(glob: str) -> str:
    out = []
    i = 0
    n = len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob[i : i + 2] == "**":
                # "**/" = zero or more directories; "/**" at the end = everything below
                if glob[i : i + 3] == "**/":
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = glob.find("]", i + 2)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class Rule:
    __slots__ = ("dir_only", "negate", "pattern", "regex")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        p = pattern
        self.negate = p.startswith("!")
        if self.negate:
            p = p[1:]
        self.dir_only = p.endswith("/")
        p = p.rstrip("/")
        anchored = "/" in p
        p = p.lstrip("/")
        body = _translate(p)
        prefix = "" if anchored else "(?:.*/)?"
        self.regex = re.compile(f"^{prefix}{body}$", re.DOTALL)


class Excludes:
    """Decides per relative path (``/``-separated, no leading slash) whether to skip it."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.rules = []
        for raw in patterns:
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            line = line.rstrip(" ") if not line.endswith("\\ ") else line
            self.rules.append(Rule(line))
        self._has_negation = any(r.negate for r in self.rules)
        # Without "!" rules, one alternation per kind answers in a single regex call.
        self._fast: dict[bool, re.Pattern[str] | None] = {}
        if not self._has_negation:
            for is_dir in (True, False):
                parts = [r.regex.pattern for r in self.rules if is_dir or not r.dir_only]
                self._fast[is_dir] = (
                    re.compile("|".join(f"(?:{p})" for p in parts), re.DOTALL) if parts else None
                )

    def excluded(self, relpath: str, is_dir: bool) -> bool:
        if not self._has_negation:
            fast = self._fast[is_dir]
            return bool(fast is not None and fast.match(relpath))
        result = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if result != rule.negate:
                continue  # cannot change the outcome
            if rule.regex.match(relpath):
                result = not rule.negate
        return result


def load_excludes(
    source: str,
    *,
    default_excludes: bool = True,
    extra: Iterable[str] = (),
    ignore_file: str | None = None,
) -> Excludes:
    patterns: list[str] = list(DEFAULT_EXCLUDES) if default_excludes else []
    patterns.extend(extra)
    path = ignore_file or os.path.join(source, IGNORE_FILE)
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            patterns.extend(fh.read().splitlines())
    except FileNotFoundError:
        pass
    except OSError:
        pass
    return Excludes(patterns)
