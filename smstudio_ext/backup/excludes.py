"""What is not backed up: default excludes, secrets, config patterns and a gitignore-style ``~/.smstudioignore``.

Patterns follow gitignore: ``#`` comments, ``!`` re-includes, a trailing ``/`` matches only
directories, a pattern with a ``/`` in it (other than at the end) is anchored at the source
root, otherwise it matches a name at any depth; ``*`` and ``?`` never match ``/``, ``**``
matches any number of directories, ``[...]`` is a character class. Last match wins.

Three lists besides the user's: the restore's own files (always), well-known secret files
(``SECRET_EXCLUDES``, unless ``include_secrets``; a ``!`` line there makes an exception to
that list only, and the user's ``!`` lines do not re-include a secret), and the default
excludes (caches, trash). A pattern that does not compile (``[z-a]``) is reported and skipped:
a bad line in ``~/.smstudioignore`` must not stop every backup (the final one before an idle
shutdown included); ``--exclude`` on the command line is checked up front instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .capped import Unfit, read_capped

IGNORE_FILE = ".smstudioignore"
IGNORE_MAX = 1 << 20  # a larger ~/.smstudioignore is reported and not used

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
    "*.~smstudio-restore",  # what restores before the private temporary directory left
)

# Never backed up: a restore's marker and private temporary directories (``journal``).
ALWAYS_EXCLUDES = (".smstudio-restore.json", ".smstudio-restore-????????/")

# Credentials and session secrets at their well-known places: not backed up unless
# ``HomeBackup.include_secrets`` (``--include-secrets``). Names, not content: telling a key by
# its first line would mean opening every small file on every run (a no-change backup opens
# none), so a private key under another name is backed up: name it here or in
# ~/.smstudioignore.
SECRET_EXCLUDES = (
    "**/.aws/credentials",  # AWS access keys
    "**/.aws/sso/cache/",  # AWS SSO access tokens
    "**/.aws/cli/cache/",  # cached role credentials
    "**/.ssh/id_*",  # SSH private keys ...
    "!**/.ssh/id_*.pub",  # ... but not their public halves
    ".git-credentials",  # git's credential store
    "**/.config/git/credentials",
    ".netrc",  # passwords for ftp, curl, pip, git over https
    "_netrc",
    ".pgpass",  # PostgreSQL passwords
    ".pypirc",  # PyPI upload tokens
    "**/.docker/config.json",  # registry credentials
    "**/.kaggle/kaggle.json",  # Kaggle API key
    "**/.huggingface/token",  # Hugging Face token (the newer one is under .cache/)
    "**/.config/gh/hosts.yml",  # GitHub CLI token
    ".databrickscfg",  # Databricks tokens
    ".vault-token",  # HashiCorp Vault token
    "/.local/share/jupyter/runtime/",  # Jupyter server token, kernel connection keys
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
        """``re.error`` when the pattern does not compile (e.g. ``[z-a]``)."""
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


def _lines(patterns: Iterable[str]) -> Iterable[str]:
    """The pattern lines that count (no blanks, no comments; trailing spaces trimmed as git
    does unless escaped)."""
    for raw in patterns:
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        yield line.rstrip(" ") if not line.endswith("\\ ") else line


def bad_pattern(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable exclude pattern, or None."""
    for line in _lines([pattern]):
        try:
            Rule(line)
        except (re.error, RecursionError, OverflowError) as exc:
            return getattr(exc, "msg", None) or str(exc)
    return None


def _alternation(rules: list[Rule], is_dir: bool) -> re.Pattern[str] | None:
    parts = [r.regex.pattern for r in rules if is_dir or not r.dir_only]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.DOTALL) if parts else None


