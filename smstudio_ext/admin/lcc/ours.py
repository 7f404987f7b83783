"""One answer to "is this lifecycle config ours?", for register, detach and the audit.

Evidence, strongest first:

1. the tag ``smstudio:generated-by`` that :func:`~.registration.create_config` sets (ListTags);
2. the marker line ``# smstudio-ext version X: ...`` that :func:`~.render.render` writes at the
   top of every script (DescribeStudioLifecycleConfig), which also gives the version;
3. only when neither could be read (access denied, AWS unavailable): the name, i.e. the audit's
   prefix (``smstudio-``). Such a verdict says ``by="name"``.

A name alone never makes a config ours when the tag or the content could be read: an admin's own
``smstudio-proxy`` or ``jupyter-20240115`` is not ours. Register and detach act only on configs
proven ours (tag or marker): replacing or deleting on a name-only guess could remove someone
else's config, so they keep it and say why.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import shlex
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ...aws import AwsClients, call
from ...errors import NotFound, SmStudioError

log = logging.getLogger("smstudio_ext")

GENERATED_TAG = "smstudio:generated-by"
MARKER = "# smstudio-ext"
DEFAULT_PREFIX = "smstudio-"
VERSION_IN_MARKER = re.compile(r"version[ =:]+([0-9][\w.+-]*)", re.I)


@dataclass
class Verdict:
    """What we know of one lifecycle config."""

    arn: str
    name: str
    ours: bool
    by: str  # "tag" | "marker" | "name" | "none"
    version: str | None = None  # the smstudio-ext version of the marker line, if any
    app_type: str | None = None
    script: str | None = None  # the decoded content, when it could be read
    exists: bool = True
    error: str | None = None  # why the tag or content could not be read
    failure: SmStudioError | None = field(default=None, repr=False, compare=False)

    @property
    def proven(self) -> bool:
        """Ours by the tag or the marker, not by a name alone."""
        return self.ours and self.by in ("tag", "marker")


def decode(content: str) -> str:
    try:
        return base64.b64decode(content, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return content


def marker_version(script: str, marker: str = MARKER) -> tuple[bool, str | None]:
    """(whether the script carries our marker line, the version it names)."""
    for line in script.splitlines()[:20]:
        if line.startswith(marker):
            m = VERSION_IN_MARKER.search(line)
            return True, (m.group(1) if m else None)
    return False, None


class Ownership:
    """Judges lifecycle configs once each (thread-safe, single-flight: concurrent callers asking
    about the same ARN wait for the first answer)."""

    def __init__(
        self, clients: AwsClients, *, prefix: str = DEFAULT_PREFIX, marker: str = MARKER
    ) -> None:
        self.clients = clients
        self.prefix = prefix
        self.marker = marker
        self._verdicts: dict[str, Future[Verdict]] = {}
        self._lock = threading.Lock()

    def judge(self, arn: str) -> Verdict:
        with self._lock:
            existing = self._verdicts.get(arn)
            if existing is None:
                future: Future[Verdict] = Future()
                self._verdicts[arn] = future
        if existing is not None:
            return existing.result()
        try:
            verdict = self._judge(arn)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        future.set_result(verdict)
        return verdict

    def is_ours(self, arn: str) -> bool:
        """Proven ours (tag or marker): what register and detach act on."""
        return self.judge(arn).proven

    def _sm(self) -> Any:
        return self.clients.client("sagemaker")

    def _judge(self, arn: str) -> Verdict:
        name = arn.rsplit("/", 1)[-1]
        verdict = Verdict(arn=arn, name=name, ours=False, by="none")
        errors: list[str] = []
        try:
            desc = call(
                self._sm(),
                "DescribeStudioLifecycleConfig",
                resource=name,
                StudioLifecycleConfigName=name,
            )
            verdict.app_type = desc.get("StudioLifecycleConfigAppType")
            verdict.script = decode(desc.get("StudioLifecycleConfigContent") or "")
            found, version = marker_version(verdict.script, self.marker)
            if found:
                verdict.ours, verdict.by, verdict.version = True, "marker", version
                return verdict
        except NotFound:
            verdict.exists = False
        except SmStudioError as exc:
            errors.append(exc.message)
            verdict.failure = exc
        if verdict.exists:
            try:
                out = call(self._sm(), "ListTags", resource=arn, ResourceArn=arn, MaxResults=100)
                if any(t.get("Key") == GENERATED_TAG for t in out.get("Tags") or []):
                    verdict.ours, verdict.by = True, "tag"
                return verdict  # the tags were read: ours by tag, or not ours whatever its name
            except NotFound:
                verdict.exists = False
            except SmStudioError as exc:
                errors.append(exc.message)
                verdict.failure = verdict.failure or exc
        if errors:
            verdict.error = "; ".join(errors)
            log.info("smstudio: lifecycle config %s: %s", name, verdict.error)
        if verdict.script is None and name.startswith(self.prefix):
            verdict.ours, verdict.by = True, "name"
        return verdict


def extension_config(script: str) -> dict[str, Any] | None:
    """The extension config our generated LCC writes (its ``EXT_CONFIG='{...}'`` line)."""
    for line in script.splitlines():
        if line.startswith("EXT_CONFIG="):
            try:
                words = shlex.split(line[len("EXT_CONFIG=") :])
                data = json.loads(words[0]) if words else None
            except (ValueError, IndexError):
                return None
            return data if isinstance(data, dict) else None
    return None
