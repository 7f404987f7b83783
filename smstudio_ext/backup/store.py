"""The S3 layout of one backup repository and every request made to it.

``s3://BUCKET/PREFIX/<domain-id>/<user-profile-or-space>/`` holds::

    data/<2 hex>/<32 hex>          pack objects: blobs (file content or chunks) back to back
    snapshots/<snapshot-id>.jsonl.gz   one per snapshot, written last (the commit point)
    locks/<uuid>.json              lease locks (backup and prune exclude each other)

Every upload carries a checksum S3 verifies (``ChecksumAlgorithm=CRC32``), server-side
encryption with KMS when a key is configured, and ``ExpectedBucketOwner`` when configured.
Every call goes through ``aws.call`` so errors are the project's typed errors, naming the IAM
action and the key prefix.
"""

from __future__ import annotations

import builtins
import logging
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..aws import AwsClients, call, translate
from ..errors import AccessDenied, BadInput, NotConfigured, NotFound

log = logging.getLogger("smstudio_ext.backup")

_URL_RE = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")
_SAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._@=+-]")


def parse_bucket_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix without slashes at the ends)."""
    if not url:
        raise NotConfigured(
            "no backup bucket configured: set HomeBackup.bucket (s3://BUCKET/PREFIX), "
            "SMSTUDIO_BACKUP_BUCKET, or pass --bucket"
        )
    m = _URL_RE.match(url.strip())
    if not m:
        raise BadInput(f"invalid backup location {url!r}: expected s3://BUCKET[/PREFIX]")
    prefix = (m["prefix"] or "").strip("/")
    if "//" in prefix or any(p in (".", "..") for p in prefix.split("/") if prefix):
        raise BadInput(f"invalid key prefix in {url!r}")
    return m["bucket"], prefix


def safe_segment(value: str) -> str:
    """A key segment from a profile/space/host name (no slashes, nothing odd)."""
    cleaned = _SAFE_SEGMENT.sub("_", value.strip()) or "_"
    return cleaned[:128]


@dataclass(frozen=True)
class Location:
    bucket: str
    root: str  # key prefix of this repository, ending with "/"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.root}"


def s3_client(aws: AwsClients) -> Any:
    """The S3 client every backup request goes through."""
    # Every PUT carries a CRC32 checksum S3 verifies, so SigV4 need not hash the body again:
    # what botocore already does over HTTPS, now also over plain HTTP (a local S3-compatible
    # server), where it would otherwise SHA-256 every pack a second time.
    return aws.client("s3", s3={"payload_signing_enabled": False})


class Store:
    """Requests to one repository. Thread-safe (botocore clients are).

    The client is made on the first request, not here: building a store (and a backup run)
    costs no botocore import, so the CLI forks its "nothing changed?" check before it.
    """

    def __init__(
        self,
        aws: AwsClients,
        location: Location,
        *,
        kms_key_id: str = "",
        expected_owner: str = "",
    ) -> None:
        self.aws = aws
        self.loc = location
        self.kms_key_id = kms_key_id
        self.expected_owner = expected_owner
        self.requests = {"put": 0, "get": 0, "list": 0, "delete": 0}

    @cached_property
    def s3(self) -> Any:
        return s3_client(self.aws)

    # -- keys
    def pack_key(self, pack_id: str) -> str:
        return f"{self.loc.root}data/{pack_id[:2]}/{pack_id}"

    def snapshot_key(self, snap_id: str) -> str:
        return f"{self.loc.root}snapshots/{snap_id}.jsonl.gz"

    def lock_key(self, lock_id: str) -> str:
        return f"{self.loc.root}locks/{lock_id}.json"

    # -- helpers
    def _owner(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.expected_owner:
            params["ExpectedBucketOwner"] = self.expected_owner
        return params

    def _put_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"ChecksumAlgorithm": "CRC32"}
        if self.kms_key_id:
            args["ServerSideEncryption"] = "aws:kms"
            args["SSEKMSKeyId"] = self.kms_key_id
        return self._owner(args)

    def _resource(self, key: str) -> str:
        return f"s3://{self.loc.bucket}/{key}"

    # -- operations
    def check(self) -> None:
        """Fail early and clearly: bucket missing, access denied, endpoint down."""
        self.requests["list"] += 1
        try:
            call(
                self.s3,
                "ListObjectsV2",
                resource=self._resource(self.loc.root),
                **self._owner({"Bucket": self.loc.bucket, "Prefix": self.loc.root, "MaxKeys": 1}),
            )
        except NotFound as exc:
            raise NotFound(
                f"backup bucket {self.loc.bucket!r} does not exist (or is not visible to this "
                f"role): {exc.message}",
                bucket=self.loc.bucket,
            ) from exc

    def put(self, key: str, body: bytes) -> None:
        self.requests["put"] += 1
        call(
            self.s3,
            "PutObject",
            resource=self._resource(key),
            Bucket=self.loc.bucket,
            Key=key,
            Body=body,
            **self._put_args(),
        )

    def get(self, key: str, range_: str | None = None, *, limit: int | None = None) -> bytes:
        """The object, or ``range_`` of it (``bytes=FIRST-LAST``). Memory holds at most the
        range, or ``limit`` bytes: a whole object larger than ``limit`` is ``BadInput``."""
        import botocore.exceptions as bexc

        self.requests["get"] += 1
        params: dict[str, Any] = {"Bucket": self.loc.bucket, "Key": key}
        if range_:
            params["Range"] = range_
        resp = call(self.s3, "GetObject", resource=self._resource(key), **self._owner(params))
        body = resp["Body"]
        try:
            if range_ and resp.get("ContentRange"):
                data: bytes = body.read()  # the server sent the range alone
            elif range_:
                # A server that ignores Range answers 200 with the whole object: skip to the
                # range and read only it, so callers always get what they asked for.
                first, _, last = range_[len("bytes=") :].partition("-")
                _skip(body, int(first))
                data = body.read(int(last) - int(first) + 1)
                body.close()
            elif limit is not None:
                data = body.read(limit + 1)
                if len(data) > limit:
                    body.close()
                    raise BadInput(
                        f"s3://{self.loc.bucket}/{key} is larger than the {limit} bytes "
                        "expected of it: refused"
                    )
            else:
                data = body.read()
            return data
        except (bexc.BotoCoreError, OSError) as exc:
            raise translate(
                bexc.ConnectionClosedError(endpoint_url=str(exc)),
                "s3:GetObject",
                self._resource(key),
            ) from exc

    def list(self, sub: str) -> list[dict[str, Any]]:
        """Every object under ``root + sub`` (Key, Size, LastModified)."""
        out: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"Bucket": self.loc.bucket, "Prefix": self.loc.root + sub}
            if token:
                params["ContinuationToken"] = token
            self.requests["list"] += 1
            resp = call(
                self.s3,
                "ListObjectsV2",
                resource=self._resource(self.loc.root + sub),
                **self._owner(params),
            )
            out.extend(resp.get("Contents", []))
            if not resp.get("IsTruncated"):
                return out
            token = resp.get("NextContinuationToken")

    def delete(self, keys: builtins.list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = keys[i : i + 1000]
            self.requests["delete"] += 1
            resp = call(
                self.s3,
                "DeleteObjects",
                resource=self._resource(self.loc.root),
                **self._owner(
                    {
                        "Bucket": self.loc.bucket,
                        "Delete": {"Objects": [{"Key": k} for k in batch], "Quiet": True},
                    }
                ),
            )
            errors = resp.get("Errors") or []
            if errors:
                first = errors[0]
                if first.get("Code") == "AccessDenied":
                    raise AccessDenied(
                        f"AWS denied s3:DeleteObject on s3://{self.loc.bucket}/{first.get('Key')}",
                        action="s3:DeleteObject",
                    )
                log.warning("smstudio backup: %d deletions failed, e.g. %s", len(errors), first)

    def delete_one(self, key: str) -> None:
        self.requests["delete"] += 1
        call(
            self.s3,
            "DeleteObject",
            resource=self._resource(key),
            **self._owner({"Bucket": self.loc.bucket, "Key": key}),
        )


def _skip(body: Any, n: int) -> None:
    """Read and drop ``n`` bytes of a streaming body (in blocks: memory stays one block)."""
    while n > 0:
        block = body.read(min(n, 1 << 20))
        if not block:
            return
        n -= len(block)