class Excludes:
    """Decides per relative path (``/``-separated, no leading slash) whether to skip it.

    ``patterns``: the user's (and the defaults), each a line or ``(line, where it comes
    from)``; ``secrets``: the secret list (empty: secrets are backed up). Lines that do not
    compile are skipped and described in ``problems``."""

    def __init__(
        self,
        patterns: Iterable[str | tuple[str, str]],
        *,
        secrets: Iterable[str] = (),
        always: Iterable[str] = ALWAYS_EXCLUDES,
    ) -> None:
        self.problems: list[str] = []
        self.rules = self._compile(patterns)
        fixed = self._compile(always)
        secret_rules = self._compile(secrets)
        secret_pos = [r for r in secret_rules if not r.negate]
        secret_neg = [r for r in secret_rules if r.negate]
        self._has_negation = any(r.negate for r in self.rules)
        self._fast: dict[bool, re.Pattern[str] | None] = {}
        self._plain: dict[bool, re.Pattern[str] | None] = {}
        self._secret: dict[bool, re.Pattern[str] | None] = {}
        self._secret_neg: dict[bool, re.Pattern[str] | None] = {}
        self._fixed: dict[bool, re.Pattern[str] | None] = {}
        for is_dir in (True, False):
            # Without "!" rules of the user's, one alternation per kind answers in a single
            # regex call (the secret list's exceptions are asked only when it matched).
            plain = fixed + ([] if self._has_negation else self.rules)
            self._plain[is_dir] = _alternation(plain, is_dir)
            self._fast[is_dir] = _alternation(plain + secret_pos, is_dir)
            self._secret[is_dir] = _alternation(secret_pos, is_dir)
            self._secret_neg[is_dir] = _alternation(
                [Rule(r.pattern[1:]) for r in secret_neg], is_dir
            )
            self._fixed[is_dir] = _alternation(fixed, is_dir)

    def _compile(self, patterns: Iterable[str | tuple[str, str]]) -> list[Rule]:
        rules = []
        for item in patterns:
            line, where = (item, "") if isinstance(item, str) else item
            for clean in _lines([line]):
                try:
                    rules.append(Rule(clean))
                except (re.error, RecursionError, OverflowError) as exc:
                    origin = f" ({where})" if where else ""
                    why = getattr(exc, "msg", None) or str(exc)
                    self.problems.append(f"exclude pattern {clean[:200]!r}{origin} ignored: {why}")
        return rules

    def _secret_match(self, relpath: str, is_dir: bool) -> bool:
        pos = self._secret[is_dir]
        if pos is None or not pos.match(relpath):
            return False
        neg = self._secret_neg[is_dir]
        return neg is None or not neg.match(relpath)

    def excluded(self, relpath: str, is_dir: bool) -> bool:
        if not self._has_negation:
            fast = self._fast[is_dir]
            if fast is None or not fast.match(relpath):
                return False
            neg = self._secret_neg[is_dir]
            if neg is None or not neg.match(relpath):
                return True
            # an exception of the secret list (a public key): excluded only by another rule
            plain = self._plain[is_dir]
            return bool(plain is not None and plain.match(relpath))
        fixed = self._fixed[is_dir]
        if fixed is not None and fixed.match(relpath):
            return True
        if self._secret_match(relpath, is_dir):
            return True
        result = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if result != rule.negate:
                continue  # cannot change the outcome
            if rule.regex.match(relpath):
                result = not rule.negate
        return result


def read_ignore_file(path: str) -> tuple[list[str], str | None]:
    """The lines of an ignore file (none when it is missing) and a problem, if any: a file
    that is not a regular file, cannot be read, or is larger than ``IGNORE_MAX`` is not
    used (and said so). Never blocks (``read_capped``): a FIFO there must not hang a backup."""
    try:
        data = read_capped(path, IGNORE_MAX)
    except FileNotFoundError:
        return [], None
    except OSError as exc:
        return [], f"{path} not used: {exc.strerror or exc}"
    except Unfit as exc:
        return [], f"{path} not used: {exc}"
    return data.decode("utf-8", errors="surrogateescape").splitlines(), None


@dataclass(frozen=True)
class LeaveOut:
    """What a door asks a backup to leave out, over the config (None: the config's choice)."""

    excludes: tuple[str, ...] = ()  # more patterns (``--exclude``)
    default_excludes: bool | None = None  # the default excludes (``--no-default-excludes``)
    include_secrets: bool | None = None  # back up secrets too (``--include-secrets``)


def load_excludes(
    source: str,
    *,
    default_excludes: bool = True,
    extra: Iterable[str | tuple[str, str]] = (),
    ignore_file: str | None = None,
    include_secrets: bool = False,
    secret_excludes: Iterable[str] = SECRET_EXCLUDES,
) -> Excludes:
    """The excludes of a backup of ``source``; bad lines are in the result's ``problems``."""
    patterns: list[str | tuple[str, str]] = list(DEFAULT_EXCLUDES) if default_excludes else []
    patterns.extend(extra)
    path = ignore_file or os.path.join(source, IGNORE_FILE)
    lines, problem = read_ignore_file(path)
    patterns.extend((line, f"{path} line {n}") for n, line in enumerate(lines, 1))
    excludes = Excludes(patterns, secrets=() if include_secrets else secret_excludes)
    if problem:
        excludes.problems.insert(0, problem)
    return excludes
