"""The SageMaker Studio APIs that moto lacks, served from moto's own SageMaker endpoint.

Behaviour follows the public API reference: ARNs, automatic ``sagemaker:*`` tags, status
transitions (apps ``Pending → InService``, ``Deleting → Deleted``; image versions
``CREATING → CREATED``) applied lazily on the next request, pagination with opaque tokens,
``ResourceInUse`` / ``ResourceNotFound`` / ``ResourceLimitExceeded`` / ``ValidationException``.

Modules:

- ``dispatch``: ``install()``, the moto hook and the action → store method tables;
- ``store``: ``StudioStore`` (made of the mixins below) and ``get_store``;
- ``state``: the records of one account and region, ids, ARNs, tags, owner lookups;
- ``domains`` (and user profiles), ``spaces``, ``apps``, ``lifecycle_configs``, ``images``
  (and versions), ``app_image_configs``, ``tags``: one resource kind each;
- ``listing``: filters, sort and pagination shared by the List* operations;
- ``errors``, ``settings``: AWS-shaped errors; process-wide delays and page size;
- ``rules``: what the service checks beyond the model's shapes (each rule names its source);
- ``platform_images``: the SMD and Classic images per region, and how DescribeApp reports them.

Every rule and its source is listed in ``docs/emulator.md``.
"""

from __future__ import annotations

from .dispatch import OPERATIONS, TAG_OPERATIONS, install
from .errors import AwsError
from .platform_images import (
    IMAGE_ACCOUNTS,
    SMD_ACCOUNTS,
    SMD_DEFAULT_ALIAS,
    classic_image_arn,
    image_account,
    smd_account,
    smd_image_arn,
)
from .settings import SETTINGS, Settings, reset_settings
from .store import StudioStore, get_store

__all__ = [
    "IMAGE_ACCOUNTS",
    "SMD_ACCOUNTS",
    "SMD_DEFAULT_ALIAS",
    "OPERATIONS",
    "SETTINGS",
    "TAG_OPERATIONS",
    "AwsError",
    "Settings",
    "StudioStore",
    "classic_image_arn",
    "get_store",
    "image_account",
    "install",
    "reset_settings",
    "smd_account",
    "smd_image_arn",
]
