"""The ``HomeBackup`` config section (jupyter_server_config, ``--config``, or env defaults)."""

from __future__ import annotations

import math
import os
import re

from traitlets import Bool, Float, Int, List, TraitError, Unicode, default, validate
from traitlets.config import Configurable

from ..config import env_value
from .excludes import SECRET_EXCLUDES

_ACCOUNT_RE = re.compile(r"^\d{12}$")


def _non_negative(raw: str) -> float:
    return max(float(raw), 0.0)


class HomeBackup(Configurable):
    """Home-directory backup to S3: where, what, how often, how fast, how long kept."""

    bucket = Unicode(
        help="Backup location s3://BUCKET[/PREFIX]; the per-user folder is appended: "
        "<domain-id>/<profile>/ (Classic), <domain-id>/<owner profile>/spaces/<space>/ (a "
        "private space), <domain-id>/_shared/<space>/ (a shared space); local/<user>@<host>/ "
        "outside Studio. "
        "Empty = backup not configured. Env: SMSTUDIO_BACKUP_BUCKET.",
    ).tag(config=True)

    source = Unicode("", help="Directory to back up; empty = the home (Studio.home).").tag(
        config=True
    )

    kms_key_id = Unicode(
        help="KMS key id/ARN for SSE-KMS on every object; empty = the bucket's default "
        "encryption. Env: SMSTUDIO_BACKUP_KMS_KEY_ID.",
    ).tag(config=True)

    expected_bucket_owner = Unicode(
        "",
        help="12-digit account id sent as ExpectedBucketOwner on every request; empty = not sent.",
    ).tag(config=True)

    interval_hours = Float(
        help="Back up every N hours from the server (0 = no schedule). Only runs when a bucket "
        "is configured. Env: SMSTUDIO_BACKUP_INTERVAL_HOURS.",
    ).tag(config=True)

    final_backup = Bool(
        True, help="Run a bounded final backup before an idle shutdown (when configured)."
    ).tag(config=True)

    keep_last = Int(10, help="Retention: always keep the newest N snapshots (>= 1).").tag(
        config=True
    )

    keep_days = Float(30.0, help="Retention: also keep every snapshot younger than D days.").tag(
        config=True
    )

    excludes = List(
        Unicode(), help="Extra gitignore-style exclude patterns (also read from ~/.smstudioignore)."
    ).tag(config=True)

    default_excludes = Bool(
        True,
        help="Skip caches (.cache, conda pkgs, __pycache__, .ipynb_checkpoints), trash, lost+found.",
    ).tag(config=True)

    include_secrets = Bool(
        False,
        help="Also back up the well-known secret files listed in secret_excludes (AWS "
        "credentials, SSH private keys, .git-credentials, .netrc, .pgpass, the Jupyter "
        "runtime dir with the server token and kernel keys, ...). Off: they are never backed "
        "up, whatever the other excludes say. CLI: --include-secrets.",
    ).tag(config=True)

    secret_excludes = List(
        Unicode(),
        default_value=list(SECRET_EXCLUDES),
        help="Gitignore-style patterns of secret files excluded unless include_secrets; a '!' "
        "pattern makes an exception to this list only (the public halves of SSH keys).",
    ).tag(config=True)

    hold_back_ratio = Float(
        0.5,
        help="A backup that would keep fewer than this share of the previous snapshot's files "
        "on a freshly started app (hold_back_hours) is held back: nothing is committed and "
        "the reason is reported (a home not restored yet must not become the latest "
        "snapshot). 0 = never hold back. CLI: --allow-shrink for one run.",
    ).tag(config=True)

    hold_back_min_files = Int(
        10, help="Previous snapshots with fewer files than this never hold a backup back."
    ).tag(config=True)

    hold_back_hours = Float(
        24.0,
        help="How long after the app started (its container's first process) a shrinking "
        "backup is held back (see hold_back_ratio). 0 = never.",
    ).tag(config=True)

    concurrency = Int(4, help="Threads reading and hashing files during a backup.").tag(config=True)

    uploads = Int(4, help="Parallel pack uploads.").tag(config=True)

    restore_concurrency = Int(8, help="Parallel pack downloads during a restore.").tag(config=True)

    background_concurrency = Int(
        1,
        help="Read threads and uploads for scheduled/final backups (kept low so notebooks stay "
        "responsive; those threads also run at nice 10 and idle I/O priority on Linux).",
    ).tag(config=True)

    pack_size_mb = Int(8, help="Target pack object size in MiB.").tag(config=True)

    compression = Bool(
        True,
        help="Zstandard level 1 (zlib where zstd is not installed) for blobs that compress "
        "(judged on a sample), never for media.",
    ).tag(config=True)

    state_dir = Unicode(
        "",
        help="Where the local change-detection state lives; empty = <home>/.cache/smstudio/backup.",
    ).tag(config=True)

    lease_seconds = Float(600.0, help="Lock lease: how long a crashed run blocks others.").tag(
        config=True
    )

    racy_seconds = Float(
        2.0,
        help="Racy-timestamp window: a file changed less than this long before a backup "
        "starts (or during it) is read again by the next backup even if its size and mtime "
        "match, since a same-size rewrite within one timestamp tick keeps both. 2 s covers "
        "the coarsest filesystems; 0 only for filesystems with fine timestamps (and tests). "
        "Env: SMSTUDIO_BACKUP_RACY_SECONDS.",
    ).tag(config=True)

    @default("racy_seconds")
    def _default_racy(self) -> float:
        return float(env_value("SMSTUDIO_BACKUP_RACY_SECONDS", _non_negative, 2.0))

    @default("bucket")
    def _default_bucket(self) -> str:
        return os.environ.get("SMSTUDIO_BACKUP_BUCKET", "")

    @default("kms_key_id")
    def _default_kms(self) -> str:
        return os.environ.get("SMSTUDIO_BACKUP_KMS_KEY_ID", "")

    @default("interval_hours")
    def _default_interval(self) -> float:
        return float(env_value("SMSTUDIO_BACKUP_INTERVAL_HOURS", _non_negative, 0.0))

    @validate("bucket")
    def _check_bucket(self, proposal: dict) -> str:
        value = proposal["value"].strip()
        if value and not value.startswith("s3://"):
            raise TraitError(f"HomeBackup.bucket must look like s3://BUCKET/PREFIX, got {value!r}")
        return value

    @validate("expected_bucket_owner")
    def _check_owner(self, proposal: dict) -> str:
        value = proposal["value"].strip()
        if value and not _ACCOUNT_RE.match(value):
            raise TraitError("HomeBackup.expected_bucket_owner must be a 12-digit account id")
        return value

    @validate("hold_back_ratio")
    def _check_ratio(self, proposal: dict) -> float:
        if not 0 <= proposal["value"] <= 1:  # NaN too
            raise TraitError("HomeBackup.hold_back_ratio must be between 0 and 1")
        return proposal["value"]

    @validate("interval_hours", "keep_days", "racy_seconds", "hold_back_hours")
    def _check_nonneg(self, proposal: dict) -> float:
        if not math.isfinite(proposal["value"]) or proposal["value"] < 0:
            raise TraitError(f"HomeBackup.{proposal['trait'].name} must be a number >= 0")
        return proposal["value"]

    @validate(
        "keep_last", "concurrency", "uploads", "restore_concurrency", "background_concurrency",
        "pack_size_mb", "hold_back_min_files",
    )  # fmt: skip
    def _check_positive(self, proposal: dict) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"HomeBackup.{proposal['trait'].name} must be >= 1")
        return proposal["value"]

    @validate("lease_seconds")
    def _check_lease(self, proposal: dict) -> float:
        if proposal["value"] < 10:
            raise TraitError("HomeBackup.lease_seconds must be >= 10")
        return proposal["value"]
