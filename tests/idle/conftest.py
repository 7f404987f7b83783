"""Fixtures shared by the idle tests: the server's IdleShutdown section, the seeded space, the
monitor. A test module adds to the section with a module-level ``IDLE_CONFIG`` dict; a test
with ``with_config(...)`` (idle_support.py)."""

from __future__ import annotations

import pytest
from idle_support import BASE

from smstudio_ext import clock


@pytest.fixture
def extra_server_config(request, tmp_path):
    section = dict(BASE, last_active_file=str(tmp_path / "last-active"))
    section.update(getattr(request.module, "IDLE_CONFIG", {}))
    section.update(getattr(request, "param", {}))
    return {"IdleShutdown": section}


@pytest.fixture
def space(world, metadata_path):
    """This server runs in the seeded space's JupyterLab app (metadata written before start)."""
    app = world.find_app(app_type="JupyterLab", owner=world.primary_space)
    world.write_metadata(metadata_path, app)
    return app


@pytest.fixture
def idle(jp_serverapp):
    clock.reset()
    yield jp_serverapp.web_app.settings["smstudio"].idle
    clock.reset()


@pytest.fixture(autouse=True)
def _clock():
    """Every idle test starts and ends on the real clock (tests time-travel)."""
    clock.reset()
    yield
    clock.reset()
