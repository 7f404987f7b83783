"""The state every resource kind shares: the records, ids, ARNs, tags and owner lookups.

``StoreState`` is the base of each resource mixin (``domains``, ``spaces``, ``apps``, ...); it
holds what more than one kind reads, so that the mixins never call one another.
"""

from __future__ import annotations

import random
import string
import threading
from datetime import datetime

from smstudio_ext.clock import utcnow

from .errors import limit_exceeded, not_found
from .listing import Record

#: App statuses that count as running (for quotas, deletes and "in use" checks).
LIVE_APP_STATES = ("Pending", "InService", "Deleting")

#: Tags per resource, as AWS limits them.
MAX_TAGS = 50

HEX = "0123456789abcdef"


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
        try:
            return self.domains[domain_id]
        except KeyError:
            raise not_found(
                "Cannot find Domain {}".format(self.arn("domain/" + domain_id))
            ) from None

    def profile(self, domain_id: str, name: str) -> Record:
        self.domain(domain_id)
        try:
            return self.profiles[(domain_id, name)]
        except KeyError:
            raise not_found(
                "User profile does not exist: {}".format(
                    self.arn(f"user-profile/{domain_id}/{name}")
                )
            ) from None

    def space(self, domain_id: str, name: str) -> Record:
        self.domain(domain_id)
        try:
            return self.spaces[(domain_id, name)]
        except KeyError:
            raise not_found(
                "Space does not exist: {}".format(self.arn(f"space/{domain_id}/{name}"))
            ) from None

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
