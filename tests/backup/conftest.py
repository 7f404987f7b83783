"""Fixtures shared by the backup tests: the emulator's bucket, a home folder and a factory
of ``BackupService`` on them (plain helpers are in backup_support.py)."""

from __future__ import annotations

import pytest
from backup_support import BUCKET

from smstudio_ext.aws import AwsClients
from smstudio_ext.backup.config import HomeBackup
from smstudio_ext.backup.engine import BackupService
from smstudio_ext.context import load_context


@pytest.fixture
def bucket(aws):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    return f"s3://{BUCKET}/backups"


@pytest.fixture
def home(tmp_path):
    root = tmp_path / "home"
    root.mkdir()
    return root


@pytest.fixture
def make_service(aws, tmp_path, home):
    def make(**cfg):
        cfg.setdefault("bucket", f"s3://{BUCKET}/backups")
        cfg.setdefault("state_dir", str(tmp_path / "state"))
        cfg.setdefault("racy_seconds", 0.0)  # files written just before a run are not racy
        config = HomeBackup(**cfg)
        context = load_context(tmp_path / "no-metadata.json", home=str(home))
        clients = AwsClients(
            "us-east-1", endpoint_urls={"s3": aws.endpoint_url}, max_attempts=4, validate=False
        )
        return BackupService(config, context, clients, home=str(home))

    return make
