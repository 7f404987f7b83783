"""Shared fixtures: a real Jupyter server with the extension, and the local AWS emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from smstudio_ext.testing.offline import go_offline

pytest_plugins = ["pytest_jupyter.jupyter_server", "smstudio_ext.testing.fixtures"]

# Never reach a real AWS account from the tests, whatever the machine has configured.
go_offline()

AWS_SERVICES = ("s3", "sagemaker", "ce", "pricing", "sts", "iam", "logs")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """A folder shared by every xdist worker of this run."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def built_wheel(run_dir) -> Path:
    """Our wheel as a release and CI build it (``python -m build``, the panel prebuilt),
    built once per run for every worker (the package and the SMD space tests share it)."""
    from smstudio_ext.testing.smd.env import locked

    out = run_dir / "wheel"
    with locked(run_dir / "wheel.lock"):
        found = sorted(out.glob("smstudio_ext-*.whl"))
        if found:
            return found[-1]
        proc = subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
            cwd=str(REPO),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        (built,) = out.glob("smstudio_ext-*.whl")
        return built


@pytest.fixture
def studio_metadata(request):
    """The resource-metadata.json content for the server under test (None = not in Studio).

    Parametrize indirectly with a dict or a raw string."""
    return getattr(request, "param", None)


@pytest.fixture
def studio_app(request):
    """Run the server as a seeded app: parametrize indirectly with an app type ("JupyterLab",
    "JupyterServer", ...); the world is seeded and its metadata written before the server starts."""
    return getattr(request, "param", None)


@pytest.fixture
def extra_server_config():
    """Override in a test module to add config sections for the server under test."""
    return {}


@pytest.fixture
def metadata_path(request, tmp_path, studio_metadata, studio_app):
    path = tmp_path / "resource-metadata.json"
    if studio_app is not None:
        world = request.getfixturevalue("world")
        world.write_metadata(path, world.find_app(app_type=studio_app))
    elif studio_metadata is not None:
        text = studio_metadata if isinstance(studio_metadata, str) else json.dumps(studio_metadata)
        path.write_text(text)
    return path


@pytest.fixture
def jp_server_config(request, metadata_path, jp_root_dir, extra_server_config, studio_app):
    """The extension enabled, every route authenticated, AWS pointed at the emulator if used."""
    cfg = {
        "ServerApp": {
            "jpserver_extensions": {"smstudio_ext": True},
            "allow_unauthenticated_access": False,
        },
        "Studio": {"metadata_path": str(metadata_path), "home": str(jp_root_dir)},
    }
    if studio_app is not None or {"aws", "world"} & set(request.fixturenames):
        emu = request.getfixturevalue("aws")
        cfg["Aws"] = {
            "endpoint_urls": {s: emu.endpoint_url for s in AWS_SERVICES},
            "max_attempts": 1,
        }
    config = Config(cfg)
    config.merge(Config(extra_server_config))
    return config


@pytest.fixture
def jp_fetch(jp_fetch):
    """pytest-jupyter's ``jp_fetch``, with every answer of a route documented in rest-api.yaml
    validated against its schema (``rest_spec_support``): each REST shape the tests see is the
    documented one."""
    from rest_spec_support import check_response
    from tornado.httpclient import HTTPClientError

    async def fetch(*parts, **kwargs):
        path = "/".join(p.strip("/") for p in parts)
        verb = kwargs.get("method", "GET")
        try:
            response = await jp_fetch(*parts, **kwargs)
        except HTTPClientError as exc:
            if exc.response is not None:
                problem = check_response(path, verb, exc.code, exc.response.body)
                assert problem is None, problem
            raise
        problem = check_response(path, verb, response.code, response.body)
        assert problem is None, problem
        return response

    return fetch
