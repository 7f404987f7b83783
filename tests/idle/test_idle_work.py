"""Issue 16, "Idle: never kill running work" and "Command lines leak secrets": each reproduction on
a real server with real terminals, kernels, processes and the emulator's DeleteApp. Each test
fails on the code before the fix (see the comment naming what it did then)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from idle_support import HOURS, app_status, deletes, only, wait_for, with_config
from tornado.httpclient import HTTPClientError

from smstudio_ext import clock
from smstudio_ext.cli import main as cli_main

SECRET = "hunter2"


def report(result, name):
    return next(r for r in result.reports if r.name == name)


async def past_timeout(idle, hours=3.0, gap=0.3):
    """A baseline pass, a short real gap (CPU is measured between passes), then hours later."""
    await idle.check(act=False)
    await asyncio.sleep(gap)
    clock.travel(hours * HOURS)
    return await idle.check()


# --- terminals: a foreground job is work, an interactive monitor is not ---------------------------
class Terminal:
    """A real terminal of the server (terminado) with its shell."""

    def __init__(self, jp_serverapp):
        self.tm = jp_serverapp.web_app.settings["terminal_manager"]
        self.name = self.tm.create()["name"]
        self.proc = self.tm.terminals[self.name].ptyproc

    def type(self, line):
        self.proc.write(line + "\n")

    def foreground_is_a_job(self):
        try:
            return os.tcgetpgrp(self.proc.fd) != os.getpgid(self.proc.pid)
        except OSError:
            return False

    async def wait_for_job(self):
        await wait_for(self.foreground_is_a_job, timeout=20)

    async def close(self):
        import psutil

        try:  # background jobs too (a shell does not always hang them up)
            jobs = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            jobs = []
        await self.tm.terminate(self.name, force=True)
        for job in jobs:
            try:
                job.kill()
            except psutil.Error:
                pass


@pytest.fixture
def terminal(jp_serverapp, jp_asyncio_loop):
    opened = []

    def open_terminal():
        t = Terminal(jp_serverapp)
        opened.append(t)
        return t

    yield open_terminal
    for t in opened:
        jp_asyncio_loop.run_until_complete(t.close())


async def test_zero_cpu_foreground_job_in_a_terminal_keeps_the_app(
    space, idle, terminal, world, aws
):
    # Given `sleep 900 && python train.py` typed in a terminal (no CPU, no output for 15 min)
    t = terminal()
    t.type(f"sleep 900 && {sys.executable} -c 'print(1)'")
    await t.wait_for_job()
    # When three hours pass (timeout 60 min): before the fix, the app was warned and deleted
    result = await past_timeout(idle)
    # Then the job keeps the app, and says which job
    tr = report(result, "terminals")
    assert tr.active and "runs sleep 900" in tr.reason, tr.reason
    assert only(result).decision == "active"
    clock.travel(20 * 60)
    assert only(await idle.check()).decision == "active"
    assert deletes(aws) == 0 and app_status(aws, world, space) == "InService"


async def test_an_interactive_monitor_in_a_terminal_is_not_work(space, idle, terminal, world, aws):
    # Given `tail -f` (one of the default interactive monitors) left running in a terminal
    t = terminal()
    t.type("tail -f /dev/null")
    await t.wait_for_job()
    result = await past_timeout(idle)
    tr = report(result, "terminals")
    assert not tr.active
    assert "shows tail -f /dev/null (an interactive monitor" in tr.observations[0].reason
    assert only(result).decision == "warning"


@with_config(terminal_monitor_commands=["sleep"])
async def test_admins_choose_the_interactive_monitors(space, idle, terminal):
    t = terminal()
    t.type("sleep 900")
    await t.wait_for_job()
    result = await past_timeout(idle)
    assert not report(result, "terminals").active  # "sleep" declared a monitor here
    t2 = terminal()
    t2.type("tail -f /dev/null")  # not in this list: work
    await t2.wait_for_job()
    assert report(await idle.check(act=False), "terminals").active


@with_config(terminal_monitor_commands=["python -c"])
async def test_a_busy_monitor_is_still_not_work(space, idle, terminal):
    # a monitor refreshing hard (here: declared by the admin, and burning CPU) is not work...
    t = terminal()
    monitor = f"{sys.executable} -c 'while True: pass'"
    t.type(monitor)
    await t.wait_for_job()
    result = await past_timeout(idle, gap=1.0)
    assert not report(result, "terminals").active, report(result, "terminals").reason
    # ... but a busy background job in the same terminal, behind the same monitor, is
    t.proc.write("\x03")  # Ctrl-C: back to the prompt
    await wait_for(lambda: not t.foreground_is_a_job(), timeout=20)
    t.type("sh -c 'while :; do :; done' &")
    t.type(monitor)
    await t.wait_for_job()
    await idle.check(act=False)
    await asyncio.sleep(1.0)
    rep = report(await idle.check(act=False), "terminals")
    assert rep.active and "a job uses" in rep.reason and "sh -c" in rep.reason, rep.reason


async def test_terminal_input_counts_and_output_does_not(
    space, idle, jp_fetch, jp_ws_fetch, tmp_path
):
    # Given a terminal opened in the browser (a websocket), watched by the monitor
    resp = await jp_fetch("api", "terminals", method="POST", body="{}")
    name = json.loads(resp.body)["name"]
    ws = await jp_ws_fetch("terminals", "websocket", name)
    log = tmp_path / "app.log"
    log.write_text("")
    try:
        await idle.check(act=False)
        # When the user types a command (input through the websocket)
        typed_before = time.time()
        ws.write_message(json.dumps(["stdin", f"tail -f {log}\r"]))
        tm = idle.probe.serverapp.web_app.settings["terminal_manager"]
        proc = tm.terminals[name].ptyproc
        await wait_for(lambda: os.tcgetpgrp(proc.fd) != os.getpgid(proc.pid), timeout=20)
        await asyncio.sleep(1.0)
        # and, a while later, the monitor in it prints (output only)
        printed = time.time()
        log.write_text("x\n" * 50)
        await wait_for(lambda: tm.terminals[name].last_activity.timestamp() >= printed, timeout=10)
        result = await idle.check(act=False)
        # Then the terminal's last activity is the input, not the output (before the fix it
        # was jupyter_server's last_activity, which moves with output)
        (obs,) = report(result, "terminals").observations
        assert typed_before - 1 <= obs.last_activity.timestamp() < printed, (
            obs.last_activity,
            printed,
        )
    finally:
        ws.close()
        await jp_fetch("api", "terminals", name, method="DELETE")


# --- editing: saves, renames and uploads count; polling does not -----------------------------------
async def test_saving_a_file_is_activity_and_polling_is_not(space, idle, jp_fetch, world, aws):
    await idle.check()
    # Given a user who saves a file 50 minutes in (timeout 60)
    clock.travel(50 * 60)
    model = {"type": "file", "format": "text", "content": "print(1)\n"}
    await jp_fetch("api", "contents", "train.py", method="PUT", body=json.dumps(model))
    # and a browser that keeps polling (directory listing, kernels, sessions) without any action
    clock.travel(15 * 60)
    for path in (("api", "contents"), ("api", "kernels"), ("api", "sessions")):
        await jp_fetch(*path)
    await jp_fetch("api", "contents", "train.py")  # a read is not an action either
    # Then the app is idle for 15 minutes, counted from the save: before the fix the save was
    # invisible and the app was warned (65 min) and deleted
    d = only(await idle.check())
    assert d.decision == "idle" and 14 * 60 <= d.idle_seconds <= 16 * 60, d.reason
    editing = report(idle.last, "editing")
    assert "last save (train.py)" in editing.reason
    # polling alone never resets it
    clock.travel(40 * 60)
    for path in (("api", "contents"), ("api", "kernels")):
        await jp_fetch(*path)
    assert only(await idle.check()).decision == "warning"
    assert deletes(aws) == 0


async def test_rename_and_upload_are_activity(space, idle, jp_fetch):
    await idle.check()
    clock.travel(55 * 60)
    upload = {"type": "file", "format": "base64", "content": base64.b64encode(b"\0" * 10).decode()}
    await jp_fetch("api", "contents", "data.bin", method="PUT", body=json.dumps(upload))
    clock.travel(5 * 60)
    await jp_fetch(
        "api", "contents", "data.bin", method="PATCH", body=json.dumps({"path": "data2.bin"})
    )
    d = only(await idle.check())
    assert d.decision == "idle" and d.idle_seconds < 60, d.reason
    assert "rename" in report(idle.last, "editing").reason


# --- processes under the server (jupyter-server-proxy apps) ---------------------------------------
async def test_busy_app_under_the_server_counts(space, idle):
    # Given an app the server started that is neither a kernel nor a terminal (what
    # jupyter-server-proxy does for code-server or TensorBoard), computing
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass", "--port=8080"])
    try:
        result = await past_timeout(idle, gap=1.0)
        cpu = report(result, "cpu")
        mine = [o for o in cpu.observations if o.subject == f"server process {proc.pid}"]
        # before the fix, the server's whole tree was excluded from the CPU signal
        assert mine and mine[0].active, cpu.reason
        assert "python -c while True: pass --port=8080" in mine[0].reason
        assert only(result).decision == "active"
    finally:
        proc.kill()
        proc.wait()


# --- command lines never show secrets --------------------------------------------------------------
@pytest.fixture
def cli_env(monkeypatch, jp_serverapp, http_server_client, jp_http_port, jp_base_url):
    monkeypatch.setenv("SMSTUDIO_SERVER_URL", f"http://127.0.0.1:{jp_http_port}{jp_base_url}")
    monkeypatch.setenv("SMSTUDIO_SERVER_TOKEN", jp_serverapp.identity_provider.token)


@with_config(watch_user_processes=True)
async def test_secrets_in_command_lines_never_reach_log_rest_or_cli(
    space, idle, terminal, jp_fetch, cli_env, capsys
):
    # Given a busy job with a password on its command line (outside the server: nohup) and a
    # silent one in a terminal
    out = subprocess.run(
        [
            "sh",
            "-c",
            f"nohup {sys.executable} -c 'while True: pass' --db-password={SECRET} "
            ">/dev/null 2>&1 & echo $!",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(out.stdout.strip())
    t = terminal()
    t.type(f"{sys.executable} -c 'import time; time.sleep(900)' --api-token {SECRET}")
    await t.wait_for_job()
    try:
        # When the monitor decides (its decision log is on stdout) ...
        result = await past_timeout(idle, gap=1.0)
        assert only(result).decision == "active"
        cpu = [o for o in report(result, "cpu").observations if o.subject == f"process {pid}"]
        assert cpu and "--db-password=***" in cpu[0].reason
        assert "--api-token ***" in report(result, "terminals").reason
        log_lines = capsys.readouterr().out
        # ... the REST status and the CLI show what it saw
        rest = (await jp_fetch("smstudio", "idle")).body.decode()
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, cli_main, ["idle", "status"]) == 0
        shown = capsys.readouterr().out
        # Then the secret is nowhere (before the fix: the first 80 characters of the command
        # line, password included, went to CloudWatch and the REST answer)
        for where in (log_lines, rest, shown):
            assert SECRET not in where
        assert "smstudio.idle.decision" in log_lines and "***" in rest and "***" in shown
    finally:
        os.kill(pid, signal.SIGKILL)


# --- bounds on every user value ----------------------------------------------------------------------
async def _put(jp_fetch, body, path=("smstudio", "idle", "settings"), method="PUT"):
    try:
        resp = await jp_fetch(*path, method=method, body=body)
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)
    return resp.code, json.loads(resp.body)


async def test_a_huge_timeout_is_refused_by_default(jp_fetch, idle):
    # the admin set no maximum: before the fix 100000000000000 minutes was accepted and broke
    # the idle API for good (timedelta overflow: 500 after restart, never a shutdown)
    code, err = await _put(jp_fetch, json.dumps({"timeout_minutes": 10**14}))
    assert code == 400 and err["bound"] == "max_timeout_minutes" and err["limit"] == 10080
    for raw in (
        '{"timeout_minutes": 1e14}',
        '{"timeout_minutes": NaN}',
        '{"timeout_minutes": Infinity}',
        '{"timeout_minutes": -5}',
        '{"timeout_minutes": 90.5}',
    ):
        code, err = await _put(jp_fetch, raw)
        assert code == 400 and err["detail"], raw
    assert idle.summary()["timeout_minutes"] == 60
    code, data = await _put(jp_fetch, json.dumps({"timeout_minutes": 10080}))
    assert code == 200 and data["timeout_minutes"] == 10080
    assert (await jp_fetch("smstudio", "idle")).code == 200


async def test_keepalive_nan_and_infinities_are_400(jp_fetch, idle):
    path = ("smstudio", "idle", "keepalive")
    for raw in ('{"minutes": NaN}', '{"minutes": Infinity}', '{"minutes": -Infinity}'):
        code, err = await _put(jp_fetch, raw, path, "POST")
        # before the fix NaN passed both bound checks and failed later (500)
        assert code == 400 and err["detail"], raw
    assert idle.keepalive_until is None
    assert (await jp_fetch("smstudio", "idle")).code == 200


BAD_SETTINGS = {
    "huge": ('{"timeout_minutes": 100000000000000}', "above the admin maximum"),
    "nan": ('{"timeout_minutes": NaN}', "whole number"),
    "not json": ("{not json", "ignored"),
    "a list": ("[1, 2]", "not a JSON object"),
    "too big": ('{"x": "' + "a" * 70000 + '"}', "larger than"),
    "bad bool": ('{"timeout_minutes": 90, "enabled": "no"}', "enabled: not true or false"),
}


@pytest.fixture
def extra_server_config(request, tmp_path):
    """This module's servers: the shared idle section, plus a saved settings file when a test
    is parametrized with ``saved`` (written before the server starts)."""
    from idle_support import BASE

    section = dict(BASE, last_active_file=str(tmp_path / "last-active"))
    section.update(getattr(request, "param", {}) or {})
    saved = section.pop("saved", None)
    if saved is not None:
        path = tmp_path / "idle-settings.json"
        path.write_text(saved)
        section["settings_file"] = str(path)
    return {"IdleShutdown": section}


@pytest.mark.parametrize(
    "extra_server_config, why",
    [({"saved": text}, why) for text, why in BAD_SETTINGS.values()],
    indirect=["extra_server_config"],
    ids=list(BAD_SETTINGS),
)
async def test_a_bad_saved_settings_file_is_ignored_with_the_reason(jp_fetch, idle, why):
    # before the fix: a huge value made every check fail (500 from GET smstudio/idle)
    resp = await jp_fetch("smstudio", "idle", params={"refresh": "1"})
    data = json.loads(resp.body)
    assert resp.code == 200 and data["settings_ignored"] and why in data["settings_ignored"]
    assert data["timeout_minutes"] in (60, 90)
    clock.travel(3 * HOURS)
    assert (await jp_fetch("smstudio", "idle", params={"refresh": "1"})).code == 200


# --- DeleteApp retried after a backoff decides again -------------------------------------------------
@with_config(delete_backoff_seconds=4.0)
async def test_a_retried_delete_decides_again_after_the_backoff(
    space, jp_serverapp, idle, world, aws
):
    km = jp_serverapp.kernel_manager
    kid = await km.start_kernel(kernel_name="python3")
    client = km.get_kernel(kid).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        # one execution, so the server has seen a busy/idle pair whenever it began watching
        # (a kernel's first "idle" can come before the server listens: then it stays "starting")
        client.execute("pass")
        await client.get_shell_msg(timeout=60)
        await wait_for(lambda: km.kernel_model(kid)["execution_state"] == "idle", timeout=30)
        # Given an idle app past its warning, and a DeleteApp that is throttled once
        await idle.check(act=False)  # a CPU baseline: the kernel's start-up is not work
        await asyncio.sleep(1.0)
        clock.travel(3 * HOURS)
        first = only(await idle.check())
        assert first.decision == "warning", first.reason
        clock.travel(10 * 60)
        aws.fail("DeleteApp", code="ThrottlingException", status=400, times=1)
        task = asyncio.ensure_future(idle.check())
        await wait_for(lambda: deletes(aws) >= 1, timeout=30)
        # When the user starts a cell during the backoff
        client.execute("import time; time.sleep(60)")
        await wait_for(lambda: km.kernel_model(kid)["execution_state"] == "busy", timeout=30)
        result = await task
        # Then the retry is not sent (before the fix, the app was deleted under the cell)
        assert deletes(aws) == 1, "DeleteApp retried under a busy kernel"
        assert app_status(aws, world, space) == "InService"
        d = only(result)
        assert d.decision == "active" and "busy" in d.reason
        assert result.actions[d.target.key].outcome == "cancelled"
        assert idle.status()["history"][0]["action"]["outcome"] == "cancelled"
    finally:
        client.stop_channels()
        await km.shutdown_kernel(kid, now=True)


# --- idle spans on the monotonic clock ---------------------------------------------------------------
@with_config(serve_api_idle=True)
async def test_a_wall_clock_step_does_not_shut_down(space, idle, jp_fetch, world, aws):
    await idle.check()
    # Given 15 real minutes of idleness, then the wall clock steps 3 hours ahead (NTP)
    clock.travel(15 * 60)
    clock.step_wall(3 * HOURS)
    # Then the app has been idle 15 minutes, not 3 h 15: before the fix it was warned and,
    # 10 minutes later, deleted
    d = only(await idle.check())
    assert d.decision == "idle" and 14 * 60 <= d.idle_seconds <= 16 * 60, d.reason
    clock.travel(10 * 60)
    assert only(await idle.check()).decision == "idle"
    assert deletes(aws) == 0 and app_status(aws, world, space) == "InService"
    # the times shown are wall times (the stepped clock), the span is unchanged
    data = json.loads((await jp_fetch("smstudio", "idle")).body)
    assert 24 * 60 <= data["idle_seconds"] <= 26 * 60
    shutdown_at = data["apps"][0]["shutdown_at"]
    assert shutdown_at > clock.isoformat_z(clock.utcnow())  # in the (stepped) future, not the past
    # and the idle timeout still ends the app, on the monotonic clock
    clock.travel(26 * 60)
    assert only(await idle.check()).decision == "warning"


async def test_a_file_name_with_escape_sequences_is_shown_escaped(space, idle, jp_fetch):
    name = "evil\x1b[2J.txt"
    model = {"type": "file", "format": "text", "content": "x"}
    await jp_fetch("api", "contents", name, method="PUT", body=json.dumps(model))
    await idle.check(act=False)
    data = json.loads((await jp_fetch("smstudio", "idle")).body)
    editing = next(s for s in data["signals"] if s["name"] == "editing")
    assert "\x1b" not in editing["reason"] and "evil\\x1b[2J.txt" in editing["reason"]
