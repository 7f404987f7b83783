"""Browser tests of the JupyterLab panel: `smstudio demo` (real JupyterLab + seeded emulator) driven
by Debian's Chromium through Python Playwright. One demo per test module; one browser per session.

The built labextension of this checkout is put on the lab's path with JUPYTER_PATH (a temporary
folder holding a `labextensions/smstudio-ext` symlink), so nothing is installed into the venv.
Screenshots go to `test-artifacts/` (gitignored).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
BUILT = ROOT / "smstudio_ext" / "labextension"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PANEL = "#smstudio-ext-panel"


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not (BUILT / "package.json").exists() or not (BUILT / "static").is_dir():
        return f"the labextension is not built ({BUILT}): cd labextension && npm run build"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "python playwright is not installed"
    return None


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    reason = _skip_reason()
    for item in items:
        if "tests/ui/" in str(item.fspath).replace(os.sep, "/") and "browser" in item.keywords:
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    """A running `smstudio demo` and what it printed."""

    proc: subprocess.Popen[str]
    port: int
    token: str
    lines: list[str] = field(default_factory=list)
    domain_id: str = ""
    owner: str = ""
    app_name: str = ""
    home: Path = Path()
    #: HOME of the demo's processes (holds ~/.conda/envs)
    user_home: Path = Path()

    @property
    def conda_envs(self) -> Path:
        """~/.conda/envs of the demo's Jupyter server (the demo runs it with HOME = its home)."""
        return self.home / ".conda" / "envs"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def lab_url(self) -> str:
        return f"{self.base}lab?token={self.token}"

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the server (`path` relative to base_url); returns (status, decoded JSON)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw.decode(errors="replace")

    def has(self, path: str) -> bool:
        """Whether this build serves `smstudio/<path>` (its engine has landed)."""
        return self.api("GET", f"smstudio/{path}")[0] != 404

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # like Ctrl-C: the demo stops what it started
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_demo(tmp_path: Path, *extra: str, env_extra: dict[str, str] | None = None) -> Demo:
    """`smstudio demo` with this checkout's panel; `env_extra` adds to its environment (e.g.
    PYTHONPATH for a test language pack, JUPYTER_CONFIG_PATH for config the demo leaves unset)."""
    jupyter_path = tmp_path / "jupyter-path"
    (jupyter_path / "labextensions").mkdir(parents=True)
    (jupyter_path / "labextensions" / "smstudio-ext").symlink_to(BUILT, target_is_directory=True)
    env = dict(os.environ)
    # A private HOME: the engines write ~/.condarc, kernelspecs and settings under it, and the
    # persisted conda envs folder (~/.conda/envs) is the test's own.
    user_home = tmp_path / "user-home"
    (user_home / ".conda" / "envs").mkdir(parents=True)
    env["HOME"] = str(user_home)
    for var in ("JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "SMSTUDIO_CONDA_ENVS_DIR"):
        env.pop(var, None)
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(jupyter_path)] + ([env["JUPYTER_PATH"]] if env.get("JUPYTER_PATH") else [])
    )
    env.update(env_extra or {})
    port, token = _free_port(), "ui-test-" + os.urandom(8).hex()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smstudio_ext", "demo", "--port", str(port), "--token", token]
        + list(extra),
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    demo = Demo(proc=proc, port=port, token=token, user_home=user_home)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            break
        demo.lines.append(line)
        m = re.search(r"domain (\S+), (\S+), app (\S+)", line)
        if m:
            demo.domain_id, demo.owner, demo.app_name = m.groups()
        m = re.search(r"home (\S+);", line)
        if m:
            demo.home = Path(m.group(1))
        if "Ctrl-C stops everything" in line:
            return demo
    demo.stop()
    pytest.fail("smstudio demo did not start:\n" + "".join(demo.lines))


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """No pytest-jupyter event loop here: these tests run no in-process server, and Playwright's
    sync API keeps its own loop running on this thread (closing it would fail)."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    """Nothing to clean: the servers run in `smstudio demo` subprocesses."""
    yield


@pytest.fixture(scope="session")
def browser():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_panel(browser: Any, demo: Demo) -> Any:
    """A page on the lab with the SageMaker Studio panel opened from the sidebar."""
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.set_default_timeout(30_000)
    page.goto(demo.lab_url)
    ensure_panel_open(page)
    return page


def ensure_panel_open(page: Any) -> None:
    """Click the sidebar tab unless the layout restorer has already opened the panel."""
    tab = page.locator('.jp-SideBar [data-id="smstudio-ext-panel"]')
    tab.wait_for()
    page.locator("#jupyterlab-splash").wait_for(state="detached")
    if not page.locator(PANEL).is_visible():
        tab.click()
    page.locator(PANEL).wait_for(state="visible")


def section(page: Any, section_id: str) -> Any:
    return page.locator(f'{PANEL} section[data-section-id="{section_id}"]')


def wait_settled(page: Any, section_id: str) -> Any:
    """The section once it has left the loading state."""
    page.locator(
        f'{PANEL} section[data-section-id="{section_id}"]:not(.jp-smstudio-mod-loading)'
    ).wait_for()
    return section(page, section_id)


def run_from_palette(page: Any, query: str, command: str) -> None:
    """Open the command palette (Ctrl+Shift+C toggles it), search, click the command."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    field = page.locator("#command-palette input")
    for _ in range(3):
        if field.is_visible():
            break
        # the View menu, not Ctrl+Shift+C: the shortcut toggles and can be swallowed by a field
        page.keyboard.press("Escape")
        page.locator("#jp-menu-panel").get_by_text("View", exact=True).click()
        page.get_by_role("menuitem", name="Activate Command Palette").click()
        try:
            field.wait_for(state="visible", timeout=3000)
        except PlaywrightTimeout:
            continue
    field.fill(query)
    # Enter runs the active (first) match; clicking races the palette's re-renders
    page.locator(f'#command-palette [data-command="{command}"].lm-mod-active').wait_for()
    field.press("Enter")


def widen_sidebar(page: Any, pixels: int = 130) -> None:
    """Drag the left sidebar's splitter so the screenshots show the panel at a usual width."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box is None:
        return
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + pixels, y, steps=5)
    page.mouse.up()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.locator(f"{PANEL} .jp-smstudio-Panel-content").screenshot(path=str(path))
    return path
