"""The ``Insights`` config section: what the platform team allows and how often we ask AWS."""

from __future__ import annotations

import os
import re

from traitlets import Bool, Float, Int, List, TraitError, Unicode, default, validate
from traitlets.config import Configurable

_INSTANCE_RE = re.compile(r"^(system|ml\.[a-z0-9-]+\.[a-z0-9-]+)$")


def _env_list(name: str) -> list[str]:
    raw = os.environ.get(name, "")
    return [item.strip() for item in raw.split(",") if item.strip()]


class Insights(Configurable):
    """Tags, costs and guardrails shown in the panel and by ``smstudio insights`` / ``audit``."""

    user_id_tag_key = Unicode(
        help="Tag key that carries the user's IAM/IdP name on profiles (and spaces). "
        "Env: SMSTUDIO_USER_ID_TAG_KEY.",
    ).tag(config=True)

    caller_user_id = Unicode(
        help="The identity of the person using this app, when known (e.g. written by the LCC from "
        "the IdP); the user-id tag must then equal it. Empty = not known: only presence is "
        "checked. Env: SMSTUDIO_USER_ID.",
    ).tag(config=True)

    allowed_instance_types = List(
        Unicode(),
        help="Instance types apps may run on (e.g. ['ml.t3.medium', 'ml.m5.large']); 'system' "
        "(the Classic Jupyter server) is always allowed. Empty = no list: the check says "
        "'unknown'. Env: SMSTUDIO_ALLOWED_INSTANCE_TYPES (comma-separated).",
    ).tag(config=True)

    approved_images = List(
        Unicode(),
        help="Approved app images: SageMaker image ARNs, image-version ARNs or image names "
        "(custom images by name, e.g. 'team-pytorch'). Empty = no list: the check says "
        "'unknown'. Env: SMSTUDIO_APPROVED_IMAGES (comma-separated).",
    ).tag(config=True)

    billed_costs = Bool(
        False,
        help="Ask Cost Explorer (GetCostAndUsage) for billed month-to-date and last-month cost. "
        "Off by default: each request is billed (USD 0.01) and needs ce:GetCostAndUsage.",
    ).tag(config=True)

    price_file = Unicode(
        "",
        help="Admin price file (JSON) overriding list prices, e.g. negotiated rates: "
        '{"currency": "USD", "prices": {"ml.t3.medium": 0.04}, "regions": {"eu-west-1": '
        '{"ml.t3.medium": 0.045}}}. Env: SMSTUDIO_PRICE_FILE.',
    ).tag(config=True)

    price_cache_path = Unicode(
        help="Disk cache of prices fetched from the Pricing API.",
    ).tag(config=True)

    price_cache_days = Float(7.0, help="How long a fetched price is reused from disk (days).").tag(
        config=True
    )

    tags_ttl_seconds = Float(300.0, help="Cache time of ListTags answers (tags part).").tag(
        config=True
    )
    apps_ttl_seconds = Float(
        60.0, help="Cache time of ListApps/DescribeApp answers (cost estimate)."
    ).tag(config=True)
    guardrails_ttl_seconds = Float(
        300.0,
        help="Cache time of DescribeDomain/UserProfile/Space/AppImageConfig answers (guardrails).",
    ).tag(config=True)
    billed_ttl_seconds = Float(
        6 * 3600.0,
        help="Cache time of Cost Explorer answers (billed costs). Not bypassed by refresh.",
    ).tag(config=True)
    error_ttl_seconds = Float(
        60.0,
        help="Cache time of a failed AWS answer, so polling never repeats a denied call.",
    ).tag(config=True)
    refresh_floor_seconds = Float(
        10.0,
        help="?refresh=1 reuses answers younger than this, so a refresh storm stays bounded.",
    ).tag(config=True)

    backup_rpo_hours = Float(
        24.0, help="The last successful home backup must be younger than this (hours)."
    ).tag(config=True)

    max_idle_timeout_minutes = Int(
        180, help="Idle shutdown must be on with a timeout of at most this many minutes."
    ).tag(config=True)

    disabled_checks = List(
        Unicode(), help="Guardrail check ids not to run (e.g. ['backup-recent'])."
    ).tag(config=True)

    extra_checks = List(
        Unicode(),
        help="Extra guardrail checks as dotted names ('package.module:obj' or 'package.module.obj'),"
        " in addition to entry points of group 'smstudio_ext.guardrails'.",
    ).tag(config=True)

    aws_workers = Int(8, help="Threads making AWS calls concurrently for one response.").tag(
        config=True
    )

    @default("user_id_tag_key")
    def _default_user_id_tag_key(self) -> str:
        return os.environ.get("SMSTUDIO_USER_ID_TAG_KEY", "studiouserid")

    @default("caller_user_id")
    def _default_caller_user_id(self) -> str:
        return os.environ.get("SMSTUDIO_USER_ID", "")

    @default("allowed_instance_types")
    def _default_allowed(self) -> list[str]:
        return _env_list("SMSTUDIO_ALLOWED_INSTANCE_TYPES")

    @default("approved_images")
    def _default_images(self) -> list[str]:
        return _env_list("SMSTUDIO_APPROVED_IMAGES")

    @default("price_file")
    def _default_price_file(self) -> str:
        return os.environ.get("SMSTUDIO_PRICE_FILE", "")

    @default("price_cache_path")
    def _default_price_cache_path(self) -> str:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "smstudio", "prices.json")

    @validate("user_id_tag_key")
    def _check_tag_key(self, proposal):  # type: ignore[no-untyped-def]
        value = proposal["value"].strip()
        if not value or len(value) > 128:
            raise TraitError("Insights.user_id_tag_key must be 1-128 characters")
        return value

    @validate("allowed_instance_types")
    def _check_instance_types(self, proposal):  # type: ignore[no-untyped-def]
        bad = [v for v in proposal["value"] if not _INSTANCE_RE.match(v)]
        if bad:
            raise TraitError(
                "Insights.allowed_instance_types: not instance types: {} (expected e.g. "
                "'ml.t3.medium')".format(", ".join(repr(b) for b in bad))
            )
        return list(proposal["value"])

    @validate(
        "tags_ttl_seconds",
        "apps_ttl_seconds",
        "guardrails_ttl_seconds",
        "billed_ttl_seconds",
        "error_ttl_seconds",
        "refresh_floor_seconds",
        "price_cache_days",
        "backup_rpo_hours",
    )
    def _check_non_negative(self, proposal):  # type: ignore[no-untyped-def]
        if proposal["value"] < 0:
            raise TraitError("Insights.{} must be >= 0".format(proposal["trait"].name))
        return proposal["value"]

    @validate("max_idle_timeout_minutes", "aws_workers")
    def _check_positive(self, proposal):  # type: ignore[no-untyped-def]
        if proposal["value"] < 1:
            raise TraitError("Insights.{} must be >= 1".format(proposal["trait"].name))
        return proposal["value"]
