"""The panel against `smstudio demo` (seeded emulated Studio): opens from the sidebar, shows the
seeded values in each section, and its controls change the server's state.

A section whose engine is not in this build (its route answers 404) must say "Not available";
once the engine is there, the section must show the server's values.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from .conftest import (
    PANEL,
    ensure_panel_open,
    open_panel,
    run_from_palette,
    screenshot,
    section,
    start_demo,
    wait_settled,
    widen_sidebar,
)

pytestmark = pytest.mark.browser

NOT_AVAILABLE = "Not available"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = start_demo(tmp_path_factory.mktemp("demo"))
    yield d
    d.stop()


@pytest.fixture(scope="module")
def page(browser, demo):
    p = open_panel(browser, demo)
    yield p
    p.close()


def _money(amount: float) -> str:
    """What the panel's formatMoney shows for USD."""
    digits = 4 if 0 < abs(amount) < 0.01 else 2
    return f"${amount:,.{digits}f}"


def test_panel_opens_from_sidebar_with_every_section(page):
    panel = page.locator(PANEL)
    assert panel.is_visible()
    assert panel.get_attribute("aria-label") == "SageMaker Studio panel"
    titles = panel.locator(".jp-smstudio-Section-title").all_inner_texts()
    assert titles == ["This app", "Auto-shutdown", "Cost", "Tags", "Guardrails", "Backup", "Conda"]
    # every section header is a keyboard-reachable button with a label
    for sid in ("context", "idle", "cost", "tags", "guardrails", "backup", "conda"):
        refresh = section(page, sid).locator(".jp-smstudio-Section-refresh")
        assert refresh.get_attribute("aria-label").startswith("Refresh ")


def test_this_app_shows_the_seeded_app(page, demo):
    text = wait_settled(page, "context").inner_text()
    assert demo.domain_id in text
    assert demo.owner in text
    status, ctx = demo.api("GET", "smstudio/context")
    assert status == 200
    assert ctx["instance_type"] and ctx["instance_type"] in text
    assert f"{ctx['app_type']} ({ctx['app_name']})" in text


def test_auto_shutdown_shows_the_server_state(page, demo):
    sec = wait_settled(page, "idle")
    if not demo.has("idle"):
        assert NOT_AVAILABLE in sec.inner_text()
        pytest.skip("the idle engine is not in this build: its section says not available")
    status, idle = demo.api("GET", "smstudio/idle")
    assert status == 200
    text = sec.inner_text()
    assert f"{idle['timeout_minutes']} min idle" in text
    badge = sec.locator(".jp-smstudio-Badge[data-state]")
    assert badge.get_attribute("data-state") in ("active", "idle", "warning", "disabled")
    signals = idle.get("signals") or []
    if signals:  # the first answer may predate the first check: refresh once
        sec.get_by_role("button", name="Refresh Auto-shutdown").click()
        sec.locator(".jp-smstudio-Signals li").nth(len(signals) - 1).wait_for()
        text = sec.inner_text()
    for signal in signals:
        assert signal["name"] in text


def test_keep_running_changes_the_server_idle_state(page, demo):
    if not demo.has("idle"):
        pytest.skip("the idle engine is not in this build")
    status, before = demo.api("GET", "smstudio/idle")
    assert status == 200 and not before.get("keepalive_until")
    sec = wait_settled(page, "idle")
    sec.get_by_role("button", name="Keep running for 1 h").click()
    sec.get_by_text(re.compile(r"for (59|60)m more|for 1h 00m more")).wait_for()
    _assert_kept_for_an_hour(demo)
    # the status bar says so too
    page.locator(".jp-smstudio-StatusItem", has_text="Kept running").wait_for()


def _assert_kept_for_an_hour(demo):
    status, after = demo.api("GET", "smstudio/idle")
    assert status == 200
    until = datetime.fromisoformat(after["keepalive_until"].replace("Z", "+00:00"))
    left = until - datetime.now(timezone.utc)
    assert timedelta(minutes=58) < left <= timedelta(minutes=60)


def test_keep_running_from_the_command_palette(page, demo):
    if not demo.has("idle"):
        pytest.skip("the idle engine is not in this build")
    status, cancelled = demo.api("POST", "smstudio/idle/keepalive", {"minutes": 0})
    assert status == 200 and not cancelled.get("keepalive_until")
    run_from_palette(page, "Keep This App Running", "smstudio:keep-running")
    page.get_by_text("Kept running for 1 h.").first.wait_for()
    _assert_kept_for_an_hour(demo)


