"""What every generated IAM policy is made of: the ``Policy`` (name, where to attach it, its
document), the admin's ``PolicyInputs``, statement builders and ARN helpers. The Studio
guardrail policies (``policies.py``) and the home-backup confinement (``backup_policies.py``)
both stand on it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

VERSION = "2012-10-17"
_KMS_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:kms:[a-z0-9*-]+:(\d{12}|\*):(key|alias)/[A-Za-z0-9/_*-]+$"
)
DEFAULT_TAG_KEY = "studiouserid"


@dataclass
class Policy:
    name: str
    description: str
    attach_as: list[str]
    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def sidecar(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "attach_as": self.attach_as,
            "notes": self.notes,
        }


@dataclass
class PolicyInputs:
    allowed_instance_types: list[str] = field(default_factory=list)
    approved_images: list[str] = field(default_factory=list)
    vpce_ids: list[str] = field(default_factory=list)
    source_ips: list[str] = field(default_factory=list)
    kms_keys: list[str] = field(default_factory=list)
    tag_key: str = DEFAULT_TAG_KEY
    user_id_source: str = "username"
    partition: str = "aws"  # the domain's partition: every ARN the policies write uses it
    # home-backup confinement (studio-backup-*): all three, or none
    backup_bucket: str = ""  # s3://BUCKET[/PREFIX], as HomeBackup.bucket
    domain_id: str = ""
    execution_roles: list[str] = field(default_factory=list)  # the roles users' apps run with
    shared_space_role: str = ""  # the role shared spaces run with (DefaultSpaceSettings)
    backup_kms_key: str = ""  # HomeBackup.kms_key_id, as a key ARN


PARTITION_NAMES = (
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
)  # botocore data/partitions.json


def _arn_partition(arn: str) -> str:
    return arn.split(":", 2)[1] if arn.count(":") >= 2 else ""


def _split(values: Sequence[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return list(dict.fromkeys(out))


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": VERSION, "Statement": list(statements)}


def _deny(sid: str, actions: list[str] | str, condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Action": actions,
        "Resource": "*",
        "Condition": condition,
    }
