"""A shutdown is the last resort: a warning always stands for the full lead time first, Studio
Classic without a UserProfileName never targets other users' apps, and a user who comes back
(or a kernel that gets busy) during the final backup keeps the app. A real Jupyter server,
DeleteApp through the emulator."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta

import pytest
from idle_support import HOURS, app_status, deletes, only, wait_for, with_config

from smstudio_ext import clock

IDLE_CONFIG = {"max_timeout_minutes": 240}


# --- 1. a warning always stands for the full lead time before a shutdown --------------------------
@with_config(timeout_minutes=120)
async def test_lowering_the_timeout_warns_before_shutdown(space, jp_fetch, idle, world, aws):
    await idle.check()
    clock.travel(100 * 60)
    assert only(await idle.check()).decision == "idle"  # 20 min left, not warned yet
    # When the user lowers the timeout below the idle time already spent
    await jp_fetch(
        "smstudio", "idle", "settings", method="PUT", body=json.dumps({"timeout_minutes": 30})
    )
    clock.travel(30)
    # Then the next check warns (it does not delete at once)
    d = only(await idle.check())
    assert d.decision == "warning", d.reason
    assert d.shutdown_at >= clock.utcnow() + timedelta(minutes=9)
    assert deletes(aws) == 0 and app_status(aws, world, space) == "InService"
    # and the shutdown comes after the lead time
    clock.travel(10 * 60)
    assert only(await idle.check()).decision == "shutdown"
    assert app_status(aws, world, space) in ("Deleting", "Deleted")


async def test_a_late_check_warns_first(space, idle, world, aws):
    await idle.check()
    clock.travel(45 * 60)
    assert only(await idle.check()).decision == "idle"
    clock.travel(20 * 60)  # the loop was delayed / the instance suspended / the clock stepped
    d = only(await idle.check())
    assert d.decision == "warning", f"{d.decision} without ever warning"
    assert deletes(aws) == 0
    assert idle.status()["state"] == "warning"
    clock.travel(9 * 60)
    assert only(await idle.check()).decision == "warning"  # not before the full lead
    clock.travel(60)
    assert only(await idle.check()).decision == "shutdown"


async def test_activity_after_a_warning_resets_it(space, idle, world, aws):
    clock.travel(3 * HOURS)
    assert only(await idle.check()).decision == "warning"
    idle.keepalive(1)  # "keep running"
    assert only(await idle.check()).decision == "active"
    # idle again past the timeout: a new warning with a new lead, not the old one's shutdown
    clock.travel(2 * HOURS)
    d = only(await idle.check())
    assert d.decision == "warning"
    assert abs((d.warning_at - clock.utcnow()).total_seconds()) < 5  # a new warning: now
    assert deletes(aws) == 0


# --- 2. Classic without UserProfileName never targets other users' apps ---------------------------
@pytest.fixture
def classic_without_profile(aws, metadata_path):
    from smstudio_ext.testing import seed_world

    world = seed_world(aws, kind="classic")
    # bob has a KernelGateway app in the same domain
    image = next(a["image_arn"] for a in world.apps if a["app_type"] == "KernelGateway")
    aws.client("sagemaker").create_app(
        DomainId=world.domain_id,
        UserProfileName="bob",
        AppType="KernelGateway",
        AppName="bob-kg",
        ResourceSpec={"InstanceType": "ml.m5.large", "SageMakerImageArn": image},
    )
    server_app = world.find_app(app_type="JupyterServer", owner=world.primary_profile)
    meta = world.metadata(server_app)
    meta.pop("UserProfileName")
    metadata_path.write_text(json.dumps(meta))
    return world


async def test_classic_without_profile_deletes_nothing(classic_without_profile, idle, aws):
    world = classic_without_profile
    assert idle.context.kind == "classic" and not idle.context.user_profile_name
    for _ in range(2):
        clock.travel(3 * HOURS)
        result = await idle.check()
        assert result.decisions == []
    assert deletes(aws) == 0
    status = idle.status()
    assert status["state"] == "error" and status["last_error"]["error"] == "no_user_profile"
    sm = aws.client("sagemaker")
    for app in sm.list_apps(DomainIdEquals=world.domain_id)["Apps"]:
        assert app["Status"] == "InService", app


# --- 3. the user comes back during the final backup -----------------------------------------------
class _SlowBackup:
    """Stands in for the backup engine's final_backup (not an AWS fake): blocks until released."""

    def __init__(self):
        self.started = threading.Event()
        self.release = threading.Event()

    def final_backup(self, timeout_seconds):
        self.started.set()
        self.release.wait(10)


async def test_keepalive_during_the_final_backup_cancels_the_delete(
    space, jp_serverapp, jp_fetch, idle, world, aws
):
    backup = _SlowBackup()
    jp_serverapp.web_app.settings["smstudio"].backup = backup
    clock.travel(3 * HOURS)
    assert only(await idle.check()).decision == "warning"
    clock.travel(10 * 60)
    task = asyncio.ensure_future(idle.check())
    try:
        await wait_for(backup.started.is_set, timeout=10)
        # the user clicks "keep running" while the backup runs: answered at once
        resp = await asyncio.wait_for(
            jp_fetch(
                "smstudio", "idle", "keepalive", method="POST", body=json.dumps({"minutes": 60})
            ),
            timeout=5,
        )
        assert json.loads(resp.body)["state"] == "active"
    finally:
        backup.release.set()
    result = await task
    d = only(result)
    assert d.decision == "active" and "kept alive" in d.reason
    assert result.actions == {}
    assert deletes(aws) == 0 and app_status(aws, world, space) == "InService"


async def test_busy_kernel_started_during_the_backup_cancels_the_delete(
    space, jp_serverapp, idle, world, aws
):
    backup = _SlowBackup()
    jp_serverapp.web_app.settings["smstudio"].backup = backup
    km = jp_serverapp.kernel_manager
    clock.travel(3 * HOURS)
    assert only(await idle.check()).decision == "warning"
    clock.travel(10 * 60)
    task = asyncio.ensure_future(idle.check())
    kid = None
    try:
        await wait_for(backup.started.is_set, timeout=10)
        kid = await km.start_kernel(kernel_name="python3")
        client = km.get_kernel(kid).client()
        client.start_channels()
        await client.wait_for_ready(timeout=30)
        client.execute("import time; time.sleep(30)")
        await wait_for(lambda: km.kernel_model(kid)["execution_state"] == "busy")
    finally:
        backup.release.set()
    try:
        result = await task
        assert only(result).decision == "active" and "busy" in only(result).reason
        assert deletes(aws) == 0 and app_status(aws, world, space) == "InService"
    finally:
        if kid:
            await km.shutdown_kernel(kid, now=True)
