"""``StudioStore``: every resource kind's operations on one account's state in one region."""

from __future__ import annotations

import threading

from .app_image_configs import AppImageConfigsMixin
from .apps import AppsMixin
from .domains import DomainsMixin
from .images import ImagesMixin
from .lifecycle_configs import LifecycleConfigsMixin
from .spaces import SpacesMixin
from .tags import TagsMixin


class StudioStore(
    DomainsMixin,
    SpacesMixin,
    AppsMixin,
    LifecycleConfigsMixin,
    ImagesMixin,
    AppImageConfigsMixin,
    TagsMixin,
):
    """All Studio resources of one account in one region (state and lookups: ``StoreState``)."""


_store_lock = threading.Lock()


def get_store(account_id: str, region: str) -> StudioStore:
    """The store of one account and region, created on first use, dropped by moto's reset.

    The store hangs off moto's per-account, per-region ``SageMakerModelBackend`` instance, so
    ``POST /moto-api/reset`` clears it too.
    """
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[account_id][region]
    with _store_lock:
        store = backend.__dict__.get("_smstudio_store")
        if store is None:
            store = StudioStore(account_id, region)
            backend.__dict__["_smstudio_store"] = store
    return store
