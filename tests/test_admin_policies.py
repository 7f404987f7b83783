"""Guardrail policies: each does what its description says (evaluated on example requests),
lints clean with parliament, and the evaluator itself catches the classic policy bugs."""

from __future__ import annotations

import json
import re

import pytest

from smstudio_ext.admin.policies import (
    SEVERITY_ORDER,
    PolicyInputs,
    lint_policy,
    render_policies,
    write_policies,
)
from smstudio_ext.cli import main
from smstudio_ext.errors import BadInput
from smstudio_ext.testing.policy_eval import PolicyBug, Request, allow_all, evaluate

ACCOUNT = "123456789012"
IMG = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/team-image"
OTHER_IMG = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/random-image"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222"
OTHER_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/9999-0000"
PROFILE = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/d-abc/alice"
VPCE = "vpce-0123456789abcdef0"

INPUTS = PolicyInputs(
    allowed_instance_types=["ml.t3.medium,ml.m5.*"],
    approved_images=[IMG],
    vpce_ids=[VPCE],
    source_ips=["203.0.113.0/24"],
    kms_keys=[KEY],
)


@pytest.fixture(scope="module")
def policies():
    rendered, skipped = render_policies(INPUTS)
    assert [s for s in skipped if not s.startswith("studio-backup-*")] == []
    return {p.name: p for p in rendered}


def decide(policy, action, resource="*", **context):
    """The guardrail over a permissive baseline, as an SCP sits over FullAccess."""
    return evaluate(
        [allow_all(), policy.document], Request(f"sagemaker:{action}", resource, context)
    )


def test_instance_types(policies):
    p = policies["studio-allowed-instance-types"]
    assert (
        "system"
        in p.document["Statement"][0]["Condition"]["ForAnyValue:StringNotLike"][
            "sagemaker:InstanceTypes"
        ]
    )
    assert decide(p, "CreateApp", **{"sagemaker:InstanceTypes": ["system"]}).allowed
    assert decide(p, "CreateApp", **{"sagemaker:InstanceTypes": ["ml.t3.medium"]}).allowed
    assert decide(p, "CreateApp", **{"sagemaker:InstanceTypes": ["ml.m5.4xlarge"]}).allowed
    assert decide(
        p, "CreateApp", **{"sagemaker:InstanceTypes": ["ml.p4d.24xlarge"]}
    ).denied_explicitly
    # one forbidden value among allowed ones is enough to deny
    mixed = ["ml.t3.medium", "ml.g5.48xlarge"]
    assert decide(p, "CreateApp", **{"sagemaker:InstanceTypes": mixed}).denied_explicitly
    # defaults set on a profile obey the same list
    assert decide(
        p, "UpdateUserProfile", **{"sagemaker:InstanceTypes": ["ml.g5.48xlarge"]}
    ).denied_explicitly
    # other actions are untouched
    assert decide(
        p, "CreateTrainingJob", **{"sagemaker:InstanceTypes": ["ml.p4d.24xlarge"]}
    ).allowed


def test_approved_images(policies):
    p = policies["studio-approved-images"]
    assert decide(p, "CreateApp", **{"sagemaker:ImageArns": [IMG]}).allowed
    assert decide(p, "CreateApp", **{"sagemaker:ImageArns": [OTHER_IMG]}).denied_explicitly
    version = IMG.replace(":image/", ":image-version/") + "/3"
    other_version = OTHER_IMG.replace(":image/", ":image-version/") + "/1"
    assert decide(p, "CreateApp", **{"sagemaker:ImageVersionArns": [version]}).allowed
    assert decide(
        p, "CreateApp", **{"sagemaker:ImageVersionArns": [other_version]}
    ).denied_explicitly
    assert decide(p, "CreateApp").allowed  # no image named: the (checked) default applies


