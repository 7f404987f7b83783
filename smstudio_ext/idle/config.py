"""The ``IdleShutdown`` config section: what counts as activity, how long is too long, what to do.

Admins set it in ``jupyter_smstudio_ext_config.json`` (an LCC writes it) or through
``SMSTUDIO_IDLE_*`` environment variables; users can only move the timeout within the admin's
bounds (``PUT smstudio/idle/settings``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from traitlets import Bool, Dict, Float, Int, List, TraitError, Unicode, default, validate
from traitlets.config import Configurable

from ..config import env_value, parse_bool

log = logging.getLogger("smstudio_ext")

PLATFORM_TIMESTAMP_FILE = "/tmp/.sagemaker-last-active-timestamp"

# The largest timeout anyone may set, admins included: the platform's own maximum
# (IdleTimeoutInMinutes, botocore model: 60..525600 = 365 days). Beyond it, datetime arithmetic
# overflows (a user's 1e14 minutes broke the idle API for good, issue 16).
TIMEOUT_CEILING_MINUTES = 525600
DEFAULT_MAX_TIMEOUT_MINUTES = 7 * 24 * 60

# interactive monitors: a terminal showing one is not working (word prefixes, see
# processes.matches_command)
DEFAULT_MONITOR_COMMANDS = ["top", "htop", "watch", "less", "tail -f", "tail -F", "tail --follow"]


def _optional_int(raw: str) -> int | None:
    return None if raw.lower() in ("none", "null", "") else int(raw)


class IdleShutdown(Configurable):
    """Idle auto-shutdown: activity signals, the idle decision and the shutdown action."""

    enabled = Bool(
        help="Run the idle monitor and shut idle apps down. Env: SMSTUDIO_IDLE_ENABLED."
    ).tag(config=True)

    timeout_minutes = Int(
        help="Minutes with no activity signal before the app is shut down. "
        "Env: SMSTUDIO_IDLE_TIMEOUT_MINUTES.",
    ).tag(config=True)

    min_timeout_minutes = Int(
        help="Admin bound: the smallest timeout a user may choose. "
        "Env: SMSTUDIO_IDLE_MIN_TIMEOUT_MINUTES.",
    ).tag(config=True)

    max_timeout_minutes = Int(
        allow_none=True,
        help="Admin bound: the largest timeout a user may choose (default 10080 = 7 days; "
        "None = 525600, the platform's own maximum, which nobody can exceed). "
        "Env: SMSTUDIO_IDLE_MAX_TIMEOUT_MINUTES.",
    ).tag(config=True)

    check_interval_seconds = Float(
        60.0, help="Seconds between two checks (shutdown happens within timeout + one interval)."
    ).tag(config=True)

    warning_minutes = Int(
        10,
        help="Minutes before the shutdown during which the state is 'warning' (panel countdown).",
    ).tag(config=True)

    grace_minutes = Int(
        30,
        help="No shutdown within this many minutes of the app's start (or the server's, "
        "whichever is later).",
    ).tag(config=True)

    dry_run = Bool(
        help="Decide and report what would be deleted, delete nothing. Env: SMSTUDIO_IDLE_DRY_RUN."
    ).tag(config=True)

    allow_user_disable = Bool(
        False,
        help="Whether users may turn idle shutdown off or into dry-run from the panel/CLI.",
    ).tag(config=True)

    app_type_timeouts = Dict(
        value_trait=Int(),
        help="Timeout (minutes) per app type, e.g. {'KernelGateway': 60}; clamped to the bounds.",
    ).tag(config=True)

    instance_type_timeouts = Dict(
        value_trait=Int(),
        help="Timeout (minutes) per instance type; keys are shell patterns, e.g. "
        "{'ml.g*': 30, 'ml.t3.*': 240}. The most specific (longest) matching pattern wins over "
        "app_type_timeouts; clamped to the bounds.",
    ).tag(config=True)

    cpu_threshold_percent = Float(
        10.0,
        help="A kernel or terminal process tree, or a user process outside the server, using "
        "more CPU than this (percent of one core, averaged between checks) is active.",
    ).tag(config=True)

    gpu_threshold_percent = Float(
        10.0, help="GPU utilization (percent) above which the GPU signal is active."
    ).tag(config=True)

    count_connections = Bool(
        False,
        help="Whether a kernel with a connected (but idle) browser counts as active.",
    ).tag(config=True)

    starting_timeout_minutes = Float(
        5.0,
        help="A kernel still 'starting' after this many minutes counts as idle (hung), not active.",
    ).tag(config=True)

    watch_user_processes = Bool(
        True,
        help="Count the CPU of the user's processes outside the server (e.g. a nohup job "
        "whose terminal was closed).",
    ).tag(config=True)

    user_process_uids = List(
        Int(),
        help="UIDs whose processes are the user's (default: the server's own UID).",
    ).tag(config=True)

    count_root_processes = Bool(
        None,
        allow_none=True,
        help="Whether root's processes (uid 0) outside the server count as the user's: in a "
        "Studio space the user has passwordless sudo, so `sudo python train.py` is their work. "
        "None (default) = yes in Studio (spaces and Classic), no locally.",
    ).tag(config=True)

    terminal_monitor_commands = List(
        Unicode(),
        default_value=list(DEFAULT_MONITOR_COMMANDS),
        help="Interactive monitors that do not count as work when they are a terminal's "
        "foreground job (any other foreground job does: `sleep 900 && python train.py`, a "
        "download). Each entry is a word prefix of the command line, the program by its name, "
        "words as shell globs: 'top' matches `top -d 1`, 'tail -f' matches `tail -f log` "
        "(not `tail log`).",
    ).tag(config=True)

    ignore_processes = List(
        Unicode(),
        help="Regular expressions; processes whose command line matches one are never activity.",
    ).tag(config=True)

    gpu_command = List(
        Unicode(),
        default_value=[
            "nvidia-smi",
            "--query-gpu=utilization.gpu",
            "--format=csv,noheader,nounits",
        ],
        help="Command printing one GPU utilization percentage per line (used when pynvml "
        "is not installed).",
    ).tag(config=True)

    last_active_file = Unicode(
        help="The platform's last-activity file (read by SageMaker Distribution's activity "
        "monitor, GET /api/idle; its path is fixed there). Someone else's newer timestamp there "
        "counts as activity; while our signals say the app is active we write it "
        "(feed_platform). Empty = neither. Env: SMSTUDIO_IDLE_LAST_ACTIVE_FILE (sandboxes).",
    ).tag(config=True)

    feed_platform = Bool(
        None,
        allow_none=True,
        help="Keep last_active_file current while our signals say the app is active, so "
        "Studio's own idle shutdown (AppLifecycleManagement.IdleSettings) never stops running "
        "work it cannot see (a silent busy cell, a nohup job, a GPU job). None (default) = in "
        "Studio spaces only.",
    ).tag(config=True)

    platform_feed_seconds = Float(
        300.0,
        help="Write last_active_file at most this often while active (the platform's shortest "
        "idle timeout is 60 minutes: a few minutes' staleness never matters).",
    ).tag(config=True)

    platform_settings_minutes = Float(
        30.0,
        help="How often the platform's effective IdleSettings (DescribeDomain/Space/UserProfile) "
        "are read again for the mode shown in the panel and `smstudio idle status`.",
    ).tag(config=True)

    max_keepalive_minutes = Int(
        720, help="Admin bound: the longest keep-alive a user may ask for."
    ).tag(config=True)

    serve_api_idle = Bool(
        help="Serve GET <base_url>/api/idle ({'lastActiveTimestamp'}) for Studio's built-in "
        "idle shutdown, from the same source as last_active_file. Off by default; never served "
        "when SMD's jupyter_activity_monitor_extension is enabled (it owns the route, and we "
        "feed it through last_active_file). Env: SMSTUDIO_IDLE_API.",
    ).tag(config=True)

    delete_jupyter_server = Bool(
        False,
        help="Studio Classic: also delete the JupyterServer app when it and every KernelGateway "
        "app are idle (it runs on a free instance, so off by default).",
    ).tag(config=True)

    delete_max_attempts = Int(5, help="DeleteApp attempts per shutdown (throttling, 5xx).").tag(
        config=True
    )

    delete_backoff_seconds = Float(
        2.0, help="First backoff between DeleteApp attempts (doubles each time, max 60 s)."
    ).tag(config=True)

    denied_retry_minutes = Float(
        15.0,
        help="After AccessDenied on DeleteApp, minutes before trying again (the error is "
        "logged once and shown in the panel meanwhile).",
    ).tag(config=True)

    backup_timeout_seconds = Float(
        300.0,
        help="Time bound of the final backup taken before a Studio (spaces) shutdown.",
    ).tag(config=True)

    history_size = Int(50, help="How many past decisions GET smstudio/idle returns.").tag(
        config=True
    )

    settings_file = Unicode(
        "",
        help="Where user settings (PUT smstudio/idle/settings) are kept; empty = "
        "<home>/.smstudio/idle-settings.json.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # traitlets skips validation when a config value equals the static default (e.g. a
        # timeout of 0 for an ``Int()`` whose real default is dynamic): validate everything once.
        from traitlets import Bunch

        for name, trait in self.traits(config=True).items():
            validator = self._trait_validators.get(name)
            if validator is not None:
                validator(self, Bunch(trait=trait, value=getattr(self, name), owner=self))

    # --- environment defaults -------------------------------------------------------------
    @default("enabled")
    def _default_enabled(self) -> bool:
        return bool(env_value("SMSTUDIO_IDLE_ENABLED", parse_bool, True))

    @default("timeout_minutes")
    def _default_timeout(self) -> int:
        return int(env_value("SMSTUDIO_IDLE_TIMEOUT_MINUTES", int, 120))

    @default("min_timeout_minutes")
    def _default_min(self) -> int:
        return int(env_value("SMSTUDIO_IDLE_MIN_TIMEOUT_MINUTES", int, 15))

    @default("max_timeout_minutes")
    def _default_max(self) -> int | None:
        return env_value(
            "SMSTUDIO_IDLE_MAX_TIMEOUT_MINUTES", _optional_int, DEFAULT_MAX_TIMEOUT_MINUTES
        )

    @default("dry_run")
    def _default_dry_run(self) -> bool:
        return bool(env_value("SMSTUDIO_IDLE_DRY_RUN", parse_bool, False))

    @default("serve_api_idle")
    def _default_api(self) -> bool:
        return bool(env_value("SMSTUDIO_IDLE_API", parse_bool, False))

    @default("last_active_file")
    def _default_last_active_file(self) -> str:
        return str(env_value("SMSTUDIO_IDLE_LAST_ACTIVE_FILE", str, PLATFORM_TIMESTAMP_FILE))

    @default("user_process_uids")
    def _default_uids(self) -> list[int]:
        return [os.getuid()] if hasattr(os, "getuid") else []

    # --- validation ----------------------------------------------------------------------
    @validate("timeout_minutes", "min_timeout_minutes", "max_keepalive_minutes")
    def _positive_minutes(self, proposal: Any) -> int:
        value = proposal["value"]
        if not 1 <= value <= TIMEOUT_CEILING_MINUTES:
            raise TraitError(
                f"{proposal['trait'].name} must be 1..{TIMEOUT_CEILING_MINUTES} minutes, "
                f"got {value}"
            )
        return value

    @validate("max_timeout_minutes")
    def _max_minutes(self, proposal: Any) -> int | None:
        value = proposal["value"]
        if value is not None and not 1 <= value <= TIMEOUT_CEILING_MINUTES:
            raise TraitError(
                f"max_timeout_minutes must be 1..{TIMEOUT_CEILING_MINUTES} (or None), got {value}"
            )
        return value

    @validate("warning_minutes", "grace_minutes", "history_size")
    def _non_negative_int(self, proposal: Any) -> int:
        value = proposal["value"]
        if value < 0:
            raise TraitError(f"{proposal['trait'].name} must be >= 0, got {value}")
        return value

    @validate(
        "check_interval_seconds",
        "delete_backoff_seconds",
        "backup_timeout_seconds",
        "denied_retry_minutes",
        "starting_timeout_minutes",
        "platform_feed_seconds",
        "platform_settings_minutes",
    )
    def _positive_float(self, proposal: Any) -> float:
        value = proposal["value"]
        # a year bounds any of these; inf or NaN would break the arithmetic
        if not 0 < value <= TIMEOUT_CEILING_MINUTES * 60:
            raise TraitError(f"{proposal['trait'].name} must be > 0 and finite, got {value}")
        return value

    @validate("cpu_threshold_percent", "gpu_threshold_percent")
    def _percent(self, proposal: Any) -> float:
        value = proposal["value"]
        if not 0 <= value <= 100 * max(os.cpu_count() or 1, 1):
            raise TraitError(f"{proposal['trait'].name} must be a percentage, got {value}")
        return value

    @validate("delete_max_attempts")
    def _attempts(self, proposal: Any) -> int:
        value = proposal["value"]
        if not 1 <= value <= 20:
            raise TraitError(f"delete_max_attempts must be 1..20, got {value}")
        return value

    @validate("app_type_timeouts", "instance_type_timeouts")
    def _timeouts(self, proposal: Any) -> dict[str, int]:
        for key, minutes in proposal["value"].items():
            if not 1 <= minutes <= TIMEOUT_CEILING_MINUTES:
                raise TraitError(
                    f"{proposal['trait'].name}[{key!r}] must be 1..{TIMEOUT_CEILING_MINUTES} "
                    f"minutes, got {minutes}"
                )
        return proposal["value"]

    @validate("terminal_monitor_commands")
    def _commands(self, proposal: Any) -> list[str]:
        for entry in proposal["value"]:
            if not entry.split():
                raise TraitError("terminal_monitor_commands: an empty entry would match nothing")
        return proposal["value"]

    @validate("ignore_processes")
    def _regexes(self, proposal: Any) -> list[str]:
        import re

        for pattern in proposal["value"]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise TraitError(
                    f"ignore_processes: bad regular expression {pattern!r}: {exc}"
                ) from exc
        return proposal["value"]

    def effective_max_timeout(self) -> int:
        """The largest timeout a user may set: the admin's bound, or the hard ceiling."""
        hi = self.max_timeout_minutes
        return TIMEOUT_CEILING_MINUTES if hi is None else hi

    def bounds_problem(self) -> str | None:
        """A message when the admin bounds contradict each other or the timeout (else None)."""
        lo, hi = self.min_timeout_minutes, self.max_timeout_minutes
        if hi is not None and lo > hi:
            return f"min_timeout_minutes ({lo}) is above max_timeout_minutes ({hi})"
        return None