def test_cost_shows_the_estimate(page, demo):
    sec = wait_settled(page, "cost")
    if not demo.has("insights?parts=costs"):
        assert NOT_AVAILABLE in sec.inner_text()
        pytest.skip("the insights engine is not in this build")
    status, data = demo.api("GET", "smstudio/insights?parts=costs")
    est = data["costs"]["estimate"]
    text = sec.inner_text()
    assert f"{_money(est['per_hour'])}/h" in text
    assert "Month to date" in text
    billed = data["costs"]["billed"]
    if billed["status"] == "ok":
        assert _money(billed["month_to_date"]) in text
    else:  # the demo has no Cost Explorer data: say so, and why
        assert billed["reason"].replace("not available: ", "")[:60] in text
    assert _money(est["since_start"]) in text


def test_tags_show_the_seeded_tags_with_the_user_id_highlighted(page, demo):
    sec = wait_settled(page, "tags")
    if not demo.has("insights?parts=tags"):
        assert NOT_AVAILABLE in sec.inner_text()
        pytest.skip("the insights engine is not in this build")
    status, data = demo.api("GET", "smstudio/insights?parts=tags")
    rows = sec.locator("tbody tr")
    assert rows.count() == len(data["tags"]) > 0
    own = [t for t in data["tags"] if not t["automatic"] or t["user_id"]]
    automatic = [t for t in data["tags"] if t["automatic"] and not t["user_id"]]
    assert own and automatic  # the seeded world has both
    text = sec.inner_text()
    for tag in own:
        assert tag["key"] in text and tag["value"] in text
    # SageMaker's automatic tags (ARNs) are folded away until asked for
    assert automatic[0]["value"] not in text
    sec.get_by_text(f"{len(automatic)} automatic tags set by SageMaker").click()
    text = sec.inner_text()
    for tag in automatic:
        assert tag["key"] in text and tag["value"] in text
    user_id = [t for t in data["tags"] if t.get("user_id")]
    assert user_id, "the seeded owner carries the user-id tag"
    highlighted = sec.locator("tr.jp-smstudio-Tag-userId")
    assert highlighted.count() == len(user_id)
    assert user_id[0]["value"] in highlighted.first.inner_text()


def test_guardrails_show_each_check_with_evidence_on_demand(page, demo):
    sec = wait_settled(page, "guardrails")
    if not demo.has("insights?parts=guardrails"):
        assert NOT_AVAILABLE in sec.inner_text()
        pytest.skip("the insights engine is not in this build")
    status, data = demo.api("GET", "smstudio/insights?parts=guardrails")
    checks = data["guardrails"]
    items = sec.locator("li.jp-smstudio-Guardrail")
    assert items.count() == len(checks) > 0
    for check in checks:
        item = sec.locator(f'li[data-check-id="{check["id"]}"]')
        assert check["title"] in item.inner_text()
    # evidence and fix open from the keyboard
    first = items.first.locator("summary")
    first.focus()
    page.keyboard.press("Enter")
    assert items.first.locator(".jp-smstudio-Guardrail-details").is_visible()


def test_back_up_now_completes_and_the_snapshot_appears(page, demo):
    sec = wait_settled(page, "backup")
    if not demo.has("backup"):
        assert NOT_AVAILABLE in sec.inner_text()
        pytest.skip("the backup engine is not in this build")
    assert "not backed up (~/.aws/credentials, SSH keys, tokens)" in sec.inner_text()
    (demo.home / "notebooks" / "results.csv").write_text("a,b\n1,2\n")
    status, before = demo.api("GET", "smstudio/backup/snapshots")
    assert status == 200
    n = len(before["snapshots"])
    assert sec.locator(".jp-smstudio-Snapshots tbody tr").count() == n
    sec.get_by_role("button", name="Back up now").click()
    sec.locator(".jp-smstudio-Snapshots tbody tr").nth(n).wait_for(timeout=45_000)
    status, after = demo.api("GET", "smstudio/backup/snapshots")
    assert len(after["snapshots"]) == n + 1
    status, state = demo.api("GET", "smstudio/backup")
    assert state["last_result"]["snapshot_id"] in {s["id"] for s in after["snapshots"]}
    assert sec.get_by_role("button", name="Back up now").is_enabled()
    assert "none yet" not in sec.inner_text()