def test_vpc_only(policies):
    p = policies["studio-domain-vpc-only"]
    good = {
        "sagemaker:AppNetworkAccessType": "VpcOnly",
        "sagemaker:VpcSubnets": ["subnet-1", "subnet-2"],
        "sagemaker:VpcSecurityGroupIds": ["sg-1"],
    }
    assert decide(p, "CreateDomain", **good).allowed
    public = dict(good, **{"sagemaker:AppNetworkAccessType": "PublicInternetOnly"})
    assert decide(p, "CreateDomain", **public).statements == ["DenyCreateDomainNotVpcOnly"]
    omitted = {k: v for k, v in good.items() if k != "sagemaker:AppNetworkAccessType"}
    assert decide(p, "CreateDomain", **omitted).denied_explicitly  # default is public
    no_sg = {k: v for k, v in good.items() if k != "sagemaker:VpcSecurityGroupIds"}
    assert decide(p, "CreateDomain", **no_sg).statements == [
        "DenyCreateDomainWithoutSecurityGroups"
    ]
    no_subnets = {k: v for k, v in good.items() if k != "sagemaker:VpcSubnets"}
    assert decide(p, "CreateDomain", **no_subnets).statements == ["DenyCreateDomainWithoutSubnets"]
    # an ordinary UpdateDomain (no network change) still works; switching to public does not
    assert decide(p, "UpdateDomain").allowed
    assert decide(
        p, "UpdateDomain", **{"sagemaker:AppNetworkAccessType": "PublicInternetOnly"}
    ).denied_explicitly


def test_presigned_url_network(policies):
    p = policies["studio-presigned-url-network"]
    assert decide(p, "CreatePresignedDomainUrl", PROFILE, **{"aws:SourceVpce": VPCE}).allowed
    assert decide(p, "CreatePresignedDomainUrl", PROFILE, **{"aws:SourceIp": "203.0.113.7"}).allowed
    assert decide(
        p, "CreatePresignedDomainUrl", PROFILE, **{"aws:SourceVpce": "vpce-0aaaaaaaaaaaaaaaa"}
    ).denied_explicitly
    assert decide(
        p, "CreatePresignedDomainUrl", PROFILE, **{"aws:SourceIp": "198.51.100.1"}
    ).denied_explicitly
    assert decide(p, "CreatePresignedDomainUrl", PROFILE).denied_explicitly
    assert decide(p, "CreateApp", **{"aws:SourceIp": "198.51.100.1"}).allowed


def test_presigned_url_vpce_only_and_ip_only():
    only_vpce, _ = render_policies(PolicyInputs(vpce_ids=[VPCE]))
    p = {x.name: x for x in only_vpce}["studio-presigned-url-network"]
    assert decide(p, "CreatePresignedDomainUrl", PROFILE, **{"aws:SourceVpce": VPCE}).allowed
    assert decide(
        p, "CreatePresignedDomainUrl", PROFILE, **{"aws:SourceIp": "203.0.113.7"}
    ).denied_explicitly
    only_ip, _ = render_policies(PolicyInputs(source_ips=["10.1.0.0/16"]))
    p = {x.name: x for x in only_ip}["studio-presigned-url-network"]
    assert decide(p, "CreatePresignedDomainUrl", PROFILE, **{"aws:SourceIp": "10.1.2.3"}).allowed
    assert decide(
        p, "CreatePresignedDomainUrl", PROFILE, **{"aws:SourceVpce": VPCE}
    ).denied_explicitly


