"""Activity signals on a real Jupyter server: real kernels, real terminals, real processes.

Time travel (``smstudio_ext.clock``) replaces waiting for timeouts; CPU-burning processes run only
for the second or two a measurement needs. Studio (spaces) mode against the emulator, so an idle
app is really deleted and an active one really is not.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest
from idle_support import HOURS, app_status, wait_for

from smstudio_ext import clock


@pytest.fixture
def kernels(jp_serverapp, jp_asyncio_loop):
    """Start real kernels through the server's kernel manager; shut down at the end."""
    km = jp_serverapp.kernel_manager
    started = []

    async def start(name="python3"):
        kid = await km.start_kernel(kernel_name=name)
        started.append(kid)
        return kid

    yield start
    for kid in started:
        if kid in km:
            jp_asyncio_loop.run_until_complete(km.shutdown_kernel(kid, now=True))


async def execute(jp_serverapp, kid, code):
    """Run ``code`` in the kernel (its own client, like a notebook) without waiting for the end."""
    km = jp_serverapp.kernel_manager
    client = km.get_kernel(kid).client()
    client.start_channels()
    await client.wait_for_ready(timeout=30)
    client.execute(code)
    return client


def state(jp_serverapp, kid):
    return jp_serverapp.kernel_manager.kernel_model(kid)["execution_state"]


async def idle_kernel(jp_serverapp, kernels):
    kid = await kernels()
    client = await execute(jp_serverapp, kid, "1 + 1")
    await wait_for(lambda: state(jp_serverapp, kid) == "idle")
    client.stop_channels()
    return kid


async def observe_then_travel(idle, hours=3.0, gap=0.5):
    """A CPU baseline pass, a short real gap, then a check after ``hours`` of travelled time."""
    await idle.check(act=False)
    await asyncio.sleep(gap)
    clock.travel(hours * HOURS)
    return await idle.check()


async def after_warning(idle, result, lead_minutes=10):
    """A due app is first warned (nothing deleted), and shut down once the lead time passed."""
    d = decision(result)
    assert d.decision == "warning", f"{d.decision} before any warning: {d.reason}"
    assert result.actions == {}
    clock.travel(lead_minutes * 60)
    return await idle.check()


def decision(result):
    (d,) = result.decisions
    return d


def report(result, name):
    return next(r for r in result.reports if r.name == name)


# --- kernels ------------------------------------------------------------------------------------
async def test_silent_busy_cell_is_active(space, jp_serverapp, idle, kernels, world, aws):
    # Given a cell that computes silently for a long time (no output: last_activity never moves)
    kid = await kernels()
    await execute(
        jp_serverapp,
        kid,
        "t = __import__('time').time()\nwhile __import__('time').time() - t < 60: pass",
    )
    await wait_for(lambda: state(jp_serverapp, kid) == "busy")
    # When three hours pass (timeout 60 min)
    result = await observe_then_travel(idle)
    # Then the app is active and not deleted
    d = decision(result)
    assert d.decision == "active" and "busy" in d.reason
    assert report(result, "kernels").active
    assert app_status(aws, world, space) == "InService"
    assert idle.status()["state"] == "active"


async def test_sleeping_cell_is_active(space, jp_serverapp, idle, kernels, world, aws):
    kid = await kernels()
    await execute(jp_serverapp, kid, "import time; time.sleep(60)")
    await wait_for(lambda: state(jp_serverapp, kid) == "busy")
    result = await observe_then_travel(idle)
    assert decision(result).decision == "active"
    assert not report(result, "cpu").active  # sleeping burns no CPU: execution_state caught it
    assert app_status(aws, world, space) == "InService"


async def test_background_thread_after_the_cell_finished(
    space, jp_serverapp, idle, kernels, world, aws
):
    # Given a cell that started a CPU-burning thread and returned (the kernel reports idle)
    kid = await kernels()
    code = (
        "import threading, time\n"
        "def burn():\n"
        "    t = time.time()\n"
        "    while time.time() - t < 8: pass\n"
        "threading.Thread(target=burn, daemon=True).start()"
    )
    await execute(jp_serverapp, kid, code)
    await wait_for(lambda: state(jp_serverapp, kid) == "idle")
    # When hours pass by the kernel's last_activity
    result = await observe_then_travel(idle, gap=1.0)
    # Then its process tree's CPU keeps the app alive
    assert report(result, "kernels").active is False
    cpu = report(result, "cpu")
    assert cpu.active and "CPU" in cpu.reason
    assert decision(result).decision == "active"
    assert app_status(aws, world, space) == "InService"


