"""The panel among JupyterLab's conventions (issue 18, Panel): accessible (axe-core, no level A/AA
violation), in Notebook 7's shell, in a second language from a real language pack, and told of an
idle "warning" by the server's event stream.

One demo for the module, started with
- a test language pack (fr_FR, `langpack.py`) on its PYTHONPATH: inert until a test picks French;
- idle settings the demo leaves unset (JUPYTER_CONFIG_PATH, below the demo's own config): checks
  every 2 s, a 5-minute warning window, timeouts down to 1 minute, and no CPU signal from the other
  processes of this (shared) machine. Nothing is idle-warned until the warning test lowers the
  user's timeout, so that test runs last.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from . import langpack
from .conftest import (
    PANEL,
    ROOT,
    ensure_panel_open,
    open_panel,
    screenshot,
    section,
    start_demo,
    wait_settled,
    widen_sidebar,
)

pytestmark = pytest.mark.browser

AXE = ROOT / "labextension" / "node_modules" / "axe-core" / "axe.min.js"
SECTIONS = ("context", "idle", "cost", "tags", "guardrails", "backup", "conda")
IDLE_DECISION_ID = "https://smstudio-ext.github.io/events/idle/decision/v1"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ecosystem")
    pack = langpack.build(tmp / "language-pack")
    config = tmp / "config-path"
    config.mkdir()
    idle = {
        "min_timeout_minutes": 1,
        "check_interval_seconds": 2,
        "grace_minutes": 0,
        "warning_minutes": 5,
        "watch_user_processes": False,
        "ignore_processes": [".*"],
    }
    (config / "jupyter_server_config.json").write_text(json.dumps({"IdleShutdown": idle}))
    d = start_demo(tmp, env_extra={"PYTHONPATH": str(pack), "JUPYTER_CONFIG_PATH": str(config)})
    yield d
    d.stop()


def _settled_panel(browser: Any, demo: Any) -> Any:
    page = open_panel(browser, demo)
    for sid in SECTIONS:
        wait_settled(page, sid)
    return page


def test_axe_finds_no_level_a_or_aa_violation_in_the_panel(browser, demo):
    if not AXE.exists():
        pytest.skip(f"{AXE} is missing: cd labextension && npm install")
    page = _settled_panel(browser, demo)
    try:
        # open what is folded, so the checker sees every control
        page.evaluate(
            "() => document.querySelectorAll('#smstudio-ext-panel details')"
            ".forEach(d => { d.open = true; })"
        )
        page.add_script_tag(path=str(AXE))  # from node_modules: no network
        result = page.evaluate(
            """async () => {
              const r = await axe.run(document.querySelector('#smstudio-ext-panel'), {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}
              });
              return {
                rules: r.passes.length,
                violations: r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)
                }))
              };
            }"""
        )
        assert result["violations"] == [], json.dumps(result["violations"], indent=1)
        assert result["rules"] >= 10  # the checker really ran over the panel
    finally:
        page.close()


def _open_from_notebook_palette(page: Any) -> None:
    page.locator("#jp-MainMenu").get_by_text("View", exact=True).click()
    page.get_by_role("menuitem", name="Activate Command Palette").click()
    field = page.locator("#modal-command-palette input")
    field.fill("SageMaker Studio Panel")
    page.locator(
        '#modal-command-palette [data-command="smstudio:open-panel"].lm-mod-active'
    ).wait_for()
    field.press("Enter")


def test_the_panel_shows_in_notebook_7(browser, demo):
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.set_default_timeout(30_000)
    try:
        # Notebook 7's file browser (the `notebook` server extension of the same server)
        page.goto(f"{demo.base}tree?token={demo.token}")
        page.locator("#jp-NotebookLogo").wait_for()
        assert page.locator(".jp-LabShell").count() == 0  # Notebook's shell, not JupyterLab's
        page.locator(PANEL).wait_for(state="attached")  # added to the left area, hidden
        _open_from_notebook_palette(page)
        panel = page.locator(PANEL)
        panel.wait_for(state="visible")
        assert panel.get_attribute("aria-label") == "SageMaker Studio panel"
        text = wait_settled(page, "context").inner_text()
        assert demo.domain_id in text
        # no status bar in Notebook 7: the panel itself names what it is
        assert panel.locator(".jp-smstudio-Panel-title").text_content() == "SageMaker Studio"
    finally:
        page.close()


def test_the_panel_speaks_the_language_of_an_installed_language_pack(browser, demo):
    status, packs = demo.api("GET", "lab/api/translations/")
    assert status == 200 and langpack.LANGUAGE in packs["data"], packs
    status, _ = demo.api(
        "PUT",
        "lab/api/settings/@jupyterlab/translation-extension:plugin",
        {"raw": json.dumps({"locale": langpack.LANGUAGE})},
    )
    assert status in (200, 204)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 2700})  # no scrolling
        page.set_default_timeout(30_000)
        page.goto(demo.lab_url)
        ensure_panel_open(page)
        panel = page.locator(PANEL)
        fr = langpack.CATALOGUE
        assert panel.get_attribute("aria-label") == fr["SageMaker Studio panel"]
        titles = panel.locator(".jp-smstudio-Section-title").all_inner_texts()
        assert titles == [
            fr[t] for t in ("This app", "Auto-shutdown", "Cost", "Tags", "Guardrails", "Backup")
        ] + ["Conda"]
        refresh = section(page, "backup").locator(".jp-smstudio-Section-refresh")
        assert refresh.get_attribute("aria-label") == "Actualiser Sauvegarde"
        # money and numbers in the page's language (Intl with fr-FR), not a hard-coded en-US
        assert page.evaluate("() => document.documentElement.lang").lower().startswith("fr")
        cost = wait_settled(page, "cost").inner_text()
        assert re.search(r"\d,\d{2}\s\$US", cost), cost
        for sid in SECTIONS:
            wait_settled(page, sid)
        widen_sidebar(page)
        page.mouse.click(900, 600)  # focus away from the panel
        screenshot(page, "panel-fr.png")
        page.close()
    finally:
        demo.api(
            "PUT",
            "lab/api/settings/@jupyterlab/translation-extension:plugin",
            {"raw": json.dumps({"locale": "en"})},
        )


def test_a_warning_event_reaches_the_browser(browser, demo):
    """Last: it makes the app idle-warned (and soon shut down in the emulated Studio)."""
    if not demo.has("idle"):
        pytest.skip("the idle engine is not in this build")
    page = _settled_panel(browser, demo)
    frames: list[dict[str, Any]] = []

    def on_socket(ws: Any) -> None:
        if "/api/events/subscribe" in ws.url:
            ws.on("framereceived", lambda payload: frames.append(_json(payload)))

    page.on("websocket", on_socket)
    try:
        page.reload()  # the listener sees the page's own events websocket open
        ensure_panel_open(page)
        wait_settled(page, "idle")
        badge = section(page, "idle").locator(".jp-smstudio-Badge[data-state]")
        assert badge.get_attribute("data-state") != "warning"
        # When the user's timeout drops within the warning window (5 min) of an idle app
        status, body = demo.api("PUT", "smstudio/idle/settings", {"timeout_minutes": 4})
        assert status == 200, body
        # Then the server's next check (2 s) pushes a "warning" event down the events websocket
        page.wait_for_function(
            "() => document.querySelector("
            '\'#smstudio-ext-panel section[data-section-id="idle"] [data-state="warning"]\')',
            timeout=60_000,
        )
        warnings = [
            f
            for f in frames
            if f.get("schema_id") == IDLE_DECISION_ID and f.get("decision") == "warning"
        ]
        assert warnings, frames
        assert warnings[0]["shutdown_at"].endswith("Z")
        # and the shutdown warning notification offers to keep the app running
        page.get_by_role("button", name="Keep running 1 h").first.wait_for()
    finally:
        page.close()


def _json(payload: Any) -> dict[str, Any]:
    try:
        data = json.loads(payload if isinstance(payload, str) else bytes(payload).decode())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