def test_own_profile_only_alone_grants_exactly_the_own_profile(policies):
    doc = policies["studio-own-profile-only"].document

    def ask(**ctx):
        return evaluate([doc], Request("sagemaker:CreatePresignedDomainUrl", PROFILE, ctx))

    assert ask(**{"aws:username": "alice", "aws:ResourceTag/studiouserid": "alice"}).allowed
    assert ask(**{"aws:username": "bob", "aws:ResourceTag/studiouserid": "alice"}).denied_explicitly
    assert ask(**{"aws:username": "bob"}).denied_explicitly  # untagged profile
    # an assumed role has no aws:username: denied, not silently skipped
    assert ask(**{"aws:ResourceTag/studiouserid": "alice"}).statements == [
        "DenyCallersWithoutUserId"
    ]
    # and even over a permissive baseline the other profiles stay closed
    over = evaluate(
        [allow_all(), doc],
        Request(
            "sagemaker:CreatePresignedDomainUrl",
            PROFILE,
            {"aws:username": "bob", "aws:ResourceTag/studiouserid": "alice"},
        ),
    )
    assert over.denied_explicitly


def test_own_profile_with_principal_tag():
    rendered, _ = render_policies(PolicyInputs(user_id_source="principal-tag"))
    doc = {p.name: p for p in rendered}["studio-own-profile-only"].document
    req = {"aws:PrincipalTag/studiouserid": "alice", "aws:ResourceTag/studiouserid": "alice"}
    assert evaluate([doc], Request("sagemaker:CreatePresignedDomainUrl", PROFILE, req)).allowed
    req["aws:PrincipalTag/studiouserid"] = "mallory"
    assert evaluate(
        [doc], Request("sagemaker:CreatePresignedDomainUrl", PROFILE, req)
    ).denied_explicitly


def test_required_kms_keys(policies):
    p = policies["sagemaker-required-kms-keys"]
    good_domain = {"sagemaker:VolumeKmsKey": KEY, "sagemaker:DomainSharingOutputKmsKey": KEY}
    assert decide(p, "CreateDomain", **good_domain).allowed
    assert decide(p, "CreateDomain", **{"sagemaker:VolumeKmsKey": KEY}).statements == [
        "DenyCreateDomainWithoutSharingKey"
    ]
    # the classic IfExists trap: a sharing key is optional on updates, so its absence must pass
    assert decide(p, "UpdateDomain").allowed
    assert decide(
        p, "CreateDomain", **dict(good_domain, **{"sagemaker:VolumeKmsKey": OTHER_KEY})
    ).statements == ["DenyVolumeKeysOutsideList"]
    for action in ("CreateEndpointConfig", "CreateMonitoringSchedule"):
        assert decide(p, action, **{"sagemaker:VolumeKmsKey": KEY}).allowed
        assert decide(p, action).denied_explicitly
        assert decide(p, action, **{"sagemaker:VolumeKmsKey": OTHER_KEY}).denied_explicitly
    # a profile may omit sharing settings, but not name another key
    assert decide(p, "CreateUserProfile").allowed
    assert decide(
        p, "CreateUserProfile", **{"sagemaker:DomainSharingOutputKmsKey": OTHER_KEY}
    ).denied_explicitly


def test_required_kms_keys_without_a_pinned_list():
    rendered, _ = render_policies(PolicyInputs())
    p = {x.name: x for x in rendered}["sagemaker-required-kms-keys"]
    assert decide(p, "CreateEndpointConfig", **{"sagemaker:VolumeKmsKey": OTHER_KEY}).allowed
    assert decide(p, "CreateEndpointConfig").denied_explicitly


def test_required_user_id_tag(policies):
    p = policies["sagemaker-required-user-id-tag"]
    for action in ("CreateUserProfile", "CreateTrainingJob", "CreateProcessingJob"):
        tagged = {"aws:RequestTag/studiouserid": "alice", "aws:TagKeys": ["studiouserid"]}
        assert decide(p, action, **tagged).allowed
        assert decide(p, action).denied_explicitly
        assert decide(p, action, **{"aws:RequestTag/team": "x"}).denied_explicitly
        assert decide(p, action, **{"aws:RequestTag/studiouserid": ""}).denied_explicitly
    assert decide(p, "CreateSpace").allowed


def test_every_policy_lints_without_findings_above_low(policies):
    low = SEVERITY_ORDER.index("LOW")
    for p in policies.values():
        findings = lint_policy(p.document)
        assert [f for f in findings if SEVERITY_ORDER.index(f["severity"]) > low] == [], p.name


