"""Helpers shared by the SMD space tests (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

from smstudio_ext._version import __version__

from smstudio_ext.testing.smd import SmdSpace


def image_packages(space: SmdSpace) -> dict[str, str]:
    """name → version of every distribution the space's Python sees, but ours."""
    code = (
        "import importlib.metadata as m\n"
        "for d in m.distributions():\n"
        "    print(d.metadata['Name'], d.version)\n"
    )
    out = space.user_run([str(space.python), "-c", code]).stdout
    pairs = dict(line.split(" ", 1) for line in out.splitlines() if line.strip())
    return {k: v for k, v in pairs.items() if k.lower().replace("_", "-") != "smstudio-ext"}


def check_loaded(space: SmdSpace, world: Any) -> None:
    server = space.wait_server(timeout=180, loaded=__version__)
    assert server.base_url == "/jupyterlab/default/"
    status, ctx = space.api("smstudio/context", server)
    assert status == 200, ctx
    app = world.find_app(app_type="JupyterLab")
    assert ctx["space_name"] == app["owner"] and ctx["domain_id"] == world.domain_id, ctx
    assert ctx["app_type"] == "JupyterLab" and ctx["version"] == __version__
