"""`smstudio demo`: starts the emulator + a Jupyter server, serves the seeded space, Ctrl-C cleans up."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_serves_the_seeded_space_and_ctrl_c_stops_everything():
    port, token = _free_port(), "demo-token-0123456789"
    # Given the demo started as a user would (server only, to keep the test quick)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smstudio_ext",
            "demo",
            "--server-only",
            "--port",
            str(port),
            "--token",
            token,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        assert any("open http://127.0.0.1:" in ln for ln in lines), "".join(lines)
        children = psutil.Process(proc.pid).children(recursive=True)
        # When the printed curl command is run
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/smstudio/context",
            headers={"Authorization": f"token {token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            data = json.loads(resp.read())
        # Then it answers with the seeded space
        assert data["kind"] == "spaces" and data["space_name"]
        assert data["instance_type"], data
        # And Ctrl-C stops the server and the emulator, leaving nothing running
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"left running: {alive}"
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
