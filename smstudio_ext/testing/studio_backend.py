"""Former name of ``smstudio_ext.testing.studio`` (the Studio APIs moto lacks), kept for imports."""

from __future__ import annotations

from . import studio
from .studio import *  # noqa: F403  (the same names, e.g. ``SETTINGS``, ``install``)

__all__ = studio.__all__
