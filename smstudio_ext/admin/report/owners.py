"""Who owns what in a domain, and the tag values costs and savings are attributed to.

Attribution rules (the same for live cost, billed cost and savings):

* the **user-id tag** (``Insights.user_id_tag_key``) comes from a user profile; a space takes
  its owner profile's (``OwnershipSettings.OwnerUserProfileName``), never its own (a user who
  may tag their space could set it; the ``user-id-tag`` guardrail reads it the same way). A
  shared space without an owner is ``(shared space)``;
* any other key (``team``, ``project``...) comes from the owner itself, else its owner profile,
  else the domain; none of them: ``(untagged)``;
* an owner that no longer exists (a stop recorded before it was deleted): ``(deleted owner)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ...apps import AppInfo, iter_apps
from ...aws import AwsClients, call, paginate
from ...errors import SmStudioError

UNTAGGED = "(untagged)"
SHARED = "(shared space)"
DELETED = "(deleted owner)"
UNKNOWN_TAGS = "(tags unknown)"


@dataclass
class Owner:
    kind: str  # "user-profile" | "space"
    name: str
    created: datetime | None = None
    owner_profile: str | None = None  # a space's owner
    tags: dict[str, str] | None = None  # None: ListTags failed


@dataclass
class DomainOwners:
    """The owners of one domain, its tags, and every app ListApps still shows (any status)."""

    domain_id: str
    account_id: str
    region: str
    owners: dict[tuple[str, str], Owner] = field(default_factory=dict)
    domain_tags: dict[str, str] | None = None
    apps: list[AppInfo] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def tag_values(
        self, kind: str | None, name: str | None, keys: list[str], user_key: str
    ) -> dict[str, str]:
        """{key: value} for an owner, following the rules in the module docstring."""
        owner = self.owners.get((kind or "", name or ""))
        if owner is None:
            return {k: DELETED for k in keys}
        profile = None
        if owner.kind == "space" and owner.owner_profile:
            profile = self.owners.get(("user-profile", owner.owner_profile))
        out: dict[str, str] = {}
        for key in keys:
            if key == user_key:
                source = owner if owner.kind == "user-profile" else profile
                if source is None:
                    out[key] = (
                        SHARED if owner.kind == "space" and not owner.owner_profile else DELETED
                    )
                elif source.tags is None:
                    out[key] = UNKNOWN_TAGS
                else:
                    out[key] = source.tags.get(key) or UNTAGGED
                continue
            chain = [owner.tags, profile.tags if profile else {}, self.domain_tags]
            if owner.tags is None:
                out[key] = UNKNOWN_TAGS
                continue
            out[key] = next((c[key] for c in chain if c and c.get(key)), UNTAGGED)
        return out


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _tags(clients: AwsClients, arn: str) -> dict[str, str]:
    sm = clients.client("sagemaker")
    tags = paginate(lambda **p: call(sm, "ListTags", resource=arn, **p), "Tags", ResourceArn=arn)
    return {t["Key"]: t.get("Value", "") for t in tags}


def list_owners(clients: AwsClients, domain: dict[str, Any], region: str) -> DomainOwners:
    """Profiles and spaces (with creation times and tags), domain tags and every listed app.

    Calls: list pages + one ``ListTags`` per owner and one for the domain; failures are kept in
    ``errors`` and make the affected tags ``(tags unknown)``, never a guessed value.
    """
    domain_id = domain["DomainId"]
    arn = str(domain.get("DomainArn") or "")
    account = arn.split(":")[4] if arn.count(":") >= 5 else ""
    out = DomainOwners(domain_id, account, region)
    sm = clients.client("sagemaker")
    base = f"arn:aws:sagemaker:{region}:{account}"

    def pages(operation: str, key: str) -> list[dict[str, Any]]:
        return list(
            paginate(
                lambda **p: call(sm, operation, resource=domain_id, **p),
                key,
                DomainIdEquals=domain_id,
                MaxResults=100,
            )
        )

    for p in pages("ListUserProfiles", "UserProfiles"):
        name = p["UserProfileName"]
        out.owners[("user-profile", name)] = Owner(
            "user-profile", name, _aware(p.get("CreationTime"))
        )
    for s in pages("ListSpaces", "Spaces"):
        name = s["SpaceName"]
        owner = (s.get("OwnershipSettingsSummary") or {}).get("OwnerUserProfileName")
        out.owners[("space", name)] = Owner("space", name, _aware(s.get("CreationTime")), owner)
    for owner in out.owners.values():
        kind = "user-profile" if owner.kind == "user-profile" else "space"
        try:
            owner.tags = _tags(clients, f"{base}:{kind}/{domain_id}/{owner.name}")
        except SmStudioError as exc:
            out.errors.append(f"ListTags {owner.kind} {owner.name}: {exc.message}")
    if arn:
        try:
            out.domain_tags = _tags(clients, arn)
        except SmStudioError as exc:
            out.errors.append(f"ListTags domain {domain_id}: {exc.message}")
    try:
        out.apps = list(iter_apps(clients, domain_id, statuses=None))
    except SmStudioError as exc:
        out.errors.append(f"ListApps {domain_id}: {exc.message}")
    return out