def test_linter_and_evaluator_catch_the_classic_bugs():
    # a single-valued operator on a multi-valued key
    buggy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "sagemaker:CreateApp",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"sagemaker:InstanceTypes": ["ml.t3.medium"]}},
            }
        ],
    }
    with pytest.raises(PolicyBug, match="ForAnyValue"):
        evaluate([buggy], Request("sagemaker:CreateApp", "*", {"sagemaker:InstanceTypes": ["x"]}))
    # a condition key the action never carries: the Deny can't match; parliament says so
    dead = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "sagemaker:CreatePresignedDomainUrl",
                "Resource": "*",
                "Condition": {"ArnNotLike": {"sagemaker:VolumeKmsKey": KEY}},
            }
        ],
    }
    issues = {f["issue"] for f in lint_policy(dead)}
    assert "UNKNOWN_CONDITION_FOR_ACTION" in issues


def test_write_policies_files(tmp_path, policies):
    rendered, skipped = render_policies(PolicyInputs())
    files = write_policies(rendered, skipped, tmp_path / "out")
    names = sorted(f.name for f in files)
    assert "README.md" in names
    for p in rendered:
        doc = json.loads((tmp_path / "out" / f"{p.name}.json").read_text())
        assert doc["Version"] == "2012-10-17" and doc["Statement"]
        meta = json.loads((tmp_path / "out" / f"{p.name}.meta.json").read_text())
        assert meta["description"] == p.description
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "studio-allowed-instance-types: no --allowed-instance-types given" in readme


@pytest.mark.parametrize(
    "inputs, message",
    [
        (PolicyInputs(allowed_instance_types=["m5.large"]), "instance type 'm5.large'"),
        (PolicyInputs(approved_images=["arn:aws:s3:::bucket"]), "not a SageMaker image ARN"),
        (PolicyInputs(vpce_ids=["vpc-123"]), "not an id like vpce-"),
        (PolicyInputs(source_ips=["10.0.0.1/8"]), "source IP range '10.0.0.1/8'"),
        (PolicyInputs(source_ips=["nonsense"]), "not a CIDR"),
        (PolicyInputs(kms_keys=["alias/x"]), "not a KMS key"),
        (PolicyInputs(tag_key="aws:reserved"), "not a valid user tag key"),
        (PolicyInputs(user_id_source="email"), "user id source 'email'"),
    ],
)
def test_bad_input(inputs, message):
    with pytest.raises(BadInput, match=message):
        render_policies(inputs)


def test_bad_input_reports_every_problem_at_once():
    with pytest.raises(BadInput) as err:
        render_policies(PolicyInputs(vpce_ids=["x"], source_ips=["y"]))
    assert "'x'" in err.value.message and "'y'" in err.value.message


