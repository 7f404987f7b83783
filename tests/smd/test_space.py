"""The rollout in a SageMaker Distribution space, on the oldest and the newest SMD we support.

In both orders — the lifecycle script while the server already runs (SMD's: supervisord starts
it with the container) and before it starts — after the registered script the running server
has smstudio_ext loaded (GET /jupyterlab/default/smstudio/context answers with the space), the
panel renders in Chromium at /jupyterlab/default/lab with every section, JupyterLab calls the
labextension compatible and the browser logs no unsatisfied shared module; the script exits
within its 5 minutes and its log says what it did; the image's packages are unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from smstudio_ext._version import __version__
from smstudio_ext.testing.smd import LCC_LIMIT, SmdSpace
from tests.ui.conftest import ARTIFACTS, PANEL, ensure_panel_open, wait_settled, widen_sidebar

from .conftest import SETS, panel_settings, push_wheelhouse, registered_script
from .smd_support import assert_image_kept, check_loaded, image_packages

pytestmark = pytest.mark.timeout(900)  # the first test of a run builds the wheelhouse

SECTIONS = ["This app", "Auto-shutdown", "Cost", "Tags", "Guardrails", "Backup", "Conda"]
SECTION_IDS = ["context", "idle", "cost", "tags", "guardrails", "backup", "conda"]


def check_labextension(space: SmdSpace) -> None:
    out = space.user_run(["jupyter", "labextension", "list"])
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    line = next((x for x in text.splitlines() if "smstudio-ext" in x), "")
    assert f"smstudio-ext v{__version__} enabled OK" in line, text
    assert "not compatible" not in text, text


def check_panel(browser: Any, space: SmdSpace, shot: str | None) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.set_default_timeout(60_000)
    try:
        page.goto(space.url("lab"))
        assert "/jupyterlab/default/lab" in page.url
        ensure_panel_open(page)
        titles = page.locator(f"{PANEL} .jp-smstudio-Section-title").all_inner_texts()
        assert titles == SECTIONS
        for sid in SECTION_IDS:
            text = wait_settled(page, sid).inner_text()
            assert "Not available" not in text, (sid, text)
        assert "JupyterLab" in wait_settled(page, "context").inner_text()
        if shot:
            widen_sidebar(page)
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator(f"{PANEL} .jp-smstudio-Panel-content").screenshot(
                path=str(ARTIFACTS / shot)
            )
    finally:
        page.close()
    unsatisfied = [m for m in console if "Unsatisfied version" in m]
    assert not unsatisfied, unsatisfied


@pytest.mark.browser
@pytest.mark.parametrize("version", SETS)
def test_rollout_while_the_server_runs(version, spaces, clients, world, smd_wheelhouse, browser):
    # Given an SMD space whose server runs (started with the container, without our extension)
    push_wheelhouse(clients, smd_wheelhouse)
    script = registered_script(clients, world, panel_settings(world))
    space = spaces(version)
    space.start()
    before = space.wait_server()
    assert before.loaded is None
    packages = image_packages(space)
    # When the platform runs the registered lifecycle script, as the notebook user
    run = space.run_lcc(script)
    # Then it ends well within 5 minutes, saying what it did
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.seconds < LCC_LIMIT
    out = run.stdout
    assert all(line.startswith("smstudio-lcc ") for line in out.splitlines()), out
    assert "FAILED" not in out and "ERROR" not in out, out
    assert "fetched" in out and "installed: smstudio_ext" in out
    assert "pip check: No broken requirements found." in out
    # the space has no way to a package index (closed port, no proxy): the wheelhouse did it
    probe = space.user_run([str(space.python), "-m", "pip", "download", "--no-deps", "six"])
    assert probe.returncode != 0 and "127.0.0.1:9" in probe.stdout + probe.stderr
    assert f"pid {before.pid}" in out and "runs no smstudio_ext: restarting it" in out
    assert re.search(rf"restarted in \d+ s: .* runs smstudio_ext {__version__}", out), out
    # and the restarted server has the extension, the panel shows, the image is unchanged
    check_loaded(space, world)
    assert_image_kept(space, packages)
    assert (
        "No broken requirements" in space.user_run([str(space.python), "-m", "pip", "check"]).stdout
    )
    check_labextension(space)
    check_panel(browser, space, f"smd-{version}-panel.png")
    # And a second run (the same container) changes nothing and restarts nothing
    again = space.run_lcc(script)
    assert again.returncode == 0 and "FAILED" not in again.stdout, again.stdout
    assert "no restart needed" in again.stdout
    assert space.wait_server().pid == space.wait_server(loaded=__version__).pid


@pytest.mark.browser
@pytest.mark.parametrize("version", SETS)
def test_rollout_before_the_server_starts(version, spaces, clients, world, smd_wheelhouse, browser):
    # Given the script runs before the container's server is up
    push_wheelhouse(clients, smd_wheelhouse)
    script = registered_script(clients, world, panel_settings(world))
    space = spaces(version)
    run = space.run_lcc(script)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.seconds < LCC_LIMIT and "FAILED" not in run.stdout, run.stdout
    assert "no Jupyter server running" in run.stdout
    assert "job server started in the background" in run.stdout
    # When the server starts afterwards
    space.start()
    # Then it loads the extension by itself: the watcher sees it and restarts nothing
    check_loaded(space, world)
    log = space.wait_job("server")
    assert "no restart needed" in log and "restarting" not in log, log
    check_labextension(space)
    check_panel(browser, space, None)
