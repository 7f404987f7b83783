"""Fixtures shared by the backup tests: the emulator's bucket, a home folder and a factory
of ``BackupService`` on them (plain helpers are in backup_support.py)."""

from __future__ import annotations

import os

import pytest
from backup_legacy_home import BUCKET as LEGACY_BUCKET
from backup_legacy_home import PREFIX as LEGACY_PREFIX
from backup_support import BUCKET

from smstudio_ext.aws import AwsClients
from smstudio_ext.backup.config import HomeBackup
from smstudio_ext.backup.engine import BackupService
from smstudio_ext.context import load_context

# the repository the old chunker wrote (tests/data/backup_legacy)
LEGACY_OBJECTS = os.path.join(os.path.dirname(__file__), "..", "data", "backup_legacy", "objects")


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


@pytest.fixture
def legacy(aws, tmp_path):
    """A service whose repository holds the fixture's two snapshots (and nothing else)."""
    aws.client("s3").create_bucket(Bucket=LEGACY_BUCKET)
    home = tmp_path / "home"
    config = HomeBackup(
        bucket=f"s3://{LEGACY_BUCKET}/{LEGACY_PREFIX}",
        state_dir=str(tmp_path / "state"),
        racy_seconds=0,
    )
    context = load_context(tmp_path / "no-metadata.json", home=str(home))
    clients = AwsClients("us-east-1", endpoint_urls={"s3": aws.endpoint_url}, validate=False)
    svc = BackupService(config, context, clients, home=str(home))
    store = svc.store()
    for dirpath, _dirs, files in os.walk(LEGACY_OBJECTS):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                store.put(store.loc.root + os.path.relpath(path, LEGACY_OBJECTS), fh.read())
    return svc