def test_back_up_now_from_the_command_palette(page, demo):
    if not demo.has("backup"):
        pytest.skip("the backup engine is not in this build")
    sec = wait_settled(page, "backup")
    n = len(demo.api("GET", "smstudio/backup/snapshots")[1]["snapshots"])
    (demo.home / "notebooks" / "more.txt").write_text("more")
    run_from_palette(page, "Back Up Home Now", "smstudio:backup-now")
    sec.locator(".jp-smstudio-Snapshots tbody tr").nth(n).wait_for(timeout=45_000)
    assert len(demo.api("GET", "smstudio/backup/snapshots")[1]["snapshots"]) == n + 1


def _restore(page, sec, paths: str, target, overwrite: bool = False):
    sec.locator(".jp-smstudio-Snapshots tbody tr").first.get_by_role(
        "button", name=re.compile("Restore from snapshot")
    ).click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("#jp-smstudio-restore-paths").fill(paths)
    dialog.locator("#jp-smstudio-restore-target").fill(str(target))
    if overwrite:
        dialog.locator("#jp-smstudio-restore-overwrite").check()
    dialog.get_by_role("button", name="Restore…").click()


def test_restore_chooses_paths_and_target_and_asks_before_overwriting(page, demo):
    if not demo.has("backup"):
        pytest.skip("the backup engine is not in this build")
    sec = wait_settled(page, "backup")
    if not demo.api("GET", "smstudio/backup/snapshots")[1]["snapshots"]:
        # run alone (e.g. on another xdist worker): make the snapshot through the API
        assert demo.api("POST", "smstudio/backup", {})[0] == 202
        for _ in range(300):
            if not demo.api("GET", "smstudio/backup")[1]["running"]:
                break
            page.wait_for_timeout(100)
    sec.get_by_role("button", name="Refresh Backup").click()
    sec.locator(".jp-smstudio-Snapshots tbody tr").first.wait_for()
    target = demo.home / "restored"
    restored = target / "notebooks" / "welcome.ipynb"
    original = (demo.home / "notebooks" / "welcome.ipynb").read_text()
    # ticking "overwrite" asks first; cancelling restores nothing
    _restore(page, sec, "notebooks", target, overwrite=True)
    page.locator(".jp-Dialog").get_by_text("Overwrite files?").wait_for()
    page.locator(".jp-Dialog").get_by_role("button", name="Cancel").click()
    page.locator(".jp-Dialog").wait_for(state="detached")
    assert not target.exists()
    # a fresh target: restored straight away, only the chosen path
    _restore(page, sec, "notebooks", target)
    done = page.get_by_text(re.compile(r"Restored \d+ files"))
    done.first.wait_for(timeout=30_000)
    assert restored.exists(), done.first.inner_text()
    assert restored.read_text() == original
    assert sorted(p.name for p in target.iterdir()) == ["notebooks"]
    # a changed file in the target: the server refuses, the panel asks, "Overwrite" restores it
    restored.write_text("changed since the snapshot")
    _restore(page, sec, "notebooks", target)
    confirm = page.locator(".jp-Dialog", has_text="Overwrite files?")
    confirm.get_by_text("already exist").wait_for()
    confirm.get_by_role("button", name="Overwrite").click()
    page.locator(".jp-Dialog").wait_for(state="detached")
    for _ in range(100):  # the restore replaces the file: it may be missing for a moment
        if restored.exists() and restored.read_text() == original:
            break
        page.wait_for_timeout(100)
    page.get_by_text(re.compile(r"Restored \d+ files")).first.wait_for()
    assert restored.read_text() == original


def _make_env(envs: Path, name: str, ipykernel: bool) -> None:
    """A persisted env as conda leaves it, minus the packages: interpreter, meta, site-packages."""
    env = envs / name
    sp = env / "lib" / "python3.11" / "site-packages"
    sp.mkdir(parents=True)
    (env / "conda-meta").mkdir()
    (env / "conda-meta" / "python-3.11.7-hab00c5b_0.json").write_text("{}")
    (env / "bin").mkdir()
    (env / "bin" / "python").symlink_to(sys.executable)
    if ipykernel:
        (sp / "ipykernel").mkdir()
        (sp / "ipykernel" / "__init__.py").write_text("")