def test_cli_render(tmp_path, capsys):
    out = tmp_path / "pol"
    code = main(
        [
            "policies",
            "render",
            "--out",
            str(out),
            "--allowed-instance-types",
            "ml.t3.medium",
            "--vpce",
            VPCE,
            "--source-ip",
            "10.0.0.0/8",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    names = {p["name"] for p in data["policies"]}
    assert "studio-allowed-instance-types" in names and "studio-presigned-url-network" in names
    assert all(p["lint_findings"] == [] for p in data["policies"])
    assert data["skipped"][0] == "studio-approved-images: no --approved-images given"
    assert data["skipped"][1].startswith("studio-backup-*: no --backup-bucket given")
    assert (out / "studio-allowed-instance-types.json").is_file()


def test_cli_render_bad_input(tmp_path, capsys):
    out = tmp_path / "pol"
    code = main(["policies", "render", "--out", str(out), "--source-ip", "300.1.1.1/32"])
    assert code == 2
    assert "source IP range" in capsys.readouterr().err
    assert not out.exists()  # nothing written on bad input


def test_evaluator_semantics_for_absent_keys_and_variables():
    def stmt(cond):
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "S", "Effect": "Deny", "Action": "x:Y", "Resource": "*", "Condition": cond}
            ],
        }

    def denied(cond, **ctx):
        return evaluate([allow_all(), stmt(cond)], Request("x:Y", "*", ctx)).denied_explicitly

    assert denied({"StringNotEquals": {"k": "a"}})  # negated operator, key absent: true
    assert not denied({"StringEquals": {"k": "a"}})  # positive operator, key absent: false
    assert denied({"StringEqualsIfExists": {"k": "a"}})
    assert denied({"ArnNotLikeIfExists": {"k": "arn:aws:kms:*:*:key/*"}})
    assert not denied({"ForAnyValue:StringNotLike": {"k": ["a"]}})  # absent: false
    assert denied({"ForAllValues:StringLike": {"k": ["a"]}})  # absent: vacuously true
    assert not denied({"ForAllValues:StringLike": {"k": ["a*"]}}, k=["ab", "b"])
    assert denied({"ForAllValues:StringLike": {"k": ["a*"]}}, k=["ab", "ac"])
    assert denied({"Bool": {"aws:SecureTransport": "false"}}, **{"aws:SecureTransport": "false"})
    assert not denied({"Bool": {"aws:SecureTransport": "false"}}, **{"aws:SecureTransport": "true"})
    assert denied({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, **{"aws:SourceIp": "10.2.3.4"})
    assert denied({"Null": {"k": "true"}}) and not denied({"Null": {"k": "false"}})
    # an unresolvable policy variable makes the condition false: the Deny silently never applies
    assert not denied({"StringNotEquals": {"k": "${aws:username}"}}, k="alice")
    assert denied(
        {"StringNotEquals": {"k": "${aws:username}"}}, k="alice", **{"aws:username": "bob"}
    )
    # keys are case-insensitive, actions too
    assert denied({"StringEquals": {"AWS:SourceVpce": "v"}}, **{"aws:sourcevpce": "v"})
    assert evaluate([stmt({})], Request("X:y")).denied_explicitly
    assert evaluate([], Request("x:Y")).decision == "ImplicitDeny"


def _arns(value):
    if isinstance(value, str):
        return [value] if value.startswith("arn:") else []
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arns(v)]
    if isinstance(value, list):
        return [a for v in value for a in _arns(v)]
    return []


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_every_arn_uses_the_domains_partition(partition):
    image = f"arn:{partition}:sagemaker:*:{ACCOUNT}:image/team-image"
    key = f"arn:{partition}:kms:*:{ACCOUNT}:key/1111-2222"
    rendered, _ = render_policies(
        PolicyInputs(approved_images=[image], kms_keys=[key], partition=partition)
    )
    arns = [a for p in rendered for a in _arns(p.document)]
    assert arns and all(a.startswith(f"arn:{partition}:") for a in arns), arns
    own = {p.name: p for p in rendered}["studio-own-profile-only"].document
    profile = f"arn:{partition}:sagemaker:cn-north-1:{ACCOUNT}:user-profile/d-abc/alice"
    ctx = {"aws:username": "alice", "aws:ResourceTag/studiouserid": "alice"}
    assert evaluate([own], Request("sagemaker:CreatePresignedDomainUrl", profile, ctx)).allowed
    notes = " ".join(n for p in rendered for n in p.notes)
    assert f"arn:{partition}:sagemaker:*:*:image/sagemaker-distribution-*" in notes
    # an ARN of another partition is refused, naming it
    with pytest.raises(BadInput, match=f"not in the domain's partition {partition}"):
        render_policies(PolicyInputs(approved_images=[IMG], partition=partition))


