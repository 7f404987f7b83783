r"""Proof of rollout: the version the extension runs, recorded where ``smstudio audit`` reads it.

Once per server start, the extension tags its own owner with the version it runs and when:
``smstudio:version = 0.1.0`` and ``smstudio:version-seen = 2026-11-30T02:17:30Z``. A lifecycle
config says which version *should* run; only the running server can say which one *does* (the
install may have failed, the server may not have restarted, the space may pre-select an old
default config).

Which resource: ``AddTags`` takes any SageMaker ARN (botocore model, AddTagsInput.ResourceArn
``arn:aws[a-z-]*:sagemaker:...``), and Studio tags domains, user profiles, spaces and apps. The
app is the wrong place: its metadata is deleted 24 hours after it stops (model doc of
DescribeAppResponse.CreationTime), and a new app is a new ARN. So:

* Studio (spaces): the **space**, which outlives its apps and is what the audit lists;
* Studio Classic: the **user profile** (one JupyterServer app per profile). The model's AddTags
  doc says tags added to a user profile also go to the apps it launches afterwards: harmless.

Tag values follow the model's pattern ``[\p{L}\p{Z}\p{N}_.:/=+\-@]*`` (at most 256): a version
such as ``0.1.0+g1a2b3c`` and an ISO time with ``Z`` fit; any other character is replaced.

Never fatal: a denied or failing ``AddTags`` is logged once (per start, and this runs once per
start) and the server goes on. Local mode does nothing. The IAM action is ``sagemaker:AddTags``
on the space (or profile) ARN, for the app's execution role.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from . import clock
from .aws import AwsClients, call
from .context import StudioContext
from .errors import AccessDenied, SmStudioError

log = logging.getLogger("smstudio_ext")

TAG_VERSION = "smstudio:version"
TAG_SEEN = "smstudio:version-seen"
MAX_TAG_VALUE = 256
_TAG_PUNCTUATION = set("_.:/=+-@")


@dataclass
class RolloutRecord:
    """What one attempt did: ``recorded``, ``skipped`` (local mode, nothing to tag), ``denied``
    or ``failed``."""

    status: str
    target_kind: str | None = None
    target_arn: str | None = None
    version: str | None = None
    seen: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tag_value(text: str) -> str:
    """``text`` made acceptable as a SageMaker tag value: letters (L), separators (Z), numbers
    (N) and ``_.:/=+-@`` kept, anything else replaced by ``-``; at most 256 characters."""

    def ok(c: str) -> bool:
        return c in _TAG_PUNCTUATION or unicodedata.category(c)[0] in "LZN"

    return "".join(c if ok(c) else "-" for c in text)[:MAX_TAG_VALUE]


def seen_value(when: datetime) -> str:
    """UTC, seconds, ``Z``: ``2026-11-30T02:17:30Z``."""
    return when.astimezone(clock.utcnow().tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ")


def target(ctx: StudioContext) -> tuple[str, str] | None:
    """(kind, ARN) of the resource that records our version, or None (local, or too little
    metadata to build the ARN)."""
    if not ctx.in_studio or not (ctx.domain_id and ctx.region and ctx.account_id):
        return None
    prefix = f"arn:{ctx.partition}:sagemaker:{ctx.region}:{ctx.account_id}"
    if ctx.kind == "spaces" and ctx.space_name:
        return "space", f"{prefix}:space/{ctx.domain_id}/{ctx.space_name}"
    if ctx.kind == "classic" and ctx.user_profile_name:
        return "user-profile", f"{prefix}:user-profile/{ctx.domain_id}/{ctx.user_profile_name}"
    return None


def record_version(
    clients: AwsClients, ctx: StudioContext, version: str, now: datetime | None = None
) -> RolloutRecord:
    """Tag this app's space (or Classic profile) with ``version`` and the time; never raises
    for an AWS failure (the record says what happened)."""
    found = target(ctx)
    if found is None:
        return RolloutRecord("skipped", message="not in Studio (or no owner ARN): nothing to tag")
    kind, arn = found
    value, seen = tag_value(version), seen_value(now or clock.utcnow())
    record = RolloutRecord("recorded", kind, arn, value, seen)
    tags = [{"Key": TAG_VERSION, "Value": value}, {"Key": TAG_SEEN, "Value": seen}]
    try:
        call(clients.client("sagemaker"), "AddTags", resource=arn, ResourceArn=arn, Tags=tags)
    except AccessDenied as exc:
        record.status, record.message = "denied", exc.message
    except SmStudioError as exc:
        record.status, record.message = "failed", exc.message
    return record


def log_record(record: RolloutRecord) -> None:
    if record.status == "recorded":
        log.info(
            "smstudio %s: recorded as running on %s (%s=%s)",
            record.version,
            record.target_arn,
            TAG_VERSION,
            record.version,
        )
    elif record.status in ("denied", "failed"):
        log.warning(
            "smstudio: could not record the running version on %s (smstudio audit will not "
            "see it; grant sagemaker:AddTags on it to the execution role): %s",
            record.target_arn,
            record.message,
        )
    else:
        log.debug("smstudio: rollout record skipped: %s", record.message)


def read_rollout(tags: list[dict[str, str]]) -> dict[str, str | None]:
    """The version last seen running and when, from a resource's tags (None when absent)."""
    values = {t.get("Key"): t.get("Value") for t in tags}
    return {"version": values.get(TAG_VERSION), "seen": values.get(TAG_SEEN)}


async def record_at_start(app: Any) -> None:
    """The start hook: one attempt, in a worker thread (boto3 blocks), logged once."""
    if getattr(app, "aws_error", None):  # e.g. an unknown region: no call can succeed
        return
    services = app.services
    try:
        record = await asyncio.get_running_loop().run_in_executor(
            None, record_version, services.aws, services.context, services.version
        )
    except Exception as exc:  # anything unexpected: still one line, still not fatal
        record = RolloutRecord("failed", message=f"{type(exc).__name__}: {exc}")
    services.rollout = record
    log_record(record)


def setup_rollout(app: Any) -> None:
    """Registered with the app's start-up loops: runs once, never delays the server."""
    app.services.rollout = None
    app.add_loop(lambda: record_at_start(app))