def test_conda_shows_persisted_envs_their_kernel_or_the_fix(page, demo):
    sec = wait_settled(page, "conda")
    if not demo.has("conda/envs"):
        assert NOT_AVAILABLE in sec.inner_text()
        pytest.skip("the conda engine is not in this build")
    assert "No persisted environments" in sec.inner_text()
    _make_env(demo.conda_envs, "analysis", ipykernel=True)
    _make_env(demo.conda_envs, "scratch", ipykernel=False)
    sec.get_by_role("button", name="Refresh Conda").click()
    sec.locator('li[data-env="scratch"]').wait_for()
    status, data = demo.api("GET", "smstudio/conda/envs")
    envs = {e["name"]: e for e in data["envs"]}
    assert set(envs) == {"analysis", "scratch"}
    analysis = sec.locator('li[data-env="analysis"]').inner_text()
    assert "Python 3.11" in analysis
    assert f"kernel {envs['analysis']['kernels'][0]}" in analysis
    scratch = sec.locator('li[data-env="scratch"]')
    assert "no kernel" in scratch.inner_text()
    fix = scratch.get_by_label("Fix for scratch").inner_text()
    assert fix == envs["scratch"]["fix"] and "ipykernel" in fix


def test_timeout_control_checks_the_admin_bound_then_sets_it(page, demo):
    if not demo.has("idle"):
        pytest.skip("the idle engine is not in this build")
    status, idle = demo.api("GET", "smstudio/idle")
    low = idle["bounds"]["min"]
    sec = wait_settled(page, "idle")
    field = sec.get_by_label("Shut down after idle for")
    # below the admin's minimum: refused in the panel, nothing sent
    field.fill(str(low - 1))
    sec.get_by_role("button", name="Set", exact=True).click()
    sec.get_by_text(f"At least {low} minutes (admin bound).").wait_for()
    assert demo.api("GET", "smstudio/idle")[1]["timeout_minutes"] == idle["timeout_minutes"]
    # within the bounds: the server takes it
    wanted = idle["timeout_minutes"] + 15
    field.fill(str(wanted))
    field.press("Enter")
    sec.get_by_text(f"Timeout set to {wanted} min.").wait_for()
    assert demo.api("GET", "smstudio/idle")[1]["timeout_minutes"] == wanted
    sec.get_by_text(f"{wanted} min idle").wait_for()


def test_keyboard_reaches_every_control(page, demo):
    for sid in ("context", "idle", "conda"):
        wait_settled(page, sid)
    toggle = section(page, "context").locator(".jp-smstudio-Section-toggle")
    toggle.focus()
    seen = []
    for _ in range(60):
        seen.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return (e.getAttribute('aria-label') || e.textContent || '').trim(); }"
            )
        )
        if not page.evaluate("() => !!document.activeElement.closest('#smstudio-ext-panel')"):
            break
        page.keyboard.press("Tab")
    for title in ("This app", "Auto-shutdown", "Cost", "Tags", "Guardrails", "Backup", "Conda"):
        assert f"Refresh {title}" in seen, seen
    if demo.has("idle"):
        assert "Keep running for 1 h" in seen
    # Enter on a section toggle collapses it and says so
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"


def _fresh_panel(page):
    """Reload (details folded, no focus ring), open the panel, wait for every section."""
    page.reload()
    ensure_panel_open(page)
    page.locator(f"{PANEL} .jp-smstudio-mod-loading").first.wait_for(state="detached")
    widen_sidebar(page)
    page.mouse.click(900, 600)  # focus away from the panel
    page.wait_for_timeout(300)


def test_screenshots_light_and_dark(page, demo):
    """Last in the module: it switches the lab to the dark theme."""
    page.set_viewport_size({"width": 1280, "height": 2700})  # the whole panel, no scrolling
    _fresh_panel(page)
    light = screenshot(page, "panel-light.png")
    status, _ = demo.api(
        "PUT",
        "lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": "JupyterLab Dark"})},
    )
    assert status in (200, 204)
    _fresh_panel(page)
    page.locator('body[data-jp-theme-light="false"]').wait_for(state="attached")
    dark = screenshot(page, "panel-dark.png")
    assert light.stat().st_size > 10_000 and dark.stat().st_size > 10_000