def test_cli_partition_comes_from_the_region(tmp_path, capsys):
    out = tmp_path / "pol"
    code = main(["--region", "cn-north-1", "policies", "render", "--out", str(out), "--no-lint"])
    assert code == 0
    doc = json.loads((out / "studio-own-profile-only.json").read_text())
    assert doc["Statement"][0]["Resource"] == "arn:aws-cn:sagemaker:*:*:user-profile/*/*"
    with pytest.raises(SystemExit) as exit_info:  # argparse refuses an unknown partition
        main(["policies", "render", "--out", str(out), "--partition", "mars", "--no-lint"])
    assert exit_info.value.code == 2 and "invalid choice: 'mars'" in capsys.readouterr().err


# --- home-backup confinement: each identity reads and writes only its own homes -------------

DOMAIN = "d-abc123def456"
USERS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/StudioExec"
SHARED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/StudioSharedSpaces"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Admin"
BACKUP = PolicyInputs(
    backup_bucket="s3://corp-homes/homes",
    domain_id=DOMAIN,
    execution_roles=[USERS_ROLE],
    shared_space_role=SHARED_ROLE,
    backup_kms_key=KEY,
)


@pytest.fixture(scope="module")
def backup():
    rendered, skipped = render_policies(BACKUP)
    assert not [s for s in skipped if "backup" in s]
    return {p.name: p.document for p in rendered if p.name.startswith("studio-backup-")}


def s3(backup, action, key=None, *, role=USERS_ROLE, who="alice", prefix=None, baseline=True):
    """An S3 request of a Studio session (source identity ``who``; None = no identity config)
    against its role's policy and the bucket policy, over an allow-all baseline standing for
    AmazonSageMakerFullAccess/AmazonS3FullAccess (what the Denies must hold against)."""
    resource = "arn:aws:s3:::corp-homes" + (f"/{key}" if key is not None else "")
    context = {"aws:PrincipalArn": role}
    if who is not None:
        context["aws:SourceIdentity"] = who
    if prefix is not None:
        context["s3:prefix"] = prefix
    role_policy = (
        backup["studio-backup-shared-spaces-role-policy"]
        if role == SHARED_ROLE
        else backup["studio-backup-role-policy"]
    )
    docs = [role_policy, backup["studio-backup-bucket-policy"]]
    if baseline:
        docs.append(allow_all())
    return evaluate(docs, Request(f"s3:{action}", resource, context))


def test_backup_policies_render_lint_clean_and_are_skipped_without_a_bucket(backup):
    assert set(backup) == {
        "studio-backup-role-policy",
        "studio-backup-shared-spaces-role-policy",
        "studio-backup-bucket-policy",
    }
    low = SEVERITY_ORDER.index("LOW")
    for name, doc in backup.items():
        assert [f for f in lint_policy(doc) if SEVERITY_ORDER.index(f["severity"]) > low] == [], (
            name
        )
    _, skipped = render_policies(PolicyInputs())
    assert any("studio-backup-*: no --backup-bucket given" in s for s in skipped)


def test_a_user_reads_and_writes_their_own_homes_only(backup):
    own = f"homes/{DOMAIN}/alice"
    # their Studio Classic home and their private spaces: allowed by the role policy alone
    for key in (f"{own}/snapshots/s1.jsonl.gz", f"{own}/spaces/alice-space/data/ab/abcd"):
        for action in ("GetObject", "PutObject", "DeleteObject"):
            assert s3(backup, action, key, baseline=False).allowed, (action, key)
    # someone else's home, a look-alike name, a shared space, another domain, outside the
    # prefix: denied explicitly, even when another policy allows all of S3
    for key in (
        f"homes/{DOMAIN}/bob/snapshots/s1.jsonl.gz",
        f"homes/{DOMAIN}/bob/spaces/bob-space/data/ab/abcd",
        f"homes/{DOMAIN}/alice2/snapshots/s1.jsonl.gz",
        f"homes/{DOMAIN}/_shared/team-space/snapshots/s1.jsonl.gz",
        "homes/d-0ther0domain0/alice/snapshots/s1.jsonl.gz",
        "homes/alice/x",
        "elsewhere/x",
    ):
        for action in ("GetObject", "PutObject", "DeleteObject", "GetObjectAcl"):
            assert s3(backup, action, key).denied_explicitly, (action, key)
    assert s3(backup, "ListBucketMultipartUploads").denied_explicitly  # names every key


