"""How many IP addresses a Studio domain takes from its subnets, and the CIDR size that fits.

Counting rules (STUDIO.md, "VPC address planning"):

* the domain's EFS volume: one mount-target ENI per **availability zone** of the domain's
  subnets ("You can create one mount target in each Availability Zone in your VPC ... If you
  have multiple subnets in an Availability Zone, you create a mount target in one of the
  subnets": EFS CreateMountTarget API reference). Two subnets in one AZ share one mount target,
  which lands in one of them;
* interface VPC endpoints: one ENI per endpoint in every subnet;
* each user profile or space: one ENI per distinct instance it runs (the ``system`` instance of the
  Classic Jupyter server counts as one; apps sharing an instance share its ENI);
* training/processing jobs in the domain's VPC: 2 IPs per instance, 5 with EFA;
* AWS reserves 5 addresses in every subnet.

Worst case per subnet: Studio picks the subnet of each app itself, so nothing stops every user's
ENIs from landing in the same subnet (one AZ short of capacity, or down). A subnet must therefore
hold the domain-level ENIs of that subnet plus every user's IPs, plus the 5 reserved addresses.
Growth multiplies the number of users (rounded up), not the domain-level ENIs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BadInput

AWS_RESERVED_PER_SUBNET = 5
IPS_PER_TRAINING_INSTANCE = 2
IPS_PER_TRAINING_INSTANCE_EFA = 5
LARGEST_PREFIX = 16  # the largest subnet AWS allows: /16 (65,536 addresses)
SMALLEST_PREFIX = 28  # the smallest: /28 (16 addresses)
MAX_SUBNETS = 16  # CreateDomain accepts at most 16 subnets
MAX_GROWTH_PCT = 1000


@dataclass
class PlanRow:
    entity: str
    level: str  # domain | user | subnet
    count: int
    ips_each: int
    ips_per_subnet: int
    ips_total: int


@dataclass
class SubnetPlan:
    subnets: int
    availability_zones: int
    endpoints: int
    users: int
    instances_per_user: int
    training_instances_per_user: int
    efa: bool
    growth_pct: int
    domain_ips: int  # all subnets together
    domain_ips_per_subnet: int
    ips_per_user: int
    users_ips: int  # all users, no growth
    grown_users: int
    per_subnet_ips: int  # worst case in one subnet, no growth, without the AWS reserve
    per_subnet_ips_with_growth: int  # same, with growth
    per_subnet_addresses: int  # with growth and the 5 reserved addresses: what must fit
    recommended_prefix: int
    recommended_size: int
    total_ips: int  # everything the domain uses across all subnets, no growth
    rows: list[PlanRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        what = "positive" if minimum >= 1 else "zero or more"
        raise BadInput(f"{name} must be {what}, got {value}")
    return value


def prefix_for(addresses: int) -> int:
    """The smallest subnet (largest prefix) holding ``addresses`` addresses; /28 at least."""
    prefix = SMALLEST_PREFIX
    while (1 << (32 - prefix)) < addresses:
        prefix -= 1
        if prefix < LARGEST_PREFIX:
            raise BadInput(
                f"the plan needs {addresses} addresses in one subnet, more than the largest subnet "
                f"AWS allows (/{LARGEST_PREFIX} = {1 << (32 - LARGEST_PREFIX)} addresses): "
                "split the users over several domains or lower the counts"
            )
    return prefix


def plan_subnets(
    *,
    subnets: int,
    endpoints: int,
    users: int,
    instances_per_user: int,
    training_instances_per_user: int = 0,
    efa: bool = False,
    growth_pct: int = 0,
    availability_zones: int | None = None,
) -> SubnetPlan:
    """Size the subnets of one domain; raises ``BadInput`` on impossible input or plan.
    ``availability_zones``: how many AZs the subnets span (default: one subnet per AZ)."""
    subnets = _count("subnets", subnets, 1)
    if subnets > MAX_SUBNETS:
        raise BadInput(
            f"subnets must be at most {MAX_SUBNETS} (CreateDomain's limit), got {subnets}"
        )
    azs = subnets if availability_zones is None else _count("availability zones", availability_zones, 1)  # fmt: skip
    if azs > subnets:
        raise BadInput(
            f"availability zones ({azs}) cannot exceed the subnets ({subnets}): each subnet "
            "lies in one availability zone"
        )
    endpoints = _count("endpoints", endpoints, 0)
    users = _count("users", users, 1)
    instances_per_user = _count("instances per user", instances_per_user, 1)
    training = _count("training instances per user", training_instances_per_user, 0)
    growth_pct = _count("growth", growth_pct, 0)
    if growth_pct > MAX_GROWTH_PCT:
        raise BadInput(f"growth must be between 0 and {MAX_GROWTH_PCT} percent, got {growth_pct}")

    per_training = IPS_PER_TRAINING_INSTANCE_EFA if efa else IPS_PER_TRAINING_INSTANCE
    # worst case in one subnet: it holds its AZ's mount target and an ENI of every endpoint
    domain_per_subnet = 1 + endpoints
    domain_ips = azs + endpoints * subnets
    ips_per_user = instances_per_user + training * per_training
    users_ips = users * ips_per_user
    # integer ceil(users * (100 + growth) / 100): no float rounding surprises
    grown_users = -(-users * (100 + growth_pct) // 100)
    per_subnet = domain_per_subnet + users_ips
    per_subnet_grown = domain_per_subnet + grown_users * ips_per_user
    addresses = per_subnet_grown + AWS_RESERVED_PER_SUBNET
    prefix = prefix_for(addresses)

    rows = [
        PlanRow("EFS mount targets (1 per AZ)", "domain", azs, 1, 1, azs),
        PlanRow("interface VPC endpoints", "domain", endpoints, 1, endpoints, endpoints * subnets),
        PlanRow(
            "Studio instances (system included)",
            "user",
            instances_per_user,
            1,
            instances_per_user * users,
            instances_per_user * users,
        ),
        PlanRow(
            "training/processing instances" + (" (EFA)" if efa else ""),
            "user",
            training,
            per_training,
            training * per_training * users,
            training * per_training * users,
        ),
        PlanRow(
            "AWS reserved",
            "subnet",
            AWS_RESERVED_PER_SUBNET,
            1,
            AWS_RESERVED_PER_SUBNET,
            AWS_RESERVED_PER_SUBNET * subnets,
        ),
    ]
    return SubnetPlan(
        subnets=subnets,
        availability_zones=azs,
        endpoints=endpoints,
        users=users,
        instances_per_user=instances_per_user,
        training_instances_per_user=training,
        efa=bool(efa),
        growth_pct=growth_pct,
        domain_ips=domain_ips,
        domain_ips_per_subnet=domain_per_subnet,
        ips_per_user=ips_per_user,
        users_ips=users_ips,
        grown_users=grown_users,
        per_subnet_ips=per_subnet,
        per_subnet_ips_with_growth=per_subnet_grown,
        per_subnet_addresses=addresses,
        recommended_prefix=prefix,
        recommended_size=1 << (32 - prefix),
        total_ips=domain_ips + users_ips,
        rows=rows,
    )
