"""A SageMaker Distribution JupyterLab space, reproduced from SMD's public files (docs/smd.md).

What it mirrors, each in a folder under ``root`` instead of ``/``:

* ``/opt/conda``: the image's Python environment, pinned to an SMD release (:mod:`.env`), owned
  by the notebook user (SMD's ``/opt/conda`` belongs to ``sagemaker-user``);
* ``/home/sagemaker-user``: the user's home (HOME);
* ``/usr/local/bin``: ``entrypoint-jupyter-server`` (exec ``supervisord -n``),
  ``start-jupyter-server`` (``jupyter lab`` with SMD's arguments) and
  ``restart-jupyter-server`` (``supervisorctl restart jupyterlabserver`` in the background);
* ``/etc/supervisor/conf.d/supervisord.conf``: the ``jupyterlabserver`` program (autostart,
  ``stopasgroup``), the control socket in ``/var/run/supervisord``, logs in
  ``$STUDIO_LOGGING_DIR``;
* ``/opt/ml/metadata/resource-metadata.json`` and the environment the platform sets
  (``SAGEMAKER_APP_TYPE``, region, ...), with AWS pointed at the local emulator.

Every process of the space runs as uid 1000 / gid 100 (when we are root): supervisord, the
server it starts, and the lifecycle script, which :meth:`SmdSpace.run_lcc` runs as the platform
does, with the 5-minute limit. Differences from a real space (a free port on 127.0.0.1 instead of
8888 on every interface, ``--no-browser``, no micromamba activation, no sudo) are listed in
docs/smd.md.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...runtime_marker import Server, running_servers
from .env import BaseEnv, base_python, make_layer

UID, GID = 1000, 100
USER = "sagemaker-user"
LCC_LIMIT = 300  # Studio stops an app whose lifecycle script runs longer than 5 minutes


def ensure_user(uid: int = UID, gid: int = GID) -> None:
    """The notebook user's uid and group exist on this machine (created when missing)."""
    if os.geteuid() != 0:
        return
    try:
        grp.getgrgid(gid)
    except KeyError:
        subprocess.run(["groupadd", "--gid", str(gid), "users"], check=True, timeout=60)
    try:
        pwd.getpwuid(uid)
    except KeyError:
        subprocess.run(
            ["useradd", "--uid", str(uid), "--gid", str(gid), "--no-create-home",
             "--shell", "/bin/bash", USER],
            check=True, timeout=60,
        )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Our own scripts, written from the facts in docs/smd.md (SMD's files are not copied).
ENTRYPOINT = """#!/bin/bash
set -e
export SAGEMAKER_APP_TYPE_LOWERCASE=$(echo "$SAGEMAKER_APP_TYPE" | tr '[:upper:]' '[:lower:]')
mkdir -p "$STUDIO_LOGGING_DIR/$SAGEMAKER_APP_TYPE_LOWERCASE/supervisord"
exec supervisord -c {conf} -n
"""

START = """#!/bin/bash
set -e
if [ -n "$SAGEMAKER_APP_TYPE_LOWERCASE" ]; then
  jupyter lab --ip 127.0.0.1 --port "$SMD_SANDBOX_PORT" --no-browser \\
    --ServerApp.base_url="/$SAGEMAKER_APP_TYPE_LOWERCASE/default" \\
    --ServerApp.token='' \\
    --ServerApp.allow_origin='*'
else
  jupyter lab --ip 127.0.0.1 --port "$SMD_SANDBOX_PORT" --no-browser \\
    --ServerApp.token='' \\
    --ServerApp.allow_origin='*'
fi
"""

RESTART = """#!/bin/bash
set -e
echo "Restarting the Jupyter server (supervisord program jupyterlabserver)."
nohup supervisorctl -c {conf} restart jupyterlabserver > /dev/null 2>&1 &
"""

SUPERVISORD_CONF = """[supervisord]
nodaemon=true
pidfile={run}/supervisord.pid
logfile=%(ENV_STUDIO_LOGGING_DIR)s/%(ENV_SAGEMAKER_APP_TYPE_LOWERCASE)s/supervisord/supervisord.log
logfile_maxbytes=5MB
logfile_backups=10
redirect_stderr=true

[unix_http_server]
file={run}/supervisor.sock
chmod=0700

[supervisorctl]
serverurl=unix://{run}/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:jupyterlabserver]
directory=%(ENV_HOME)s
command=start-jupyter-server
stopasgroup=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
stderr_logfile=/dev/stderr
stderr_logfile_maxbytes=0
"""


@dataclass
class LccRun:
    """One run of a lifecycle script: its exit code, output and duration."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


class SmdSpace:
    """One JupyterLab space of SMD ``base.version``, under ``root`` (a folder uid 1000 can use)."""

    def __init__(
        self,
        root: Path,
        base: BaseEnv,
        metadata: dict[str, Any],
        aws_env: dict[str, str],
        app_type: str | None = "JupyterLab",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        ensure_user()
        self.root = root
        self.base = base
        self.as_root = os.geteuid() == 0
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        self.conda = root / "opt" / "conda"
        self.python = make_layer(base, self.conda, base_python())
        self.home = root / "home" / USER
        self.bin = root / "usr" / "local" / "bin"
        self.conf = root / "etc" / "supervisor" / "conf.d" / "supervisord.conf"
        self.run_dir = root / "var" / "run" / "supervisord"
        self.logs = root / "var" / "log" / "studio"
        self.tmp = root / "tmp"
        self.state = self.tmp / "smstudio-lcc"
        self.metadata_path = root / "opt" / "ml" / "metadata" / "resource-metadata.json"
        for d in (self.home, self.bin, self.conf.parent, self.run_dir, self.logs, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self.metadata_path.parent.mkdir(parents=True, exist_ok=True)
        self.metadata_path.write_text(json.dumps(metadata, indent=2))
        self.conf.write_text(SUPERVISORD_CONF.format(run=self.run_dir))
        for name, text in (
            ("entrypoint-jupyter-server", ENTRYPOINT.format(conf=self.conf)),
            ("start-jupyter-server", START),
            ("restart-jupyter-server", RESTART.format(conf=self.conf)),
        ):
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.tmp.chmod(0o1777)
        self.port = free_port()
        self.env = {
            "HOME": str(self.home),
            "USER": USER,
            "LOGNAME": USER,
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            "PATH": f"{self.conda / 'bin'}:{self.bin}:/usr/bin:/bin",
            "TMPDIR": str(self.tmp),
            "STUDIO_LOGGING_DIR": f"{self.logs}/",
            "SMSTUDIO_METADATA_PATH": str(self.metadata_path),
            "SMD_SANDBOX_PORT": str(self.port),
            # no index, no proxy: nothing in the space reaches a package index
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "NO_COLOR": "1",
            **aws_env,
        }
        if app_type:
            self.env["SAGEMAKER_APP_TYPE"] = app_type
        self.env.update(extra_env or {})
        if self.as_root:  # SMD's /opt/conda and home belong to the notebook user
            for path in (self.conda, self.home, self.run_dir, self.logs, self.tmp):
                subprocess.run(["chown", "-R", f"{UID}:{GID}", str(path)], check=True, timeout=120)
        self.supervisord: subprocess.Popen[bytes] | None = None
        self._sessions: list[int] = []
        self.output = root / "container.log"

    # -- processes ---------------------------------------------------------------------------

    def as_user(self, cmd: list[str]) -> list[str]:
        if not self.as_root:
            return cmd
        return ["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups", "--", *cmd]

    def _popen(self, cmd: list[str], env: dict[str, str], out: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            self.as_user(cmd),
            env=env,
            cwd=str(self.home),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._sessions.append(proc.pid)
        return proc

    def start(self) -> None:
        """The container starts: entrypoint → supervisord → jupyterlabserver (autostart)."""
        self.output.touch()
        if self.as_root:  # supervisord reopens /dev/stdout by path: the user must own the file
            os.chown(self.output, UID, GID)
        with open(self.output, "ab") as out:
            self.supervisord = self._popen(
                ["bash", str(self.bin / "entrypoint-jupyter-server")], self.env, out
            )

    def run_lcc(self, script: str, timeout: float = LCC_LIMIT, **env: str) -> LccRun:
        """Run a lifecycle script as the platform does: bash, as the notebook user, ≤ 5 min."""
        path = self.tmp / "lifecycle-config.sh"
        path.write_text(script)
        path.chmod(0o644)
        full = {
            **self.env,
            "SMSTUDIO_LCC_PYTHON": str(self.conda / "bin" / "python"),
            "SMSTUDIO_LCC_HOME": str(self.home),
            "SMSTUDIO_LCC_STATE_DIR": str(self.state),
            **env,
        }
        out_path, err_path = self.tmp / "lcc.stdout", self.tmp / "lcc.stderr"
        started = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                self.as_user(["timeout", str(int(timeout)), "bash", str(path)]),
                env=full,
                cwd=str(self.home),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its background jobs stay in this group: ended at stop()
            )
            self._sessions.append(proc.pid)
            rc = proc.wait(timeout=timeout + 30)
        return LccRun(
            rc,
            out_path.read_text(errors="replace"),
            err_path.read_text(errors="replace"),
            time.monotonic() - started,
        )

    def user_run(self, cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A command as the notebook user in the space's environment (e.g. pip check)."""
        return subprocess.run(
            self.as_user(cmd),
            env=self.env,
            cwd=str(self.home),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self) -> None:
        """Stop supervisord (it stops the server) and end what the lifecycle script left."""
        if self.supervisord and self.supervisord.poll() is None:
            self.supervisord.send_signal(signal.SIGTERM)
            try:
                self.supervisord.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for pgid in self._sessions:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.supervisord:
            try:
                self.supervisord.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._end_leftovers()

    def _end_leftovers(self) -> None:
        """Processes of this space still running, by pid (their command line names this
        space's root): supervisord puts each program in its own process group, and a
        ``jupyter lab`` that was still starting can outlive the ``start-jupyter-server`` that
        supervisord stopped (it then counts the program as stopped)."""
        import psutil

        mine = str(self.root)
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                if any(mine in part for part in proc.info["cmdline"] or []):
                    proc.kill()
            except (psutil.Error, OSError):
                pass

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the server ---------------------------------------------------------------------------

    @property
    def runtime_dir(self) -> Path:
        return self.home / ".local" / "share" / "jupyter" / "runtime"

    def servers(self) -> list[Server]:
        return running_servers(self.runtime_dir) if self.runtime_dir.is_dir() else []

    def wait_server(
        self, timeout: float = 120, loaded: str | None = None, not_pid: int | None = None
    ) -> Server:
        """The running server once it answers HTTP (with ``loaded``: once it runs that
        smstudio_ext version; with ``not_pid``: a server other than that one)."""
        deadline = time.monotonic() + timeout
        last = "no server"
        while time.monotonic() < deadline:
            for s in self.servers():
                if s.pid == not_pid or (loaded is not None and s.loaded != loaded):
                    last = f"pid {s.pid} loaded {s.loaded}"
                    continue
                try:
                    status, _ = self.api("api/status", server=s)
                except OSError as exc:
                    last = f"pid {s.pid}: {exc}"
                    continue
                if status == 200:
                    return s
            if self.supervisord is not None and self.supervisord.poll() is not None:
                raise AssertionError(f"supervisord exited: {self.container_log()}")
            time.sleep(0.25)
        raise AssertionError(
            f"no server within {timeout} s ({last}); container log:\n{self.container_log()}"
        )

    def url(self, path: str = "", server: Server | None = None) -> str:
        s = server or self.wait_server()
        base = s.base_url if s.base_url.endswith("/") else s.base_url + "/"
        return f"http://127.0.0.1:{s.port}{base}{path}"

    def api(self, path: str, server: Server | None = None) -> tuple[int, Any]:
        """GET ``<base_url><path>`` of the running server (no token: SMD runs with token '')."""
        try:
            with urllib.request.urlopen(self.url(path, server), timeout=30) as resp:
                raw = resp.read()
                try:
                    return resp.status, json.loads(raw)
                except ValueError:
                    return resp.status, raw.decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def container_log(self) -> str:
        return self.output.read_text(errors="replace")[-6000:] if self.output.exists() else ""

    def job_log(self, name: str) -> str:
        path = self.state / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_job(self, name: str, timeout: float = 180) -> str:
        """The log of a lifecycle background job once it has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.job_log(name)
            if f"job {name} finished" in text:
                return text
            time.sleep(0.25)
        raise AssertionError(f"job {name} did not finish in {timeout} s: {self.job_log(name)}")
