"""IAM policies and SCPs that enforce the Studio guardrails in AWS itself.

Each policy is a ``Policy`` (name, description, where to attach it, document). Most are
Deny-only, so they work the same as an SCP, a permissions boundary or an identity policy and
never grant anything; the one Allow statement (own profile) is marked for identity policies.

Pitfalls designed out (and covered by tests with ``testing/policy_eval.py``):

* multi-valued keys (``sagemaker:InstanceTypes``, ``sagemaker:ImageArns``...) only with
  ``ForAnyValue:``/``ForAllValues:``: a Deny uses ``ForAnyValue:StringNotLike`` = "deny when any
  requested value is outside the list";
* one requirement per Deny statement: conditions inside a statement are ANDed, so "deny unless
  A and B" needs one statement for "not A" and one for "not B";
* absent keys: negated operators (``StringNotEquals``, ``NotIpAddress``, ``ArnNotLike``) are true
  when the key is absent, so "deny unless from this VPC endpoint" also denies calls without one;
  ``Null`` makes "the key must be present" explicit;
* a policy variable that the caller lacks (``${aws:username}`` for an assumed role) makes its
  condition false, which would turn "deny unless the tag equals my name" into "never deny": a
  separate Deny on ``Null`` closes that hole.

The home-backup confinement (``studio-backup-*``) follows the backup engine's key layout
(``context.home_key``): with ``ExecutionRoleIdentityConfig = USER_PROFILE_NAME`` every session
of a Studio execution role carries its user profile's name as ``aws:SourceIdentity`` (AWS docs,
"Monitoring user resource access from Amazon SageMaker Studio"), and all of a profile's homes —
its Studio Classic home and its private spaces — sit under ``PREFIX/<domain>/<profile>/``. A
role policy allows exactly ``PREFIX/<domain>/${aws:SourceIdentity}/*``; a bucket policy denies
the execution roles everything else in the bucket (an identity-policy Deny can't say "this
bucket except my prefix" without denying every other bucket too), and denies them the bucket
altogether when the session has no source identity — otherwise the unresolvable variable would
silently switch the Deny off. Shared spaces (no single owner) use their own execution role and
``PREFIX/<domain>/_shared/``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

from ..errors import BadInput
from .backup_policies import backup_policies, check_backup
from .policy_doc import (
    _KMS_ARN_RE,
    PARTITION_NAMES,
    Policy,
    PolicyInputs,
    _arn_partition,
    _deny,
    _doc,
    _split,
)

SYSTEM_INSTANCE_TYPE = "system"
USER_ID_SOURCES = {
    # policy variable compared with the profile's user-id tag
    "username": "aws:username",  # IAM users
    "principal-tag": "aws:PrincipalTag/{tag}",  # federated sessions carrying the tag
}

_INSTANCE_RE = re.compile(r"^(system|ml\.[a-z0-9*]+\.[a-z0-9*]+|ml\.\*)$")
_IMAGE_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9*-]*:(\d{12}|\*):image/[A-Za-z0-9*-]+$"
)
_VPCE_RE = re.compile(r"^vpce-[0-9a-f]{8,17}$")
_TAG_KEY_RE = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")
_TAG_KEY_RESERVED = re.compile(r"^aws:", re.I)

# Studio settings that carry an instance type or an image: their defaults must obey the lists too,
# otherwise a profile created with a forbidden default would start apps the list denies.
STUDIO_SETTINGS_ACTIONS = [
    "sagemaker:CreateDomain",
    "sagemaker:UpdateDomain",
    "sagemaker:CreateUserProfile",
    "sagemaker:UpdateUserProfile",
    "sagemaker:CreateSpace",
    "sagemaker:UpdateSpace",
]


def validate_inputs(inputs: PolicyInputs) -> PolicyInputs:
    """Normalise and check every value; raise one ``BadInput`` naming every bad value."""
    problems: list[str] = []
    types = _split(inputs.allowed_instance_types)
    for t in types:
        if not _INSTANCE_RE.match(t):
            problems.append(f"instance type {t!r} is not 'system' or 'ml.<family>.<size>'")
    images = _split(inputs.approved_images)
    for arn in images:
        if not _IMAGE_ARN_RE.match(arn):
            problems.append(
                f"image {arn!r} is not a SageMaker image ARN "
                f"(arn:{inputs.partition}:sagemaker:REGION:ACCOUNT:image/NAME)"
            )
    vpces = _split(inputs.vpce_ids)
    for v in vpces:
        if not _VPCE_RE.match(v):
            problems.append(f"VPC endpoint {v!r} is not an id like vpce-0123456789abcdef0")
    ips = _split(inputs.source_ips)
    norm_ips = []
    for cidr in ips:
        try:
            norm_ips.append(str(ipaddress.ip_network(cidr, strict=True)))
        except ValueError as exc:
            problems.append(f"source IP range {cidr!r} is not a CIDR: {exc}")
    keys = _split(inputs.kms_keys)
    for k in keys:
        if not _KMS_ARN_RE.match(k):
            problems.append(f"KMS key {k!r} is not a KMS key or alias ARN")
    tag = inputs.tag_key
    if not _TAG_KEY_RE.match(tag or "") or _TAG_KEY_RESERVED.match(tag or ""):
        problems.append(f"tag key {tag!r} is not a valid user tag key")
    if inputs.user_id_source not in USER_ID_SOURCES:
        problems.append(
            f"user id source {inputs.user_id_source!r} is not one of {sorted(USER_ID_SOURCES)}"
        )
    partition = inputs.partition
    if partition not in PARTITION_NAMES:
        problems.append(f"partition {partition!r} is not one of {', '.join(PARTITION_NAMES)}")
    else:
        for arn in [*images, *keys]:
            if _arn_partition(arn) != partition:
                problems.append(
                    f"{arn!r} is not in the domain's partition {partition} (arn:{partition}:...)"
                )
    problems += check_backup(inputs)
    if problems:
        raise BadInput("; ".join(problems))
    if types and SYSTEM_INSTANCE_TYPE not in types:
        types.insert(0, SYSTEM_INSTANCE_TYPE)
    return PolicyInputs(
        backup_bucket=inputs.backup_bucket.rstrip("/"),
        domain_id=inputs.domain_id,
        execution_roles=_split(inputs.execution_roles),
        shared_space_role=inputs.shared_space_role,
        backup_kms_key=inputs.backup_kms_key,
        allowed_instance_types=types,
        approved_images=images,
        vpce_ids=vpces,
        source_ips=norm_ips,
        kms_keys=keys,
        tag_key=tag,
        user_id_source=inputs.user_id_source,
        partition=partition,
    )


def instance_types_policy(types: list[str]) -> Policy:
    return Policy(
        name="studio-allowed-instance-types",
        description=(
            "Denies creating a Studio app, or setting a domain/profile/space default, with an "
            f"instance type outside {', '.join(types)} ('system', the Jupyter server's own "
            "instance, is always allowed)."
        ),
        attach_as=["SCP", "permissions boundary", "identity policy"],
        document=_doc(
            _deny(
                "DenyAppsOutsideInstanceTypes",
                ["sagemaker:CreateApp", *STUDIO_SETTINGS_ACTIONS],
                {"ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": types}},
            )
        ),
        notes=[
            "Requests that name no instance type use the defaults of the profile/space/domain, "
            "which the same statement keeps inside the list."
        ],
    )


def approved_images_policy(images: list[str], partition: str = "aws") -> Policy:
    versions = [re.sub(r":image/", ":image-version/", arn) + "/*" for arn in images]
    return Policy(
        name="studio-approved-images",
        description=(
            "Denies creating a Studio app, or setting a domain/profile/space default image, "
            "with a SageMaker image (or image version) outside the approved list."
        ),
        attach_as=["SCP", "permissions boundary", "identity policy"],
        document=_doc(
            _deny(
                "DenyUnapprovedImages",
                ["sagemaker:CreateApp", *STUDIO_SETTINGS_ACTIONS],
                {"ForAnyValue:ArnNotLike": {"sagemaker:ImageArns": images}},
            ),
            _deny(
                "DenyUnapprovedImageVersions",
                ["sagemaker:CreateApp", *STUDIO_SETTINGS_ACTIONS],
                {"ForAnyValue:ArnNotLike": {"sagemaker:ImageVersionArns": versions}},
            ),
        ),
        notes=[
            "List the SageMaker-provided images your users start (e.g. the SageMaker "
            "Distribution image ARN of your region) as well as your custom images; a wildcard "
            f"such as arn:{partition}:sagemaker:*:*:image/sagemaker-distribution-* is accepted."
        ],
    )


def vpc_only_policy() -> Policy:
    return Policy(
        name="studio-domain-vpc-only",
        description=(
            "Denies CreateDomain unless the domain is VpcOnly and names subnets and security "
            "groups, and denies switching an existing domain to PublicInternetOnly."
        ),
        attach_as=["SCP", "permissions boundary", "identity policy"],
        document=_doc(
            _deny(
                "DenyCreateDomainNotVpcOnly",
                "sagemaker:CreateDomain",
                {"StringNotEquals": {"sagemaker:AppNetworkAccessType": "VpcOnly"}},
            ),
            _deny(
                "DenyCreateDomainWithoutSubnets",
                "sagemaker:CreateDomain",
                {"Null": {"sagemaker:VpcSubnets": "true"}},
            ),
            _deny(
                "DenyCreateDomainWithoutSecurityGroups",
                "sagemaker:CreateDomain",
                {"Null": {"sagemaker:VpcSecurityGroupIds": "true"}},
            ),
            _deny(
                "DenyUpdateDomainToPublicInternet",
                "sagemaker:UpdateDomain",
                {"StringEquals": {"sagemaker:AppNetworkAccessType": "PublicInternetOnly"}},
            ),
        ),
        notes=[
            "AppNetworkAccessType defaults to PublicInternetOnly when CreateDomain omits it: the "
            "first statement denies that too (a negated operator is true when the key is absent)."
        ],
    )


def presigned_network_policy(vpces: list[str], cidrs: list[str]) -> Policy:
    cond: dict[str, Any] = {}
    if vpces:
        cond["StringNotEquals"] = {"aws:SourceVpce": vpces}
    if cidrs:
        cond["NotIpAddress"] = {"aws:SourceIp": cidrs}
    where = " or ".join(
        part
        for part in (
            f"VPC endpoints {', '.join(vpces)}" if vpces else "",
            f"IP ranges {', '.join(cidrs)}" if cidrs else "",
        )
        if part
    )
    return Policy(
        name="studio-presigned-url-network",
        description=f"Denies CreatePresignedDomainUrl (opening Studio) unless the call comes through {where}.",
        attach_as=["SCP", "permissions boundary", "identity policy"],
        document=_doc(
            _deny("DenyPresignedUrlOutsideNetwork", "sagemaker:CreatePresignedDomainUrl", cond)
        ),
        notes=[
            "Both conditions sit in one Deny statement, so they are ANDed: the call is denied "
            "only when it comes neither through a listed endpoint nor from a listed range. A call "
            "through a VPC endpoint carries no aws:SourceIp, a call from the internet no "
            "aws:SourceVpce; both negated operators are true when their key is absent."
        ],
    )


def own_profile_policy(tag_key: str, source: str, partition: str = "aws") -> Policy:
    variable = USER_ID_SOURCES[source].format(tag=tag_key)
    tag_cond = f"aws:ResourceTag/{tag_key}"
    profile_arn = f"arn:{partition}:sagemaker:*:*:user-profile/*/*"
    return Policy(
        name="studio-own-profile-only",
        description=(
            f"Allows opening Studio (CreatePresignedDomainUrl) only for a user profile whose "
            f"'{tag_key}' tag equals the caller's ${{{variable}}}, and denies every other profile, "
            "including untagged ones."
        ),
        attach_as=["identity policy (users or their group/role)"],
        document=_doc(
            {
                "Sid": "AllowOwnProfile",
                "Effect": "Allow",
                "Action": "sagemaker:CreatePresignedDomainUrl",
                "Resource": profile_arn,
                "Condition": {"StringEquals": {tag_cond: f"${{{variable}}}"}},
            },
            {
                "Sid": "DenyOtherProfiles",
                "Effect": "Deny",
                "Action": "sagemaker:CreatePresignedDomainUrl",
                "Resource": profile_arn,
                "Condition": {"StringNotEquals": {tag_cond: f"${{{variable}}}"}},
            },
            {
                "Sid": "DenyCallersWithoutUserId",
                "Effect": "Deny",
                "Action": "sagemaker:CreatePresignedDomainUrl",
                "Resource": profile_arn,
                "Condition": {"Null": {variable: "true"}},
            },
        ),
        notes=[
            f"User id source '{source}': ${{{variable}}}. 'username' suits IAM users; "
            f"'principal-tag' suits federated sessions (IAM Identity Center, SAML) that carry a "
            f"'{tag_key}' session tag. Roles have no aws:username: the Null statement denies "
            "them instead of letting an unresolvable variable silently skip the Deny.",
            "The Allow statement is what makes this an identity policy; in an SCP keep only the "
            "two Deny statements.",
        ],
    )


def kms_policy(keys: list[str]) -> Policy:
    statements = [
        _deny(
            "DenyCreateDomainWithoutVolumeKey",
            "sagemaker:CreateDomain",
            {"Null": {"sagemaker:VolumeKmsKey": "true"}},
        ),
        _deny(
            "DenyCreateDomainWithoutSharingKey",
            "sagemaker:CreateDomain",
            {"Null": {"sagemaker:DomainSharingOutputKmsKey": "true"}},
        ),
        _deny(
            "DenyEndpointConfigWithoutVolumeKey",
            "sagemaker:CreateEndpointConfig",
            {"Null": {"sagemaker:VolumeKmsKey": "true"}},
        ),
        _deny(
            "DenyMonitoringScheduleWithoutVolumeKey",
            "sagemaker:CreateMonitoringSchedule",
            {"Null": {"sagemaker:VolumeKmsKey": "true"}},
        ),
    ]
    if keys:
        statements.append(
            _deny(
                "DenyVolumeKeysOutsideList",
                [
                    "sagemaker:CreateDomain",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:CreateMonitoringSchedule",
                ],
                {"ArnNotLike": {"sagemaker:VolumeKmsKey": keys}},
            )
        )
        statements.append(
            _deny(
                "DenySharingKeysOutsideList",
                [
                    "sagemaker:CreateDomain",
                    "sagemaker:UpdateDomain",
                    "sagemaker:CreateUserProfile",
                    "sagemaker:UpdateUserProfile",
                ],
                # only when a sharing key is given: "...IfExists" would deny its absence too
                {
                    "Null": {"sagemaker:DomainSharingOutputKmsKey": "false"},
                    "ArnNotLike": {"sagemaker:DomainSharingOutputKmsKey": keys},
                },
            )
        )
    which = f" from {', '.join(keys)}" if keys else ""
    return Policy(
        name="sagemaker-required-kms-keys",
        description=(
            f"Denies CreateDomain without a customer KMS key{which} for the home volume and for "
            "the notebook-sharing bucket, and CreateEndpointConfig / CreateMonitoringSchedule "
            f"without a volume KMS key{which}."
        ),
        attach_as=["SCP", "permissions boundary", "identity policy"],
        document=_doc(*statements),
        notes=[
            "Endpoint instance types with only NVMe instance storage reject a volume KMS key; "
            "exempt their callers if you deploy on them.",
            "The sharing key check applies on CreateDomain; profiles may omit sharing settings "
            "(they inherit the domain's), and if they set one it must be from the list.",
        ],
    )


def user_tag_policy(tag_key: str) -> Policy:
    actions = [
        "sagemaker:CreateUserProfile",
        "sagemaker:CreateTrainingJob",
        "sagemaker:CreateProcessingJob",
    ]
    return Policy(
        name="sagemaker-required-user-id-tag",
        description=(
            f"Denies CreateUserProfile, CreateTrainingJob and CreateProcessingJob unless the "
            f"request tags the resource with a non-empty '{tag_key}' tag."
        ),
        attach_as=["SCP", "permissions boundary", "identity policy"],
        document=_doc(
            _deny("DenyWithoutUserIdTag", actions, {"Null": {f"aws:RequestTag/{tag_key}": "true"}}),
            _deny(
                "DenyEmptyUserIdTag", actions, {"StringEquals": {f"aws:RequestTag/{tag_key}": ""}}
            ),
        ),
        notes=[
            "SageMaker also checks sagemaker:AddTags when a create request carries tags: the "
            "callers need it.",
        ],
    )


def render_policies(inputs: PolicyInputs) -> tuple[list[Policy], list[str]]:
    """The policies the inputs allow, and why any policy was skipped."""
    inputs = validate_inputs(inputs)
    policies: list[Policy] = []
    skipped: list[str] = []
    if inputs.allowed_instance_types:
        policies.append(instance_types_policy(inputs.allowed_instance_types))
    else:
        skipped.append("studio-allowed-instance-types: no --allowed-instance-types given")
    if inputs.approved_images:
        policies.append(approved_images_policy(inputs.approved_images, inputs.partition))
    else:
        skipped.append("studio-approved-images: no --approved-images given")
    policies.append(vpc_only_policy())
    if inputs.vpce_ids or inputs.source_ips:
        policies.append(presigned_network_policy(inputs.vpce_ids, inputs.source_ips))
    else:
        skipped.append("studio-presigned-url-network: no --vpce or --source-ip given")
    policies.append(own_profile_policy(inputs.tag_key, inputs.user_id_source, inputs.partition))
    policies.append(kms_policy(inputs.kms_keys))
    policies.append(user_tag_policy(inputs.tag_key))
    if inputs.backup_bucket:
        policies += backup_policies(inputs)
    else:
        skipped.append(
            "studio-backup-*: no --backup-bucket given (with a shared execution role, any user "
            "can read everyone's home backups until they are confined)"
        )
    return policies, skipped


def write_policies(policies: list[Policy], skipped: list[str], out_dir: str | Path) -> list[Path]:
    """One ``<name>.json`` per policy, ``<name>.meta.json`` beside it, and a README.md."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    lines = [
        "# SageMaker Studio guardrail policies",
        "",
        "Rendered by `smstudio policies render`.",
        "",
    ]
    for p in policies:
        path = out / f"{p.name}.json"
        path.write_text(json.dumps(p.document, indent=2) + "\n")
        meta = out / f"{p.name}.meta.json"
        meta.write_text(json.dumps(p.sidecar(), indent=2) + "\n")
        written += [path, meta]
        lines += [f"## {p.name}", "", p.description, "", f"Attach as: {', '.join(p.attach_as)}."]
        lines += [""] + [f"- {n}" for n in p.notes] + [""]
    if skipped:
        lines += ["## Not rendered", ""] + [f"- {s}" for s in skipped] + [""]
    readme = out / "README.md"
    readme.write_text("\n".join(lines))
    written.append(readme)
    return written


SEVERITY_ORDER = ["MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]


def lint_policy(document: dict[str, Any]) -> list[dict[str, Any]]:
    """parliament's findings for one policy document: ``[{issue, severity, title, detail}]``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources (deprecated)
        import parliament
        import parliament.statement as pst

        # parliament 1.6 knows "ArrayOfString" but crashes on the newer "ArrayOfARN" type of
        # sagemaker:ImageArns: teach it that an array of ARNs is checked like an ARN.
        original = pst.translate_documentation_types

        def translate(name: str) -> str:
            if name.startswith("ArrayOf"):
                name = name[len("ArrayOf") :]
            return str(original(name))

        pst.translate_documentation_types = translate
        try:
            policy = parliament.analyze_policy_string(json.dumps(document))
        finally:
            pst.translate_documentation_types = original
        out = []
        for f in policy.findings:
            f = parliament.enhance_finding(f)
            out.append(
                {
                    "issue": f.issue,
                    "severity": f.severity,
                    "title": f.title,
                    "detail": f.detail,
                    "location": f.location,
                }
            )
    return out