async def test_idle_kernel_is_shut_down_and_the_app_ends_deleted(
    space, jp_serverapp, idle, kernels, world, aws, capsys
):
    kid = await idle_kernel(jp_serverapp, kernels)
    assert state(jp_serverapp, kid) == "idle"
    aws.set_app_delete_delay(0.2)
    result = await after_warning(idle, await observe_then_travel(idle))
    d = decision(result)
    assert d.decision == "shutdown", d.reason
    assert result.actions[d.target.key].outcome == "deleted"
    assert idle.status()["state"] == "shutting_down"
    clock.travel(5)  # the emulator moves Deleting -> Deleted on the (travelled) clock
    await wait_for(lambda: app_status(aws, world, space) == "Deleted", timeout=10)
    # one structured JSON line per decision on stdout
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    shut = [x for x in lines if x.get("decision") == "shutdown"]
    assert shut and shut[-1]["app_name"] == space["app_name"]
    assert shut[-1]["action"]["outcome"] == "deleted"
    # the next check does not delete again
    aws.reset_counts()
    await idle.check()
    assert aws.count("sagemaker", "DeleteApp") == 0


async def test_no_kernels_at_all_is_shut_down(space, idle, world, aws):
    # "apps with no kernels never stopped": nothing running is idle since the server started
    result = await observe_then_travel(idle, gap=0.1)
    assert app_status(aws, world, space) == "InService"
    result = await after_warning(idle, result)
    assert decision(result).decision == "shutdown"
    assert app_status(aws, world, space) in ("Deleting", "Deleted")


@pytest.mark.parametrize("extra_server_config", [{"starting_timeout_minutes": 5}], indirect=True)
async def test_kernel_stuck_in_starting_counts_as_idle(
    space, jp_serverapp, jp_data_dir, idle, kernels, world, aws
):
    # Given a kernel whose process never answers (it stays 'starting')
    spec = jp_data_dir / "kernels" / "stuck"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", "import time; time.sleep(120)", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "stuck", "language": "python"})
    )
    kid = await kernels("stuck")
    assert state(jp_serverapp, kid) == "starting"
    # Within the bound, starting is activity
    first = await idle.check(act=False)
    assert report(first, "kernels").active
    # After the bound it is not, and the app is shut down after the timeout
    result = await observe_then_travel(idle, gap=0.1)
    kr = report(result, "kernels")
    assert not kr.active and any("stuck in 'starting'" in o.reason for o in kr.observations)
    result = await after_warning(idle, result)
    assert decision(result).decision == "shutdown"
    assert app_status(aws, world, space) in ("Deleting", "Deleted")


@pytest.mark.parametrize(
    "extra_server_config, expected",
    [({"count_connections": True}, "active"), ({"count_connections": False}, "shutdown")],
    indirect=["extra_server_config"],
)
async def test_connected_idle_browser_counts_per_config(
    space, jp_serverapp, jp_ws_fetch, idle, kernels, expected
):
    kid = await idle_kernel(jp_serverapp, kernels)
    ws = await jp_ws_fetch("api", "kernels", kid, "channels")
    try:
        await wait_for(lambda: jp_serverapp.kernel_manager.kernel_model(kid)["connections"] == 1)
        result = await observe_then_travel(idle, gap=0.1)
        if expected == "shutdown":
            result = await after_warning(idle, result)
        d = decision(result)
        assert d.decision == expected
        if expected == "active":
            assert "browser connection" in d.reason
    finally:
        ws.close()


# --- terminals ----------------------------------------------------------------------------------
def _terminal(jp_serverapp, command=None):
    tm = jp_serverapp.web_app.settings["terminal_manager"]
    name = tm.create()["name"]
    if command:
        tm.terminals[name].ptyproc.write(command + "\n")
    return tm, name


