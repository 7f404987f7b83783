"""AddTags / ListTags / DeleteTags on the resources the store serves (others go to moto)."""

from __future__ import annotations

from .listing import paginate
from .state import Record, StoreState, lookup

#: ARN resource types served by the store (tag operations on them never reach moto).
STUDIO_RESOURCE_TYPES = frozenset(
    ("domain", "user-profile", "space", "app", "studio-lifecycle-config", "image",
     "image-version", "app-image-config")
)  # fmt: skip

#: ListTags page size when the request gives no MaxResults.
TAGS_PAGE = 50


class TagsMixin(StoreState):
    def owns(self, arn: str | None) -> bool:
        """Whether ``arn`` names a resource type this store serves (existing or not)."""
        if not arn or not arn.startswith("arn:aws:sagemaker:"):
            return False
        resource = arn.split(":", 5)[-1].split("/", 1)[0]
        return resource in STUDIO_RESOURCE_TYPES

    def _tags_of(self, arn: str) -> list[dict[str, str]]:
        return lookup(self.tags, arn, f"Resource {arn} does not exist")

    def add_tags(self, p: Record) -> Record:
        self._tags_of(p["ResourceArn"])
        self._add_tags(p["ResourceArn"], p.get("Tags") or [])
        return {"Tags": self.tags[p["ResourceArn"]]}

    def list_tags(self, p: Record) -> Record:
        page, nxt = paginate(self._tags_of(p["ResourceArn"]), p, default=TAGS_PAGE)
        return {"Tags": page, "NextToken": nxt}

    def delete_tags(self, p: Record) -> Record:
        keys = set(p.get("TagKeys") or [])
        tags = self._tags_of(p["ResourceArn"])
        self.tags[p["ResourceArn"]] = [t for t in tags if t["Key"] not in keys]
        return {}
