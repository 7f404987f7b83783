"""The platform's view, for real: SageMaker Distribution's activity monitor
(``jupyter-activity-monitor-extension`` from PyPI, the test extra) next to our extension.

Studio's idle shutdown decides from the monitor's ``GET /api/idle``. The monitor reads the
hard-coded ``/tmp/.sagemaker-last-active-timestamp``, so the end-to-end test runs a Jupyter server
with both extensions in a private mount namespace whose ``/tmp`` is a test directory (nothing on
this machine's real ``/tmp`` is touched). For each kind of silent work the platform's view must
stay current while the work runs: before the fix it froze at the work's last output, and the
platform would have shut the app down under it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import pytest
from idle_support import BASE
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

MONITOR = "jupyter_activity_monitor_extension"


@pytest.fixture
def extra_server_config(request, tmp_path):
    section = dict(BASE, last_active_file=str(tmp_path / "last-active"), serve_api_idle=True)
    return {"IdleShutdown": section, "ServerApp": {"jpserver_extensions": {MONITOR: True}}}


async def test_with_smd_monitor_enabled_it_keeps_api_idle(jp_serverapp, jp_fetch):
    # Both would claim GET /api/idle (before: whichever registered first answered). Now SMD's
    # monitor keeps the route and our extension feeds it through the activity file.
    from jupyter_activity_monitor_extension.handler import IdleHandler

    from smstudio_ext.handlers.idle import ApiIdleHandler

    targets = [
        rule.target
        for host in jp_serverapp.web_app.default_router.rules
        for rule in getattr(host.target, "rules", [])
        if getattr(rule.matcher, "regex", None) is not None
        and rule.matcher.regex.pattern.endswith("/api/idle$")
    ]
    assert IdleHandler in targets and ApiIdleHandler not in targets
    body = json.loads((await jp_fetch("api", "idle")).body)
    assert body["lastActiveTimestamp"].endswith("z")


# --- the end-to-end flow in a private /tmp ------------------------------------------------------------
def _unshare_prefix():
    """A command prefix running a shell in a private mount namespace, or None if not allowed."""
    unshare = shutil.which("unshare")
    if not unshare:
        return None
    for prefix in (
        [unshare, "--mount", "--propagation", "private"],
        [unshare, "--user", "--map-root-user", "--mount", "--propagation", "private"],
    ):
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return prefix
    return None


# Whose processes are "the user's" in the private server: as root, a job runs as nobody so that
# this shared machine's other (root) processes are not mistaken for it.
JOB_UID = 65534 if os.getuid() == 0 else os.getuid()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateServer:
    """``jupyter server`` with our extension and SMD's monitor, ``/tmp`` bind-mounted from
    ``root`` (so ``/tmp/x`` inside is ``root/x`` here)."""

    def __init__(self, root, prefix, emulator, world, app):
        self.root = root
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        for d in ("cfg", "home", "runtime", "data"):
            (root / d).mkdir(parents=True)
        world.write_metadata(root / "resource-metadata.json", app)
        config = {
            "ServerApp": {
                "jpserver_extensions": {
                    "smstudio_ext": True,
                    MONITOR: True,
                    "jupyterlab": False,
                    "jupyter_lsp": False,
                    "notebook_shim": False,
                },
                "port": self.port,
                "ip": "127.0.0.1",
                "open_browser": False,
                "allow_root": True,
                "root_dir": "/tmp/home",
            },
            "IdentityProvider": {"token": self.token},
            "Studio": {"metadata_path": "/tmp/resource-metadata.json", "home": "/tmp/home"},
            "Aws": {
                "endpoint_urls": {"sagemaker": emulator.endpoint_url},
                "max_attempts": 1,
            },
            "IdleShutdown": {
                "timeout_minutes": 60,
                "check_interval_seconds": 0.5,
                "platform_feed_seconds": 0.5,
                "watch_user_processes": True,
                "user_process_uids": [JOB_UID],
                "count_root_processes": False,
                "serve_api_idle": True,  # asked for, but SMD's monitor keeps the route
            },
        }
        (root / "cfg" / "jupyter_server_config.json").write_text(json.dumps(config))
        env = dict(
            os.environ,
            HOME="/tmp/home",
            JUPYTER_CONFIG_DIR="/tmp/cfg",
            JUPYTER_RUNTIME_DIR="/tmp/runtime",
            JUPYTER_DATA_DIR="/tmp/data",
            PYTHONUNBUFFERED="1",
        )
        script = 'mount --bind "$1" /tmp && shift && exec "$@"'
        self.log = open(root / "server.log", "wb")
        self.proc = subprocess.Popen(
            [*prefix, "sh", "-c", script, "sh", str(root), sys.executable, "-m", "jupyter_server"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def request(self, method, path, body=None, timeout=30):
        req = HTTPRequest(
            f"{self.base}/{path}",
            method=method,
            body=None if body is None else json.dumps(body),
            headers={"Authorization": f"token {self.token}"},
            request_timeout=timeout,
            allow_nonstandard_methods=True,
        )
        resp = await AsyncHTTPClient().fetch(req)
        return json.loads(resp.body) if resp.body else None

    async def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + self.output())
            try:
                await self.request("GET", "api/status", timeout=5)
                return
            except (OSError, HTTPClientError):
                await asyncio.sleep(0.3)
        raise AssertionError("server not ready:\n" + self.output())

    def output(self):
        self.log.flush()
        return (self.root / "server.log").read_text(errors="replace")[-4000:]

    async def platform_view(self):
        """What Studio's idle shutdown reads: the monitor's lastActiveTimestamp."""
        stamp = (await self.request("GET", "api/idle"))["lastActiveTimestamp"]
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fz").replace(tzinfo=timezone.utc)

    async def our_view(self):
        return await self.request("GET", "smstudio/idle?refresh=1")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except ProcessLookupError:  # gone already (e.g. it failed to start)
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        finally:
            self.log.close()


async def wait_until(predicate, what, server, timeout=60.0):
    """Await ``predicate()`` (a coroutine function) until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not reached in {timeout:.0f}s\n" + server.output())


