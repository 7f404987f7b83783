"""Tags of the domain, the user profile or space and its apps, merged and labelled by source.

Studio tags what it creates (``sagemaker:domain-arn``, ``sagemaker:user-profile-arn``,
``sagemaker:space-arn``); those and any ``aws:``/``sagemaker:`` key are marked ``automatic``.
The configured user-id tag key is marked ``user_id``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SOURCES = ("domain", "user-profile", "space", "app")
AUTO_TAG_KEYS = {
    "domain": "sagemaker:domain-arn",
    "user-profile": "sagemaker:user-profile-arn",
    "space": "sagemaker:space-arn",
}
_AUTO_PREFIXES = ("sagemaker:", "aws:")


def is_automatic(key: str) -> bool:
    return key in AUTO_TAG_KEYS.values() or key.startswith(_AUTO_PREFIXES)


def owner_arn(
    partition: str, region: str, account: str, domain_id: str, owner_kind: str, owner_name: str
) -> str:
    """The ARN of a user profile or space, as SageMaker builds it."""
    kind = "space" if owner_kind == "space" else "user-profile"
    return f"arn:{partition}:sagemaker:{region}:{account}:{kind}/{domain_id}/{owner_name}"


def domain_arn(partition: str, region: str, account: str, domain_id: str) -> str:
    return f"arn:{partition}:sagemaker:{region}:{account}:domain/{domain_id}"


def merge_tags(
    sources: Iterable[tuple[str, str | None, list[dict[str, str]]]], user_id_tag_key: str
) -> list[dict[str, Any]]:
    """``[(source, resource_arn, [{"Key", "Value"}])]`` → one labelled list, in source order.

    A key present on several resources is listed once per resource (they may differ).
    """
    out: list[dict[str, Any]] = []
    for source, arn, tags in sources:
        for tag in sorted(tags, key=lambda t: t.get("Key", "")):
            key = tag.get("Key", "")
            out.append(
                {
                    "key": key,
                    "value": tag.get("Value", ""),
                    "source": source,
                    "resource_arn": arn,
                    "automatic": is_automatic(key),
                    "user_id": key == user_id_tag_key,
                }
            )
    return out


def tag_value(tags: list[dict[str, str]], key: str) -> str | None:
    for tag in tags:
        if tag.get("Key") == key:
            return tag.get("Value", "")
    return None
