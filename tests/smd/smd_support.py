"""Helpers shared by the SMD space tests (fixtures are in conftest.py)."""

from __future__ import annotations

import re
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


def our_requirements() -> set[str]:
    """Names of the distributions our wheel requires (what an install may add, never change)."""
    import importlib.metadata as m

    names = set()
    for req in m.requires("smstudio-ext") or []:
        if "extra ==" in req:
            continue
        names.add(re.split(r"[<>=!~\[ ;(]", req, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def assert_image_kept(space: SmdSpace, before: dict[str, str]) -> None:
    """Every package the image had is still there at the same version; the only additions
    are dependencies of ours the image lacked (SMD 2.0.0 has no pyfastcdc, for one)."""
    after = image_packages(space)
    changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
    assert not changed, changed
    added = {k.lower().replace("_", "-") for k in set(after) - set(before)}
    assert added <= our_requirements(), added
