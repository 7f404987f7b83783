"""Who and where we are: Studio Classic, Studio (spaces) or local, read from the resource metadata.

Studio writes ``/opt/ml/metadata/resource-metadata.json`` into every app. Its keys are not
formally documented (seen: AppType, DomainId, UserProfileName, SpaceName, ResourceArn,
ResourceName, AppImageVersion), so every one is optional here: a missing, empty, unreadable or
malformed file yields local mode with a warning that says why, never an exception.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from traitlets import Unicode, default
from traitlets.config import Configurable

from .fsutil import KB, ReadRefused, read_capped

log = logging.getLogger("smstudio_ext")

DEFAULT_METADATA_PATH = "/opt/ml/metadata/resource-metadata.json"
METADATA_CAP = 64 * KB  # the real file is a few hundred bytes
CLASSIC_APP_TYPES = ("JupyterServer", "KernelGateway")
SPACES_APP_TYPES = ("JupyterLab", "CodeEditor")
_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
)

StudioKind = Literal["classic", "spaces", "local"]


class Studio(Configurable):
    """Where the extension finds out which Studio app it runs in."""

    metadata_path = Unicode(
        help="Path of Studio's resource-metadata.json. Env: SMSTUDIO_METADATA_PATH.",
    ).tag(config=True)

    region = Unicode(
        "",
        help="AWS region; empty = from the resource ARN, then AWS_REGION / AWS_DEFAULT_REGION.",
    ).tag(config=True)

    home = Unicode(help="The user's home directory (Studio: /home/sagemaker-user).").tag(
        config=True
    )

    @default("metadata_path")
    def _default_metadata_path(self) -> str:
        return os.environ.get("SMSTUDIO_METADATA_PATH", DEFAULT_METADATA_PATH)

    @default("home")
    def _default_home(self) -> str:
        return os.path.expanduser("~")


@dataclass(frozen=True)
class StudioContext:
    """A snapshot of where we run. ``kind`` is ``classic``, ``spaces`` or ``local``."""

    kind: StudioKind
    app_type: str | None = None
    domain_id: str | None = None
    user_profile_name: str | None = None
    space_name: str | None = None
    app_name: str | None = None
    resource_arn: str | None = None
    image_version: str | None = None
    region: str | None = None
    account_id: str | None = None
    partition: str = "aws"
    home: str = field(default_factory=lambda: os.path.expanduser("~"))
    metadata_path: str = DEFAULT_METADATA_PATH
    metadata_status: str = "missing"  # ok | missing | empty | unreadable | malformed
    warning: str | None = None

    @property
    def in_studio(self) -> bool:
        return self.kind != "local"

    @property
    def owner_kind(self) -> Literal["space", "user-profile", "local"]:
        """Whose resources we act on: the space (Studio) or the user profile (Classic)."""
        if self.kind == "spaces" and self.space_name:
            return "space"
        if self.user_profile_name:
            return "user-profile"
        if self.space_name:
            return "space"
        return "local"

    @property
    def owner_name(self) -> str | None:
        kind = self.owner_kind
        if kind == "space":
            return self.space_name
        if kind == "user-profile":
            return self.user_profile_name
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["in_studio"] = self.in_studio
        data["owner_kind"] = self.owner_kind
        data["owner_name"] = self.owner_name
        return data


def _str_or_none(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _region_from_env(env: Mapping[str, str]) -> str | None:
    return _str_or_none(env.get("AWS_REGION")) or _str_or_none(env.get("AWS_DEFAULT_REGION"))


def load_context(
    metadata_path: str | os.PathLike[str] | None = None,
    *,
    region: str | None = None,
    home: str | None = None,
    env: Mapping[str, str] | None = None,
) -> StudioContext:
    """Read the resource metadata and return the context; never raises for a bad file."""
    env = os.environ if env is None else env
    path = Path(metadata_path or env.get("SMSTUDIO_METADATA_PATH") or DEFAULT_METADATA_PATH)
    home = home or os.path.expanduser("~")
    base: dict[str, Any] = {"home": home, "metadata_path": str(path)}
    fallback_region = _str_or_none(region) or _region_from_env(env)

    def local(status: str, warning: str | None) -> StudioContext:
        if warning:
            log.warning("smstudio: %s; running in local mode", warning)
        else:
            log.info("smstudio: no Studio resource metadata at %s; running in local mode", path)
        return StudioContext(
            kind="local", region=fallback_region, metadata_status=status, warning=warning, **base
        )

    try:
        raw = read_capped(path, METADATA_CAP, what="resource metadata")
    except FileNotFoundError:
        return local("missing", None)
    except ReadRefused as exc:
        return local("unreadable", str(exc))
    except OSError as exc:
        return local("unreadable", f"cannot read {path}: {exc.strerror or exc}")
    if not raw.strip():
        return local("empty", f"{path} is empty")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return local("malformed", f"{path} is not valid JSON ({exc})")
    if not isinstance(data, dict):
        return local("malformed", f"{path} holds a JSON {type(data).__name__}, not an object")

    app_type = _str_or_none(data.get("AppType"))
    space = _str_or_none(data.get("SpaceName"))
    profile = _str_or_none(data.get("UserProfileName"))
    domain = _str_or_none(data.get("DomainId"))
    arn = _str_or_none(data.get("ResourceArn"))
    if not (domain or arn or app_type):
        return local("malformed", f"{path} names no domain, app type or resource ARN")

    if app_type in CLASSIC_APP_TYPES:
        kind: StudioKind = "classic"
    elif app_type in SPACES_APP_TYPES:
        kind = "spaces"
    elif space:
        kind = "spaces"
    else:
        kind = "classic"

    arn_region = account = None
    partition = "aws"
    if arn and (m := _ARN_RE.match(arn)):
        arn_region, account, partition = m["region"], m["account"], m["partition"]

    warning = None
    if app_type and app_type not in CLASSIC_APP_TYPES + SPACES_APP_TYPES:
        warning = f"unknown AppType {app_type!r} in {path}; treating it as Studio {kind}"
        log.warning("smstudio: %s", warning)

    return StudioContext(
        kind=kind,
        app_type=app_type,
        domain_id=domain,
        user_profile_name=profile,
        space_name=space,
        app_name=_str_or_none(data.get("ResourceName")),
        resource_arn=arn,
        image_version=_str_or_none(data.get("AppImageVersion")),
        region=_str_or_none(region) or arn_region or _region_from_env(env),
        account_id=account,
        partition=partition,
        metadata_status="ok",
        warning=warning,
        **base,
    )


# Where a home goes in a bucket a domain shares (the backup engine's key layout). Chosen so that
# one IAM policy variable confines every user: with ExecutionRoleIdentityConfig =
# USER_PROFILE_NAME a session carries its user profile's name as aws:SourceIdentity, so
# PREFIX/<domain>/${aws:SourceIdentity}/* holds exactly that profile's homes — its Studio Classic
# home and its private spaces (admin/policies.py: studio-backup-*). Shared spaces have no single
# owner: they go under "_shared", which no profile can be called (profile names are
# [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}), so no source identity reaches them.
SPACES_SEGMENT = "spaces"
SHARED_SEGMENT = "_shared"


def home_key(
    domain_id: str, *, profile: str | None = None, space: str | None = None, shared: bool = False
) -> list[str]:
    """A home's key segments: ``[domain, profile]`` (a Studio Classic profile),
    ``[domain, profile, "spaces", space]`` (a private space, under its owner),
    ``[domain, "_shared", space]`` (a shared space, or a space whose owner is unknown)."""
    if space:
        if profile and not shared:
            return [domain_id, profile, SPACES_SEGMENT, space]
        return [domain_id, SHARED_SEGMENT, space]
    if not profile:
        raise ValueError("a home key needs a user profile or a space")
    return [domain_id, profile]


def context_home_key(
    context: StudioContext, env: Mapping[str, str] | None = None
) -> list[str] | None:
    """``home_key`` of the app we run in (None outside Studio). A space is shared when the
    platform says so (``SAGEMAKER_SPACE_TYPE_LOWERCASE=shared``, which SMD's
    start-jupyter-server reads) or the resource metadata names no user profile for it."""
    env = os.environ if env is None else env
    if not (context.in_studio and context.domain_id and context.owner_name):
        return None
    if context.owner_kind == "space":
        shared = (env.get("SAGEMAKER_SPACE_TYPE_LOWERCASE") or "").strip() == "shared"
        return home_key(
            context.domain_id,
            profile=context.user_profile_name,
            space=context.space_name,
            shared=shared,
        )
    return home_key(context.domain_id, profile=context.user_profile_name)


def context_from_config(studio: Studio) -> StudioContext:
    return load_context(studio.metadata_path, region=studio.region or None, home=studio.home)