async def test_cpu_job_in_a_terminal_keeps_the_app(space, jp_serverapp, idle, world, aws):
    from smstudio_ext.idle.processes import ProcessSampler

    # Given a silent CPU job in an open terminal (no output: last_activity does not move)
    job = "import time\nt = time.time()\nwhile time.time() - t < 30: pass"
    tm, name = _terminal(jp_serverapp, f"{sys.executable} -c '{job}' > /dev/null")
    try:
        pid = tm.terminals[name].ptyproc.pid
        sampler = ProcessSampler()
        await wait_for(lambda: len(sampler.sample().tree(pid)) > 1, timeout=15, step=0.2)
        # When hours pass by the terminal's last output
        result = await observe_then_travel(idle, gap=1.0)
        # Then the job keeps the app alive (it is the terminal's foreground job, and busy)
        tr = report(result, "terminals")
        assert tr.active and "runs python -c import time\\nt = time.time()" in tr.reason
        assert decision(result).decision == "active"
        assert app_status(aws, world, space) == "InService"
    finally:
        await tm.terminate(name, force=True)


async def test_idle_open_terminal_is_shut_down(space, jp_serverapp, idle, world, aws):
    tm, name = _terminal(jp_serverapp)
    try:
        # the shell has started once it printed its prompt
        await wait_for(lambda: bool(tm.terminals[name].read_buffer), timeout=30)
        result = await observe_then_travel(idle, gap=0.5)
        tr = report(result, "terminals")
        assert tr.available and not tr.active
        assert len(tr.observations) == 1
        result = await after_warning(idle, result)
        assert decision(result).decision == "shutdown"
        assert app_status(aws, world, space) in ("Deleting", "Deleted")
    finally:
        await tm.terminate(name, force=True)


# --- processes outside the server, keep-alive file -----------------------------------------------
@pytest.mark.parametrize("extra_server_config", [{"watch_user_processes": True}], indirect=True)
async def test_nohup_process_outside_the_server(space, idle):
    # Given `nohup python job &` whose shell is gone (reparented away from the server)
    out = subprocess.run(
        ["sh", "-c", f"nohup {sys.executable} -c 'while True: pass' >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(out.stdout.strip())
    try:
        result = await observe_then_travel(idle, gap=1.0)
        cpu = report(result, "cpu")
        mine = [o for o in cpu.observations if o.subject == f"process {pid}"]
        assert mine and mine[0].active and "while True" in mine[0].reason
        assert decision(result).decision == "active"
    finally:
        os.kill(pid, signal.SIGKILL)


async def test_platform_last_active_file_counts(space, idle, tmp_path):
    # Given the platform's file says someone was active an hour from now (travelled clock)
    await idle.check(act=False)
    clock.travel(2 * HOURS)
    stamp = clock.utcnow() - __import__("datetime").timedelta(minutes=5)
    (tmp_path / "last-active").write_text(stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    result = await idle.check()
    d = decision(result)
    assert d.decision == "idle" and 290 <= d.idle_seconds <= 310
    # a garbage file is ignored, never an error
    (tmp_path / "last-active").write_text("not a time")
    result = await idle.check(act=False)
    assert report(result, "keepalive").available


async def test_gpu_absent_is_not_available_not_an_error(space, idle):
    result = await idle.check(act=False)
    gpu = report(result, "gpu")
    assert gpu.available is False and not gpu.active and gpu.reason


@pytest.fixture
def fake_gpu(tmp_path):
    script = tmp_path / "gpu-util"
    script.write_text("#!/bin/sh\necho 3\necho 87\n")
    script.chmod(0o755)
    return str(script)


async def test_gpu_utilization_is_activity(space, idle, fake_gpu):
    from smstudio_ext.idle.signals import GpuSignal, Snapshot

    sig = GpuSignal(10.0, [fake_gpu])
    rep = sig.evaluate(Snapshot(now=clock.utcnow()))
    assert rep.available and rep.active and "87% utilization" in rep.reason


async def test_keepalive_covers_terminals_too(space, jp_serverapp, idle, world, aws):
    # "terminals ignoring the keep setting": an idle open terminal under a keep-alive stays
    tm, name = _terminal(jp_serverapp)
    try:
        idle.keepalive(240)
        result = await observe_then_travel(idle, gap=0.1)
        assert not report(result, "terminals").active
        assert report(result, "keepalive").active
        assert decision(result).decision == "active"
        assert app_status(aws, world, space) == "InService"
    finally:
        await tm.terminate(name, force=True)
