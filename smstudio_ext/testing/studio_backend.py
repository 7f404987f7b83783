"""Compatibility name for ``smstudio_ext.testing.studio`` (the Studio APIs moto lacks)."""

from __future__ import annotations

from .studio import (
    IMAGE_ACCOUNTS,
    OPERATIONS,
    SETTINGS,
    TAG_OPERATIONS,
    AwsError,
    Settings,
    StudioStore,
    get_store,
    image_account,
    install,
    reset_settings,
)

__all__ = [
    "IMAGE_ACCOUNTS",
    "OPERATIONS",
    "SETTINGS",
    "TAG_OPERATIONS",
    "AwsError",
    "Settings",
    "StudioStore",
    "get_store",
    "image_account",
    "install",
    "reset_settings",
]
