"""The state every resource kind shares: the records, ids, ARNs, tags and owner lookups.

``StoreState`` is the base of each resource mixin (``domains``, ``spaces``, ``apps``, ...); it
holds what more than one kind reads, so that the mixins never call one another.
"""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar

from smstudio_ext.clock import utcnow

from .errors import invalid, limit_exceeded, not_found
from .listing import Record

#: App statuses that count as running (for quotas, deletes and "in use" checks).
LIVE_APP_STATES = ("Pending", "InService", "Deleting")

#: Tags per resource, as AWS limits them.
MAX_TAGS = 50

HEX = "0123456789abcdef"


K = TypeVar("K")
V = TypeVar("V")


def lookup(table: Mapping[K, V], key: K, message: str) -> V:
    """``table[key]``, or ``ResourceNotFound`` with ``message``."""
    try:
        return table[key]
    except KeyError:
        raise not_found(message) from None


def rand_id(n: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(random.choice(alphabet) for _ in range(n))


class StoreState:
    """All Studio resources of one account in one region, and the lookups they share."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.lock = threading.RLock()
        self.domains: dict[str, Record] = {}
        self.profiles: dict[tuple[str, str], Record] = {}
        self.spaces: dict[tuple[str, str], Record] = {}
        self.apps: list[Record] = []
        self.lccs: dict[str, Record] = {}
        self.images: dict[str, Record] = {}
        self.app_image_configs: dict[str, Record] = {}
        self.tags: dict[str, list[dict[str, str]]] = {}

    # -- ids and ARNs ---------------------------------------------------------------------------

    def arn(self, resource: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{resource}"

    @staticmethod
    def next_uid(domain: Record) -> str:
        """The next POSIX uid of the domain's home file system (profiles and spaces share it)."""
        uid = domain["_next_uid"]
        domain["_next_uid"] += 1
        return str(uid)

    # -- status transitions ---------------------------------------------------------------------

    def tick(self) -> None:
        """Apply the status transitions whose time has come (lazily, on each request)."""
        self._advance(utcnow())

    def _advance(self, now: datetime) -> None:
        """Overridden (cooperatively, via ``super()``) by the kinds that have transitions."""

    # -- tags -----------------------------------------------------------------------------------

    def _set_tags(self, arn: str, auto: dict[str, str], given: list[dict[str, str]] | None) -> None:
        self.tags[arn] = [{"Key": k, "Value": v} for k, v in auto.items()]
        self._add_tags(arn, given or [])

    def _add_tags(self, arn: str, given: list[dict[str, str]]) -> None:
        for tag in given:
            # Source: AWS "Tagging AWS resources" (the aws: prefix is reserved for AWS use);
            # SageMaker's own answer is unverified: refused with ValidationException.
            if str(tag.get("Key", "")).lower().startswith("aws:"):
                raise invalid(f"Tag keys starting with 'aws:' are reserved: {tag['Key']!r}")
        tags = self.tags.setdefault(arn, [])
        for tag in given:
            for existing in tags:
                if existing["Key"] == tag["Key"]:
                    existing["Value"] = tag.get("Value", "")
                    break
            else:
                tags.append({"Key": tag["Key"], "Value": tag.get("Value", "")})
        if len(tags) > MAX_TAGS:
            raise limit_exceeded(f"Tag limit ({MAX_TAGS}) exceeded for {arn}")

    # -- lookups --------------------------------------------------------------------------------

    def domain(self, domain_id: str) -> Record:
        arn = self.arn("domain/" + domain_id)
        return lookup(self.domains, domain_id, f"Cannot find Domain {arn}")

    def profile(self, domain_id: str, name: str) -> Record:
        self.domain(domain_id)
        arn = self.arn(f"user-profile/{domain_id}/{name}")
        return lookup(self.profiles, (domain_id, name), f"User profile does not exist: {arn}")

    def space(self, domain_id: str, name: str) -> Record:
        self.domain(domain_id)
        arn = self.arn(f"space/{domain_id}/{name}")
        return lookup(self.spaces, (domain_id, name), f"Space does not exist: {arn}")

    def _live_apps(self, domain_id: str, owner_key: str, owner: str) -> list[Record]:
        """The running apps of one owner (``owner_key``: UserProfileName or SpaceName)."""
        return [
            a
            for a in self.apps
            if a["DomainId"] == domain_id
            and a.get(owner_key) == owner
            and a["Status"] in LIVE_APP_STATES
        ]

    # -- in-process helpers for the Emulator ----------------------------------------------------

    def app_by_arn(self, arn: str) -> Record:
        for app in reversed(self.apps):
            if app["AppArn"] == arn:
                return app
        raise KeyError(arn)