def test_a_user_lists_their_own_prefix_only(backup):
    for prefix in (f"homes/{DOMAIN}/alice/", f"homes/{DOMAIN}/alice/snapshots/"):
        assert s3(backup, "ListBucket", prefix=prefix, baseline=False).allowed, prefix
    for prefix in (f"homes/{DOMAIN}/", f"homes/{DOMAIN}/bob/", f"homes/{DOMAIN}/alice", "", None):
        assert s3(backup, "ListBucket", prefix=prefix).denied_explicitly, prefix
    assert s3(backup, "ListBucketVersions", prefix=f"homes/{DOMAIN}/").denied_explicitly


def test_without_a_source_identity_a_shared_role_gets_nothing(backup):
    # ExecutionRoleIdentityConfig=DISABLED: the ${aws:SourceIdentity} Denies would not apply,
    # so one more Deny takes the whole bucket away, whatever else the role may do
    decision = s3(backup, "GetObject", f"homes/{DOMAIN}/bob/snapshots/s1.jsonl.gz", who=None)
    assert decision.statements == ["DenyUsersWithoutSourceIdentity"]
    assert s3(backup, "ListBucket", prefix=f"homes/{DOMAIN}/", who=None).denied_explicitly
    assert not s3(backup, "GetObject", f"homes/{DOMAIN}/alice/x", who=None, baseline=False).allowed


def test_shared_spaces_use_their_own_role_and_prefix(backup):
    shared = f"homes/{DOMAIN}/_shared/team-space/snapshots/s1.jsonl.gz"
    assert s3(backup, "PutObject", shared, role=SHARED_ROLE, who=None, baseline=False).allowed
    assert s3(
        backup, "ListBucket", role=SHARED_ROLE, who=None, prefix=f"homes/{DOMAIN}/_shared/"
    ).allowed
    mine = f"homes/{DOMAIN}/alice/snapshots/s1.jsonl.gz"
    assert s3(backup, "GetObject", mine, role=SHARED_ROLE, who=None).denied_explicitly
    assert s3(backup, "GetObject", mine, role=SHARED_ROLE, who="alice").denied_explicitly


def test_other_principals_are_not_confined(backup):
    key = f"homes/{DOMAIN}/bob/snapshots/s1.jsonl.gz"
    assert s3(backup, "GetObject", key, role=ADMIN_ROLE, who=None).allowed  # their own policies
    assert not s3(backup, "GetObject", key, role=ADMIN_ROLE, who=None, baseline=False).allowed


def test_the_policies_fit_the_backup_engines_key_layout(backup):
    # The keys the backup engine really uses, for a Classic profile and a private space,
    # are inside what the policy gives that profile, and outside what it gives another
    from smstudio_ext.backup.config import HomeBackup
    from smstudio_ext.backup.engine import BackupService
    from smstudio_ext.context import StudioContext

    def root(**ctx):
        context = StudioContext(domain_id=DOMAIN, **ctx)
        service = BackupService(HomeBackup(bucket="s3://corp-homes/homes"), context, None)
        return service.location().root

    classic = root(kind="classic", app_type="JupyterServer", user_profile_name="alice")
    space = root(
        kind="spaces", app_type="JupyterLab", user_profile_name="alice", space_name="alice-space"
    )
    assert classic == f"homes/{DOMAIN}/alice/"
    assert space == f"homes/{DOMAIN}/alice/spaces/alice-space/"
    for base in (classic, space):
        assert s3(backup, "PutObject", base + "data/ab/abcd", baseline=False).allowed
        assert s3(backup, "ListBucket", prefix=base + "snapshots/", baseline=False).allowed
        assert s3(backup, "GetObject", base + "snapshots/s", who="bob").denied_explicitly
    shared = root(kind="spaces", app_type="JupyterLab", space_name="team-space")
    assert shared == f"homes/{DOMAIN}/_shared/team-space/"
    assert s3(backup, "PutObject", shared + "x", role=SHARED_ROLE, who=None, baseline=False).allowed


