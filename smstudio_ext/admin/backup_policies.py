"""The home-backup confinement policies (``studio-backup-*``): with a shared execution role,
each user's apps may read and write only their own backup folder (``PREFIX/<domain>/
${aws:SourceIdentity}/``), shared spaces only ``_shared/``; a bucket policy denies the roles
everything else. ``check_backup`` says what is wrong with their inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..context import SHARED_SEGMENT
from ..errors import BadInput
from . import validate
from .policy_doc import _KMS_ARN_RE, Policy, PolicyInputs, _arn_partition, _doc, _split


def check_backup(inputs: PolicyInputs) -> list[str]:
    """Problems with the home-backup confinement inputs (none given: nothing to check)."""
    roles = _split(inputs.execution_roles)
    given = [inputs.backup_bucket, inputs.domain_id, roles, inputs.shared_space_role,
             inputs.backup_kms_key]  # fmt: skip
    if not any(given):
        return []
    problems = []
    checks: list[tuple[Any, Any]] = [
        (lambda x: validate.s3_uri(x, "backup bucket"), inputs.backup_bucket or None),
        (lambda x: validate.domain_id(x), inputs.domain_id or None),
        *((lambda x: validate.role_arn(x, "execution role"), r) for r in roles),
        (lambda x: validate.role_arn(x, "shared-space role"), inputs.shared_space_role or None),
    ]
    for check, value in checks:
        if value is None:
            continue
        try:
            check(value)
        except BadInput as exc:
            problems.append(exc.message)
    missing = [
        flag
        for flag, value in (
            ("--backup-bucket", inputs.backup_bucket),
            ("--domain-id", inputs.domain_id),
            ("--execution-role", roles),
        )
        if not value
    ]
    if missing:
        problems.append(
            "the home-backup confinement needs --backup-bucket, --domain-id and --execution-role "
            f"(missing {', '.join(missing)})"
        )
    if inputs.shared_space_role and inputs.shared_space_role in roles:
        problems.append(
            "the shared-space role must not be a user execution role: shared spaces carry no "
            "single user's identity (give them their own role in DefaultSpaceSettings)"
        )
    if inputs.backup_kms_key and not _KMS_ARN_RE.match(inputs.backup_kms_key):
        problems.append(f"backup KMS key {inputs.backup_kms_key!r} is not a KMS key ARN")
    for arn in [*roles, inputs.shared_space_role, inputs.backup_kms_key]:
        if arn and _arn_partition(arn) != inputs.partition:
            problems.append(
                f"{arn!r} is not in the domain's partition {inputs.partition} "
                f"(arn:{inputs.partition}:...)"
            )
    return problems


OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
]  # what the backup engine does with its keys (HeadObject is s3:GetObject)
# Everything a role could do to another home's objects (the bucket policy denies it all), and
# listing the bucket's uploads in progress (it names every home's keys; it has no s3:prefix).
ANY_OBJECT_ACTION = [
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:RestoreObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:ListBucketMultipartUploads",
]
LIST_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions"]  # both carry s3:prefix
SOURCE_IDENTITY = "${aws:SourceIdentity}"


@dataclass
class BackupLayout:
    """ARNs and key patterns of one domain's homes in the backup bucket (context.home_key)."""

    partition: str
    bucket: str
    prefix: str  # "" or "homes/" (ends with "/")
    domain_id: str

    @classmethod
    def of(cls, inputs: PolicyInputs) -> BackupLayout:
        bucket, prefix = validate.s3_uri(inputs.backup_bucket, "backup bucket")
        prefix = prefix.strip("/")
        return cls(inputs.partition, bucket, f"{prefix}/" if prefix else "", inputs.domain_id)

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    def keys(self, folder: str) -> str:
        """Key pattern of every key under ``<domain>/<folder>/``."""
        return f"{self.prefix}{self.domain_id}/{folder}/*"

    def objects(self, folder: str) -> str:
        return f"{self.bucket_arn}/{self.keys(folder)}"


