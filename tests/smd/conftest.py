"""The SageMaker Distribution space sandbox (smstudio_ext.testing.smd) for the tests in tests/smd.

Heavy parts are paid once: each pinned SMD environment is built once into a cache shared by
runs (smstudio_ext.testing.smd.env), the wheel (``python -m build``) and the wheelhouse
(``smstudio wheelhouse build``, a real ``pip download``) once per test run for every pytest-xdist
worker (a lock in the run's shared temp folder). Every space is a fresh thin layer on top.

The lifecycle script a space runs is the one registered in the emulator: rendered, registered
with ``smstudio lcc register`` (on the space, as its default), then read back from
DescribeSpace → DescribeStudioLifecycleConfig and base64-decoded, as the platform would.
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smstudio_ext.admin import lcc, wheelhouse
from smstudio_ext.aws import AwsClients
from smstudio_ext.testing.smd import OLDEST, SmdSpace, base_env, newest
from smstudio_ext.testing.smd.env import locked

# The browser fixtures of tests/ui (Playwright's loop instead of pytest-jupyter's).
from tests.ui.conftest import _skip_reason, jp_asyncio_loop, jp_server_cleanup  # noqa: F401

BUCKET = "corp-wheels"
PREFIX = "smstudio/wheelhouse"
SETS = [OLDEST, newest()]


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    reason = None
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        reason = "the space sandbox runs its processes as uid 1000: needs root and setpriv"
    for item in items:
        if "tests/smd/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.smd)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def smd_wheel(built_wheel) -> Path:
    """Our wheel as CI builds it (tests/conftest.py's ``built_wheel``)."""
    return built_wheel


@pytest.fixture(scope="session")
def smd_wheelhouse(run_dir, smd_wheel) -> Path:
    """``smstudio wheelhouse build --python 3.11``: ours + every dependency wheel, for the
    Python this machine has (SMD 2.x's; see docs/smd.md for 3.12)."""
    out = run_dir / "smd-wheelhouse"
    with locked(run_dir / "smd-wheelhouse.lock"):
        if not (out / wheelhouse.MANIFEST).exists():
            shutil.rmtree(out, ignore_errors=True)
            wheelhouse.build(out, f"{sys.version_info[0]}.{sys.version_info[1]}", smd_wheel)
        return out


def smd_env(version: str) -> Any:
    return base_env(version, log=lambda msg: print(msg, file=sys.stderr))


@pytest.fixture
def clients(aws) -> AwsClients:
    return AwsClients(
        aws.region, endpoint_urls={"sagemaker": aws.endpoint_url, "s3": aws.endpoint_url}
    )


@pytest.fixture
def spaces(aws, world) -> Iterator[Any]:
    """``make(version, **kw)`` → a fresh SmdSpace of the seeded world's JupyterLab space."""
    made: list[SmdSpace] = []

    def make(version: str, app_type: str | None = "JupyterLab", **kw: Any) -> SmdSpace:
        root = Path(tempfile.mkdtemp(prefix=f"smd-{version}-", dir="/tmp"))
        app = world.find_app(app_type="JupyterLab")
        space = SmdSpace(root, smd_env(version), world.metadata(app), aws.env(), app_type, **kw)
        made.append(space)
        return space

    yield make
    for space in made:
        space.remove()


def push_wheelhouse(clients: AwsClients, folder: Path) -> str:
    """The wheelhouse in the emulator's S3, as ``smstudio wheelhouse push`` puts it."""
    s3 = clients.client("s3")
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    uri = f"s3://{BUCKET}/{PREFIX}"
    wheelhouse.push(clients, folder, uri)
    return uri


def registered_script(clients: AwsClients, world: Any, settings: lcc.LccSettings) -> str:
    """Register the rendered script on the space (its default), then read back what the
    platform would run: DescribeSpace → DescribeStudioLifecycleConfig → base64-decoded."""
    rendered = lcc.render(settings)
    app = world.find_app(app_type="JupyterLab")
    lcc.register(
        clients, rendered, domain=world.domain_id, name="smstudio", space=app["owner"], default=True
    )
    sm = clients.client("sagemaker")
    space = sm.describe_space(DomainId=world.domain_id, SpaceName=app["owner"])
    arn = space["SpaceSettings"]["JupyterLabAppSettings"]["DefaultResourceSpec"][
        "LifecycleConfigArn"
    ]
    config = sm.describe_studio_lifecycle_config(StudioLifecycleConfigName=arn.split("/")[-1])
    assert config["StudioLifecycleConfigAppType"] == "JupyterLab"
    return base64.b64decode(config["StudioLifecycleConfigContent"]).decode("utf-8")


def panel_settings(world: Any, **extra: Any) -> lcc.LccSettings:
    """The admin's choices: every feature the panel shows, from the pushed wheelhouse."""
    values: dict[str, Any] = {
        "app_type": "JupyterLab",
        "idle_timeout": 120,
        "backup_bucket": f"s3://{world.bucket}/homes",
        "user_id_tag_key": world.user_id_tag_key,
        "wheelhouse": f"s3://{BUCKET}/{PREFIX}",
    }
    if "wheel" in extra:
        del values["wheelhouse"]
    values.update(extra)
    return lcc.LccSettings(**values)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium through Playwright, for one module: Playwright's sync API keeps an event loop
    running on this thread while it is open, which the Jupyter servers of tests collected after
    these (tests/test_*.py, in the same worker) must not find running."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