async def stays_current(server, what, lead=2.0):
    """The platform's view moves past the moment the work went silent (plus ``lead``)."""
    silent_since = datetime.now(timezone.utc)

    async def moved():
        return (await server.platform_view() - silent_since).total_seconds() >= lead

    await wait_until(moved, f"the platform's view stays current during {what}", server)


async def reason_has(server, name, text):
    """Whether our monitor's ``name`` signal gives ``text`` as its reason (no check has
    finished yet: no signals)."""
    view = await server.our_view()
    return any(s["name"] == name and text in s["reason"] for s in view["signals"])


async def connect(server, path):
    url = f"ws://127.0.0.1:{server.port}/{path}"
    return await websocket_connect(
        HTTPRequest(url, headers={"Authorization": f"token {server.token}"})
    )


def execute(ws, code):
    """An execute_request on a kernel's channels websocket (the notebook's JSON protocol)."""
    msg_id = uuid.uuid4().hex
    ws.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "version": "5.3",
                    "date": datetime.now(timezone.utc).isoformat(),
                },
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": False},
                "channel": "shell",
                "buffers": [],
            }
        )
    )


@pytest.fixture
def private_server(tmp_path, emulator, world):
    prefix = _unshare_prefix()
    if prefix is None:
        pytest.skip("needs a private mount namespace (unshare) for the monitor's fixed /tmp path")
    if any(os.path.realpath(p).startswith("/tmp/") for p in (sys.executable, sys.prefix)):
        pytest.skip("the Python is under /tmp, which the private namespace replaces")
    app = world.find_app(app_type="JupyterLab", owner=world.primary_space)
    server = PrivateServer(tmp_path / "ns-tmp", prefix, emulator, world, app)
    try:
        yield server
    finally:
        server.stop()


async def test_the_platform_sees_silent_work_as_active(private_server, tmp_path):
    server = private_server
    await server.wait_ready()
    feed_file = tmp_path / "ns-tmp" / ".sagemaker-last-active-timestamp"
    assert "not serving GET /api/idle" in server.output()  # SMD's monitor keeps the route

    # 1. a notebook cell that sleeps (busy kernel, no output): the platform sees the session's
    #    kernel last_activity only, frozen at the cell's start
    session = await server.request(
        "POST",
        "api/sessions",
        {"path": "train.ipynb", "type": "notebook", "name": "", "kernel": {"name": "python3"}},
    )
    kid = session["kernel"]["id"]
    ws = await connect(server, f"api/kernels/{kid}/channels")  # the notebook opens it

    async def kernel_state():
        return (await server.request("GET", f"api/kernels/{kid}"))["execution_state"] == "idle"

    try:
        await wait_until(kernel_state, "kernel ready", server)
        execute(ws, "import time; time.sleep(600)")
        await wait_until(lambda: reason_has(server, "kernels", "busy"), "kernel busy", server)
        await stays_current(server, "a silent busy cell")
        assert feed_file.read_text().endswith("Z")
    finally:
        ws.close()
        await server.request("DELETE", f"api/sessions/{session['id']}")

    # 2. a nohup job whose terminal is gone (outside the server: the platform sees nothing)
    job = subprocess.run(
        ["sh", "-c", "nohup sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
        user=JOB_UID,
    )
    pid = int(job.stdout.strip())
    try:
        await wait_until(
            lambda: reason_has(server, "cpu", f"process {pid}"), "the nohup job seen", server
        )
        await stays_current(server, "a nohup job")
    finally:
        os.kill(pid, signal.SIGKILL)

    # 3. a terminal job that waits silently (`sleep 900 && python train.py`): the platform sees
    #    the terminal's last output only
    term = (await server.request("POST", "api/terminals", {}))["name"]
    ws = await connect(server, f"terminals/websocket/{term}")
    try:
        ws.write_message(json.dumps(["stdin", f"sleep 900 && {sys.executable} -c 'print(1)'\r"]))
        await wait_until(
            lambda: reason_has(server, "terminals", "runs sleep 900"),
            "the terminal job seen",
            server,
        )
        await stays_current(server, "a silent terminal job")
    finally:
        ws.close()
        await server.request("DELETE", f"api/terminals/{term}")