def _confined(sid: str, folder: str, layout: BackupLayout, kms_key: str) -> list[dict[str, Any]]:
    """Allow statements of a role policy: list, read and write one folder of the layout."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": f"List{sid}",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": layout.bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [layout.keys(folder)]}},
        },
        {
            "Sid": f"ReadWrite{sid}",
            "Effect": "Allow",
            "Action": OBJECT_ACTIONS,
            "Resource": layout.objects(folder),
        },
    ]
    if kms_key:
        statements.append(
            {
                "Sid": "UseTheBackupKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": kms_key,
                "Condition": {"StringLike": {"kms:ViaService": "s3.*"}},
            }
        )
    return statements


def _deny_others(
    sid: str, roles: list[str], folder: str, layout: BackupLayout
) -> list[dict[str, Any]]:
    """Bucket-policy Denies: ``roles`` may touch and list nothing but ``folder``."""
    who = {"ArnLike": {"aws:PrincipalArn": roles}}
    return [
        {
            "Sid": f"Deny{sid}OtherHomes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ANY_OBJECT_ACTION,
            "NotResource": layout.objects(folder),
            "Condition": who,
        },
        {
            "Sid": f"Deny{sid}ListingOtherHomes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": LIST_ACTIONS,
            "Resource": layout.bucket_arn,
            "Condition": {**who, "StringNotLike": {"s3:prefix": [layout.keys(folder)]}},
        },
    ]


def backup_policies(inputs: PolicyInputs) -> list[Policy]:
    """The home-backup confinement: a role policy for the users' execution roles, one for the
    shared spaces' role (when given), and the bucket policy that makes it hold."""
    layout = BackupLayout.of(inputs)
    roles = inputs.execution_roles
    where = f"s3://{layout.bucket}/{layout.prefix}{layout.domain_id}/"
    mine = layout.keys(SOURCE_IDENTITY)
    policies = [
        Policy(
            name="studio-backup-role-policy",
            description=(
                f"Lets a Studio session list, read and write only its own homes' backups, "
                f"{where}<its user profile>/ (aws:SourceIdentity = the profile's name: its "
                "Studio Classic home and its private spaces)."
            ),
            attach_as=["identity policy of the users' execution roles"],
            document=_doc(*_confined("OwnHomes", SOURCE_IDENTITY, layout, inputs.backup_kms_key)),
            notes=[
                f"Needs DomainSettings.ExecutionRoleIdentityConfig = USER_PROFILE_NAME on domain "
                f"{layout.domain_id} (set while no app runs) and sts:SetSourceIdentity in each "
                "role's trust policy for sagemaker.amazonaws.com. Without a source identity the "
                "session gets nothing here, and the bucket policy denies it the bucket.",
                "Trust only sagemaker.amazonaws.com in these roles: a principal that may assume "
                "them directly could choose any source identity.",
            ],
        )
    ]
    bucket_statements = [
        *_deny_others("Users", roles, SOURCE_IDENTITY, layout),
        {
            "Sid": "DenyUsersWithoutSourceIdentity",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [layout.bucket_arn, f"{layout.bucket_arn}/*"],
            "Condition": {
                "ArnLike": {"aws:PrincipalArn": roles},
                "Null": {"aws:SourceIdentity": "true"},
            },
        },
    ]
    shared = inputs.shared_space_role
    if shared:
        policies.append(
            Policy(
                name="studio-backup-shared-spaces-role-policy",
                description=(
                    f"Lets shared spaces list, read and write the shared spaces' backups, "
                    f"{where}{SHARED_SEGMENT}/, and nothing else of the bucket."
                ),
                attach_as=["identity policy of the shared spaces' execution role"],
                document=_doc(
                    *_confined("SharedSpaces", SHARED_SEGMENT, layout, inputs.backup_kms_key)
                ),
                notes=[
                    "Every shared space of the domain can read every shared space's backups: "
                    "they share this role (a shared space has no single owner to confine by)."
                ],
            )
        )
        bucket_statements += _deny_others("SharedSpaces", [shared], SHARED_SEGMENT, layout)
    policies.append(
        Policy(
            name="studio-backup-bucket-policy",
            description=(
                f"Bucket policy of {layout.bucket}: the Studio execution roles may touch no "
                f"key but their own homes' ({mine}"
                + (f", shared spaces: {layout.keys(SHARED_SEGMENT)}" if shared else "")
                + "), may list no other prefix, and get nothing without a source identity — "
                "whatever else their policies allow (AmazonSageMakerFullAccess grants every "
                "bucket named *sagemaker*)."
            ),
            attach_as=[f"bucket policy of {layout.bucket} (merge with its other statements)"],
            document=_doc(*bucket_statements),
            notes=[
                "Only the listed roles are confined: admins and other principals keep what "
                "their own policies give them.",
                "The Denies cover the whole bucket: keep the backups in a bucket of their own "
                "(the roles can use nothing else in it).",
            ],
        )
    )
    return policies
