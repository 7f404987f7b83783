"""``smstudio demo``: JupyterLab with the extension against the seeded local AWS emulator.

Starts the emulator (moto + the Studio APIs), seeds a realistic domain, writes a
resource-metadata.json for one of its apps, starts ``jupyter lab`` with the extension pointed at
the emulator, prints the URL, and on Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import BadInput
from .common import examples, print_json, require_extra

SAMPLE_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": [
                "# smstudio-ext demo\n",
                "Open the SageMaker Studio panel in the left sidebar.",
            ],
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": ["import time\n", "time.sleep(30)  # a silent busy cell keeps the app alive"],
        },
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_server_config(world: Any, home: Path) -> dict[str, Any]:
    """Jupyter config for the demo: the extension's sections pointed at the seeded world."""
    return {
        "ServerApp": {"jpserver_extensions": {"smstudio_ext": True}},
        "Studio": {"home": str(home)},
        "HomeBackup": {"bucket": f"s3://{world.bucket}/studio-backups", "source": str(home)},
        "IdleShutdown": {"timeout_minutes": 60},
        "Insights": {"billed_costs": True},
    }


def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.3)
    return False


# what the demo runs beyond the package's own dependencies: the [demo] extra
DEMO_MODULES = ("moto", "flask", "werkzeug", "regex", "ipykernel")


def run_demo(args: argparse.Namespace) -> int:
    require_extra("demo", "smstudio demo", *DEMO_MODULES)
    if not args.server_only:
        require_extra("demo", "smstudio demo (JupyterLab; or use --server-only)", "jupyterlab")
    from ..testing import Emulator, seed_world

    denies = [_deny_spec(spec) for spec in args.deny or []]  # bad input: fail before starting
    workdir = Path(tempfile.mkdtemp(prefix="smstudio-demo-"))
    emu = Emulator(region=args.region or "us-east-1")
    proc: subprocess.Popen[bytes] | None = None
    try:
        emu.start()
        world = seed_world(emu, kind=args.kind)
        for service, operation in denies:
            emu.deny(operation, service=service)
            if not args.quiet:
                print(f"smstudio demo: denying {service}:{operation} (test fault)")
        app = _pick_app(world, args.kind)
        metadata = workdir / "resource-metadata.json"
        world.write_metadata(metadata, app)
        home = workdir / "home"
        (home / "notebooks").mkdir(parents=True)
        (home / "notebooks" / "welcome.ipynb").write_text(json.dumps(SAMPLE_NOTEBOOK, indent=1))
        config_dir = workdir / "config"
        config_dir.mkdir()
        (config_dir / "jupyter_server_config.json").write_text(
            json.dumps(demo_server_config(world, home), indent=2)
        )
        port = args.port or free_port()
        token = args.token or secrets.token_hex(16)
        env = dict(os.environ)
        env.update(emu.env())
        env.update(
            SMSTUDIO_METADATA_PATH=str(metadata),
            JUPYTER_CONFIG_DIR=str(config_dir),
            # the demo's own home, like /home/sagemaker-user: ~/.condarc, ~/.conda/envs,
            # caches and Jupyter's data dir stay inside the demo folder
            HOME=str(home),
        )
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab" if not args.server_only else "jupyter_server",
            "--no-browser",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={home}",
            "--ServerApp.port_retries=0",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log = open(workdir / "jupyter.log", "wb")
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}/"
        if not _wait_http(f"{base}api/status?token={token}", 90, proc):
            print((workdir / "jupyter.log").read_text(errors="replace")[-4000:], file=sys.stderr)
            print("smstudio demo: JupyterLab did not start (log above)", file=sys.stderr)
            return 1
        owner = app["owner"]
        url = f"{base}lab?token={token}"
        if args.json:
            print_json(
                {
                    "url": url,
                    "base_url": base,
                    "token": token,
                    "endpoint_url": emu.endpoint_url,
                    "kind": args.kind,
                    "domain_id": world.domain_id,
                    "owner": owner,
                    "app_name": app["app_name"],
                    "home": str(home),
                    "log": str(workdir / "jupyter.log"),
                }
            )
        elif args.quiet:
            print(url)
        else:
            print(f"smstudio demo: emulated AWS at {emu.endpoint_url}")
            print(
                f"smstudio demo: Studio {args.kind}, domain {world.domain_id}, {owner}, "
                f"app {app['app_name']}"
            )
            print(f"smstudio demo: home {home}; log {workdir / 'jupyter.log'}")
            print(f"smstudio demo: open {url}")
            print(
                f"smstudio demo: try  curl -H 'Authorization: token {token}' {base}smstudio/context"
            )
            print("smstudio demo: Ctrl-C stops everything")
        sys.stdout.flush()
        proc.wait()
        return 0 if proc.returncode in (0, -signal.SIGTERM, -signal.SIGINT) else proc.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            _stop_process_group(proc)
        emu.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def _deny_spec(spec: str) -> tuple[str, str]:
    """``ListTags`` → (sagemaker, ListTags); ``s3:PutObject`` → (s3, PutObject)."""
    service, sep, operation = spec.partition(":")
    if not sep:
        service, operation = "sagemaker", spec
    if not service or not operation:
        raise BadInput(
            f"--deny wants [SERVICE:]OPERATION, e.g. ListTags or s3:PutObject; got {spec!r}"
        )
    return service, operation


def _pick_app(world: Any, kind: str) -> dict[str, Any]:
    wanted = "JupyterLab" if kind == "spaces" else "JupyterServer"
    for app in world.apps:
        if app["app_type"] == wanted:
            return dict(app)
    return dict(world.apps[0])


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="JupyterLab with the extension against a seeded local AWS emulator",
        description="Starts the local AWS emulator, seeds a Studio domain, and runs JupyterLab "
        "with the extension pointed at it; prints the URL; Ctrl-C stops everything. Needs the "
        "demo extra: pip install 'smstudio-ext[demo]'.",
        epilog=examples(
            "smstudio demo",
            "smstudio demo --kind classic --port 8899",
            "smstudio demo --server-only --json   # the URL, token and emulator as JSON",
            "smstudio demo --deny ListTags --deny s3:PutObject",
        ),
    )
    p.add_argument(
        "--kind",
        choices=("spaces", "classic"),
        default="spaces",
        help="which Studio generation to emulate (default: spaces)",
    )
    p.add_argument("--port", type=int, default=0, help="JupyterLab port (default: a free one)")
    p.add_argument("--token", default="", help="server token (default: random)")
    p.add_argument("--server-only", action="store_true", help="jupyter server without the lab UI")
    p.add_argument("--keep", action="store_true", help="keep the demo's temp folder on exit")
    p.add_argument(
        "--deny",
        action="append",
        metavar="[SERVICE:]OPERATION",
        help="test-only fault: the emulator answers AccessDenied to this AWS operation "
        "(service defaults to sagemaker; repeatable), e.g. --deny ListTags --deny s3:PutObject",
    )
    p.set_defaults(func=run_demo)
