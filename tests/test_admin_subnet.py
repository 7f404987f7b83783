"""plan-subnet: worked examples computed by hand from the counting rules, and bad input."""

from __future__ import annotations

import json

import pytest

from smstudio_ext.admin.subnet import plan_subnets, prefix_for
from smstudio_ext.cli import main
from smstudio_ext.errors import BadInput


def test_worked_example_without_efa():
    # 2 subnets, 10 endpoints: per subnet 1 EFS + 10 endpoint ENIs = 11; both subnets = 22.
    # One user: 3 instances + 2 training instances x 2 IPs = 7. 100 users = 700.
    # Worst case in one subnet: 11 + 700 = 711. Growth 20% -> 120 users -> 11 + 840 = 851,
    # + 5 reserved = 856 -> /22 (1024 addresses; /23 = 512 is too small).
    plan = plan_subnets(
        subnets=2,
        endpoints=10,
        users=100,
        instances_per_user=3,
        training_instances_per_user=2,
        growth_pct=20,
    )
    assert plan.domain_ips == 22
    assert plan.domain_ips_per_subnet == 11
    assert plan.ips_per_user == 7
    assert plan.users_ips == 700
    assert plan.per_subnet_ips == 711
    assert plan.grown_users == 120
    assert plan.per_subnet_ips_with_growth == 851
    assert plan.per_subnet_addresses == 856
    assert plan.recommended_prefix == 22
    assert plan.recommended_size == 1024
    assert plan.total_ips == 722


def test_efa_counts_five_ips_per_training_instance():
    # 3 subnets, 4 endpoints: 5 per subnet, 15 total. One user: 2 + 4 x 5 = 22. 10 users = 220.
    # Per subnet: 5 + 220 = 225 + 5 reserved = 230 -> /24 (256).
    plan = plan_subnets(
        subnets=3,
        endpoints=4,
        users=10,
        instances_per_user=2,
        training_instances_per_user=4,
        efa=True,
    )
    assert (plan.domain_ips, plan.ips_per_user, plan.per_subnet_ips) == (15, 22, 225)
    assert plan.per_subnet_addresses == 230 and plan.recommended_prefix == 24


def test_growth_rounds_users_up_and_can_cross_a_prefix():
    # 1 subnet, 0 endpoints, 7 users x 1 instance: 1 + 7 + 5 = 13 -> /28 (16).
    # 50% growth: ceil(10.5) = 11 users -> 1 + 11 + 5 = 17 -> /27 (32).
    assert (
        plan_subnets(subnets=1, endpoints=0, users=7, instances_per_user=1).recommended_prefix == 28
    )
    grown = plan_subnets(subnets=1, endpoints=0, users=7, instances_per_user=1, growth_pct=50)
    assert grown.grown_users == 11 and grown.per_subnet_addresses == 17
    assert grown.recommended_prefix == 27


def test_efs_mount_targets_count_once_per_availability_zone():
    # 4 subnets in 2 AZs, 3 endpoints: EFS 2 mount targets (one per AZ, not per subnet) + 3 x 4
    # endpoint ENIs = 14 over the domain. The worst-case subnet still holds its AZ's mount
    # target: 1 + 3 = 4 domain ENIs. 20 users x 2 instances = 40 -> 44 + 5 = 49 -> /26 (64).
    plan = plan_subnets(
        subnets=4, availability_zones=2, endpoints=3, users=20, instances_per_user=2
    )
    assert plan.domain_ips == 2 + 12 and plan.domain_ips_per_subnet == 4
    assert plan.per_subnet_addresses == 49 and plan.recommended_prefix == 26
    assert plan.total_ips == 14 + 40
    efs = next(r for r in plan.rows if r.entity.startswith("EFS"))
    assert (efs.count, efs.ips_total) == (2, 2)
    # one subnet per AZ (the default) gives one mount target per subnet
    assert plan_subnets(subnets=4, endpoints=3, users=20, instances_per_user=2).domain_ips == 16
    with pytest.raises(BadInput, match="cannot exceed the subnets"):
        plan_subnets(subnets=2, availability_zones=3, endpoints=0, users=1, instances_per_user=1)
    with pytest.raises(BadInput, match="availability zones must be positive"):
        plan_subnets(subnets=2, availability_zones=0, endpoints=0, users=1, instances_per_user=1)


def test_prefix_boundaries():
    assert prefix_for(1) == 28
    assert prefix_for(16) == 28
    assert prefix_for(17) == 27
    assert prefix_for(65536) == 16
    with pytest.raises(BadInput, match="largest subnet AWS allows"):
        prefix_for(65537)


def test_plan_larger_than_a_slash_16_is_a_clear_error():
    # 1 + 10,000 x 7 = 70,001 + 5 > 65,536
    with pytest.raises(BadInput, match=r"/16"):
        plan_subnets(subnets=2, endpoints=0, users=10_000, instances_per_user=7)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"subnets": 0}, "subnets must be positive"),
        ({"subnets": -1}, "subnets must be positive"),
        ({"subnets": 17}, "at most 16"),
        ({"endpoints": -2}, "endpoints must be zero or more"),
        ({"users": 0}, "users must be positive"),
        ({"instances_per_user": 0}, "instances per user must be positive"),
        ({"training_instances_per_user": -1}, "training instances per user must be zero or more"),
        ({"growth_pct": -5}, "growth must be zero or more"),
        ({"growth_pct": 1001}, "growth must be between 0 and 1000"),
        ({"users": 2.5}, "users must be a whole number"),
    ],
)
def test_bad_input(kwargs, message):
    base = dict(subnets=2, endpoints=1, users=5, instances_per_user=2)
    base.update(kwargs)
    with pytest.raises(BadInput, match=message):
        plan_subnets(**base)


def test_cli_json(capsys):
    code = main(
        [
            "plan-subnet",
            "--subnets",
            "2",
            "--endpoints",
            "10",
            "--users",
            "100",
            "--instances-per-user",
            "3",
            "--training-instances-per-user",
            "2",
            "--growth",
            "20",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["domain_ips"] == 22
    assert data["ips_per_user"] == 7
    assert data["per_subnet_ips"] == 711
    assert data["recommended_prefix"] == 22


def test_cli_table(capsys):
    code = main(
        [
            "plan-subnet",
            "--subnets",
            "3",
            "--endpoints",
            "4",
            "--users",
            "10",
            "--instances-per-user",
            "2",
            "--training-instances-per-user",
            "4",
            "--efa",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "training/processing instances (EFA)" in out
    assert "recommended: /24 per subnet (256 addresses) in each of 3 subnets" in out
    assert "3 EFS mount target(s), one per AZ" in out
    code = main(
        [
            "plan-subnet",
            "--subnets",
            "3",
            "--azs",
            "1",
            "--users",
            "10",
            "--instances-per-user",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "1 EFS mount target(s), one per AZ" in out


def test_cli_bad_input_exit_code(capsys):
    code = main(
        [
            "plan-subnet",
            "--subnets",
            "2",
            "--users",
            "5",
            "--instances-per-user",
            "2",
            "--growth",
            "2000",
        ]
    )
    assert code == 2
    assert "growth must be between 0 and 1000" in capsys.readouterr().err
