"""Wiring the backup engine into the Jupyter server: the service and the schedule loop."""

from __future__ import annotations

import logging
from typing import Any

from .config import HomeBackup
from .engine import BackupService

log = logging.getLogger("smstudio_ext.backup")


def setup_backup(app: Any) -> BackupService:
    """Build ``app.services.backup`` from the ``HomeBackup`` section; register the schedule."""
    config = HomeBackup(parent=app)
    service = BackupService(config, app.services.context, app.services.aws)
    app.services.backup = service
    if config.bucket and config.interval_hours > 0:
        app.add_loop(service.schedule_loop)
        log.info("smstudio backup: every %s h to %s", config.interval_hours, service.location().url)
    return service
