"""The user's idle choices: the timeout (within the admin's bounds) and, when the admin allows
it, turning idle shutdown off or into dry-run. Persisted as a small JSON file in the user's
home, read back at start and checked like a PUT smstudio/idle/settings."""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

from ..errors import BadInput
from ..fsutil import atomic_write
from .config import IdleShutdown
from .platform import read_small
from .policy import Policy

log = logging.getLogger("smstudio_ext")

SETTINGS_MAX_BYTES = 64 * 1024  # a settings file is a few dozen bytes: never read more
ALLOWED = ("timeout_minutes", "enabled", "dry_run")


class UserSettings:
    """The effective ``enabled``, ``dry_run`` and ``policy`` (the admin's config with the
    user's timeout). ``lock`` is the monitor's state lock: a change never lands in the middle
    of a decision."""

    def __init__(self, config: IdleShutdown, path: str | None, lock: threading.Lock) -> None:
        self.config = config
        self.path = path
        self._lock = lock
        self.enabled = config.enabled
        self.dry_run = config.dry_run
        self._timeout: int | None = None
        self.policy = self._build_policy()  # the admin's bounds, to check the saved settings
        self.ignored: str | None = None  # why the saved file (or part of it) was ignored
        self._load()
        self.policy = self._build_policy()

    def _build_policy(self) -> Policy:
        c = self.config
        return Policy(
            self._timeout or c.timeout_minutes,
            min_timeout_minutes=c.min_timeout_minutes,
            max_timeout_minutes=c.max_timeout_minutes,
            app_type_timeouts=c.app_type_timeouts,
            instance_type_timeouts=c.instance_type_timeouts,
            warning_minutes=c.warning_minutes,
            grace_minutes=c.grace_minutes,
            dry_run=self.dry_run,
            max_keepalive_minutes=c.max_keepalive_minutes,
        )

    def _load(self) -> None:
        """The user's saved settings, each value checked like a PUT. A bad file or value is
        ignored with the reason (``settings_ignored`` in the status), never an error: a value
        saved before the admin tightened the bounds, or by hand, must not break the idle API."""
        path = self.path
        if not path:
            return
        problems = []
        try:
            text = read_small(path, SETTINGS_MAX_BYTES + 1)
            if text is None:
                return
            if len(text) > SETTINGS_MAX_BYTES:
                raise ValueError(f"larger than {SETTINGS_MAX_BYTES} bytes")
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            self._ignore(f"ignored {path}: {exc}")
            return
        if data.get("timeout_minutes") is not None:
            try:
                self._timeout = self.policy.check_timeout(data["timeout_minutes"])
            except BadInput as exc:
                problems.append(f"timeout_minutes: {exc.message}")
        for key in ("enabled", "dry_run"):
            if key not in data:
                continue
            if not isinstance(data[key], bool):
                problems.append(f"{key}: not true or false ({data[key]!r:.40})")
            elif self.config.allow_user_disable:
                setattr(self, key, data[key])
            elif data[key] != getattr(self, key):
                problems.append(f"{key}: the admin does not allow users to change it")
        if problems:
            self._ignore(f"ignored in {path}: " + "; ".join(problems))

    def _ignore(self, why: str) -> None:
        self.ignored = why
        log.warning("smstudio idle: %s", why)

    def _save(self) -> None:
        if not self.path:
            return
        data = {"timeout_minutes": self._timeout}
        if self.config.allow_user_disable:
            data.update(enabled=self.enabled, dry_run=self.dry_run)
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        atomic_write(self.path, json.dumps(data), mode=0o600)

    def update(self, body: dict[str, Any]) -> None:
        """PUT smstudio/idle/settings: validate everything first, then apply (all or nothing)."""
        unknown = sorted(set(body) - set(ALLOWED))
        if unknown:
            raise BadInput(f"unknown setting(s): {', '.join(unknown)} (allowed: {sorted(ALLOWED)})")
        timeout = self._timeout
        if "timeout_minutes" in body:
            timeout = self.policy.check_timeout(body["timeout_minutes"])
        changes: dict[str, bool] = {}
        for key in ("enabled", "dry_run"):
            if key not in body:
                continue
            value = body[key]
            if not isinstance(value, bool):
                raise BadInput(f"{key} must be true or false, got {value!r}")
            weakens = (key == "enabled" and not value) or (key == "dry_run" and value)
            if weakens and value != getattr(self, key) and not self.config.allow_user_disable:
                raise BadInput(
                    f"the admin does not allow turning idle shutdown off or into dry-run "
                    f"(IdleShutdown.allow_user_disable); refused {key}={json.dumps(value)}"
                )
            changes[key] = value
        with self._lock:
            self._timeout = timeout
            for key, value in changes.items():
                setattr(self, key, value)
            self.policy = self._build_policy()
            self._save()
            self.ignored = None  # the user's new choice replaces the ignored file
        log.info("smstudio idle: settings changed: %s", json.dumps(body, sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "dry_run": self.dry_run,
            "timeout_minutes": self.policy.timeout_minutes,
            "bounds": {"min": self.policy.min_timeout, "max": self.policy.max_timeout},
        }