@pytest.mark.parametrize(
    "inputs, message",
    [
        (PolicyInputs(backup_bucket="s3://corp-homes"), "needs --backup-bucket, --domain-id and "
         "--execution-role (missing --domain-id, --execution-role)"),
        (PolicyInputs(domain_id=DOMAIN, execution_roles=[USERS_ROLE]), "missing --backup-bucket"),
        (BACKUP.__class__(**{**BACKUP.__dict__, "backup_bucket": "s3://Bad_Bucket"}),
         "invalid backup bucket"),
        (BACKUP.__class__(**{**BACKUP.__dict__, "backup_bucket": "s3://b-1/p*"}),
         "invalid backup bucket"),
        (BACKUP.__class__(**{**BACKUP.__dict__, "domain_id": "d-x;y"}), "invalid domain id"),
        (BACKUP.__class__(**{**BACKUP.__dict__, "execution_roles": ["role/x"]}),
         "invalid execution role"),
        (BACKUP.__class__(**{**BACKUP.__dict__, "shared_space_role": USERS_ROLE}),
         "must not be a user execution role"),
        (BACKUP.__class__(**{**BACKUP.__dict__, "backup_kms_key": "alias/x"}),
         "not a KMS key ARN"),
        (BACKUP.__class__(**{**BACKUP.__dict__, "partition": "aws-cn"}),
         "not in the domain's partition aws-cn"),
    ],
)  # fmt: skip
def test_backup_confinement_bad_input(inputs, message):
    with pytest.raises(BadInput, match=re.escape(message)):
        render_policies(inputs)


def test_cli_render_backup_confinement(tmp_path, capsys):
    out = tmp_path / "pol"
    code = main(["policies", "render", "--out", str(out), "--backup-bucket", "s3://corp-homes/homes",
                 "--domain-id", DOMAIN, "--execution-role", USERS_ROLE, "--json"])  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    names = {p["name"] for p in data["policies"]}
    assert {"studio-backup-role-policy", "studio-backup-bucket-policy"} <= names
    assert "studio-backup-shared-spaces-role-policy" not in names
    bucket = json.loads((out / "studio-backup-bucket-policy.json").read_text())
    assert {s["Sid"] for s in bucket["Statement"]} == {
        "DenyUsersOtherHomes", "DenyUsersListingOtherHomes", "DenyUsersWithoutSourceIdentity",
    }  # fmt: skip
    readme = (out / "README.md").read_text()
    assert "ExecutionRoleIdentityConfig = USER_PROFILE_NAME" in readme
    assert main(["policies", "render", "--out", str(tmp_path / "x"), "--backup-bucket",
                 "s3://corp-homes", "--no-lint"]) == 2  # fmt: skip
    assert "needs --backup-bucket, --domain-id and --execution-role" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_evaluator_substitutes_variables_in_resources_literally():
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::b/${aws:SourceIdentity}/*"},
        ],
    }  # fmt: skip

    def get(key, **ctx):
        return evaluate([doc], Request("s3:GetObject", f"arn:aws:s3:::b/{key}", ctx)).allowed

    assert get("alice/x", **{"aws:SourceIdentity": "alice"})
    assert not get("bob/x", **{"aws:SourceIdentity": "alice"})
    assert not get("alice/x")  # no value: the statement does not apply
    # a value's wildcard is a literal character, not a wildcard
    assert not get("anyone/x", **{"aws:SourceIdentity": "*"})
    assert get("*/x", **{"aws:SourceIdentity": "*"})
