"""``smstudio plan-subnet``: how many addresses a domain needs per subnet, and the CIDR that fits."""

from __future__ import annotations

import argparse

from ..admin.subnet import plan_subnets
from .common import examples, print_json, print_table


def run_plan(args: argparse.Namespace) -> int:
    plan = plan_subnets(
        subnets=args.subnets,
        endpoints=args.endpoints,
        users=args.users,
        instances_per_user=args.instances_per_user,
        training_instances_per_user=args.training_instances_per_user,
        efa=args.efa,
        growth_pct=args.growth,
        availability_zones=args.azs,
    )
    if args.json:
        print_json(plan.to_dict())
        return 0
    print_table(
        [
            (r.entity, r.level, r.count, r.ips_each, r.ips_per_subnet, r.ips_total)
            for r in plan.rows
        ],
        ["entity", "level", "count", "IPs each", "worst case per subnet", "all subnets"],
    )
    print()
    print(f"one user:                      {plan.ips_per_user} IPs")
    print(f"all {plan.users} users:                {plan.users_ips} IPs")
    print(
        f"domain level (all subnets):    {plan.domain_ips} IPs "
        f"({plan.availability_zones} EFS mount target(s), one per AZ)"
    )
    print(f"worst case in one subnet:      {plan.per_subnet_ips} IPs (+5 reserved by AWS)")
    print(
        f"with {plan.growth_pct}% growth ({plan.grown_users} users): "
        f"{plan.per_subnet_addresses} addresses per subnet"
    )
    print(
        f"recommended: /{plan.recommended_prefix} per subnet "
        f"({plan.recommended_size} addresses) in each of {plan.subnets} subnets"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan-subnet",
        help="size the domain's subnets (ENIs of EFS, endpoints, users' instances, jobs)",
        description="Counting rules: EFS 1 mount-target ENI per availability zone; each "
        "interface endpoint 1 ENI per "
        "subnet; each user 1 IP per distinct instance (system included); training/processing "
        "2 IPs per instance (5 with EFA); AWS reserves 5 per subnet. Worst case: all users in "
        "one subnet.",
        epilog=examples(
            "smstudio plan-subnet --subnets 2 --endpoints 10 --users 100 --instances-per-user 3",
            "smstudio plan-subnet --subnets 3 --users 400 --instances-per-user 2 "
            "--training-instances-per-user 4 --efa --growth 25 --json",
        ),
    )
    p.add_argument("--subnets", type=int, required=True, help="subnets of the domain, 1-16")
    p.add_argument(
        "--azs",
        type=int,
        default=None,
        help="availability zones the subnets span (default: one subnet per AZ); EFS has one "
        "mount target per AZ",
    )
    p.add_argument("--endpoints", type=int, default=0, help="interface VPC endpoints (default 0)")
    p.add_argument("--users", type=int, required=True, help="user profiles and spaces")
    p.add_argument(
        "--instances-per-user",
        type=int,
        required=True,
        help="distinct instances per user, the 'system' Jupyter server instance included",
    )
    p.add_argument(
        "--training-instances-per-user",
        type=int,
        default=0,
        help="training/processing instances per user running in the VPC (default 0)",
    )
    p.add_argument("--efa", action="store_true", help="jobs use EFA: 5 IPs per instance, not 2")
    p.add_argument("--growth", type=int, default=0, help="expected growth in users, percent 0-1000")
    p.set_defaults(func=run_plan)
