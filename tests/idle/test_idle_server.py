"""The idle doors and the whole flow on a real server: REST, CLI, warning, grace, keep-alive,
dry-run, DeleteApp failures, final backup, /api/idle, and Studio Classic KernelGateway apps."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from datetime import timedelta

import pytest
from idle_support import HOURS, app_status, only, with_config
from tornado.httpclient import HTTPClientError

from smstudio_ext import clock
from smstudio_ext.cli import main as cli_main

IDLE_CONFIG = {"max_timeout_minutes": 240, "max_keepalive_minutes": 180}


async def get_json(jp_fetch, *parts, **kw):
    resp = await jp_fetch(*parts, **kw)
    return json.loads(resp.body)


async def past_warning(idle, aws, hours=3, lead_minutes=10):
    """Hours of idleness: the first check only warns (no DeleteApp), then the lead time passes."""
    clock.travel(hours * HOURS)
    before = aws.count("sagemaker", "DeleteApp")
    result = await idle.check()
    due = [d for d in result.decisions if d.decision != "active"]
    assert due and all(d.decision == "warning" for d in due), [d.reason for d in due]
    assert result.actions == {} and aws.count("sagemaker", "DeleteApp") == before
    clock.travel(lead_minutes * 60)
    return result


async def expect_400(jp_fetch, *parts, **kw):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, **kw)
    assert info.value.code == 400
    return json.loads(info.value.response.body)


# --- GET smstudio/idle --------------------------------------------------------------------------
async def test_status_json_shape_in_local_mode(jp_fetch, idle):
    data = await get_json(jp_fetch, "smstudio", "idle")
    for key in (
        "enabled",
        "dry_run",
        "timeout_minutes",
        "bounds",
        "idle_seconds",
        "state",
        "shutdown_at",
        "warning_at",
        "keepalive_until",
        "signals",
        "apps",
        "history",
        "last_error",
    ):
        assert key in data, key
    assert data["enabled"] is True and data["timeout_minutes"] == 60
    assert data["bounds"] == {"min": 15, "max": 240}
    assert data["state"] in ("active", "idle")
    names = [s["name"] for s in data["signals"]]
    assert names == ["kernels", "cpu", "terminals", "gpu", "keepalive", "editing"]
    for s in data["signals"]:
        assert set(s) == {"name", "available", "active", "reason", "last_activity", "error"}
        assert s["error"] is None
    (app,) = data["apps"]
    assert app["app_name"] is None and app["decision"] in ("idle", "no_action", "active")
    assert idle.summary() == {
        "enabled": True,
        "timeout_minutes": 60,
        "dry_run": False,
        "max_timeout_minutes": 240,
    }


async def test_our_polling_is_not_user_activity(jp_fetch, jp_serverapp, idle):
    before = jp_serverapp.web_app.settings.get("api_last_activity")
    for _ in range(3):
        await jp_fetch("smstudio", "idle", params={"refresh": "1"})
    assert jp_serverapp.web_app.settings.get("api_last_activity") == before
    clock.travel(2 * HOURS)
    data = await get_json(jp_fetch, "smstudio", "idle", params={"refresh": "1"})
    assert data["idle_seconds"] >= 2 * HOURS - 5  # polling did not reset the idle time


# --- settings -----------------------------------------------------------------------------------
async def test_settings_within_bounds_are_applied_and_persisted(jp_fetch, jp_root_dir, idle):
    data = await get_json(
        jp_fetch,
        "smstudio",
        "idle",
        "settings",
        method="PUT",
        body=json.dumps({"timeout_minutes": 90}),
    )
    assert data["timeout_minutes"] == 90 and idle.summary()["timeout_minutes"] == 90
    saved = json.loads((jp_root_dir / ".smstudio" / "idle-settings.json").read_text())
    assert saved["timeout_minutes"] == 90


async def test_settings_out_of_bounds_and_bad_input_are_refused(jp_fetch, idle):
    err = await expect_400(
        jp_fetch,
        "smstudio",
        "idle",
        "settings",
        method="PUT",
        body=json.dumps({"timeout_minutes": 5}),
    )
    assert err["bound"] == "min_timeout_minutes" and "15" in err["detail"]
    err = await expect_400(
        jp_fetch,
        "smstudio",
        "idle",
        "settings",
        method="PUT",
        body=json.dumps({"timeout_minutes": 500}),
    )
    assert err["bound"] == "max_timeout_minutes"
    err = await expect_400(
        jp_fetch, "smstudio", "idle", "settings", method="PUT", body=json.dumps({"timeout": 60})
    )
    assert "unknown setting" in err["detail"]
    await expect_400(jp_fetch, "smstudio", "idle", "settings", method="PUT", body="{not json")
    err = await expect_400(
        jp_fetch, "smstudio", "idle", "settings", method="PUT", body=json.dumps({"enabled": False})
    )
    assert "allow_user_disable" in err["detail"]
    # nothing was changed by the refused requests (all or nothing)
    err = await expect_400(
        jp_fetch,
        "smstudio",
        "idle",
        "settings",
        method="PUT",
        body=json.dumps({"timeout_minutes": 30, "dry_run": True}),
    )
    assert idle.summary()["timeout_minutes"] == 60 and idle.summary()["dry_run"] is False


@with_config(allow_user_disable=True)
async def test_user_may_disable_when_the_admin_allows(jp_fetch, idle):
    data = await get_json(
        jp_fetch, "smstudio", "idle", "settings", method="PUT", body=json.dumps({"enabled": False})
    )
    assert data["enabled"] is False and data["state"] == "disabled"


# --- warning, grace, keep-alive, dry-run --------------------------------------------------------
async def test_warning_state_before_shutdown(space, jp_fetch, idle, world, aws):
    await idle.check()
    clock.travel(52 * 60)
    await idle.check()
    data = await get_json(jp_fetch, "smstudio", "idle")
    assert data["state"] == "warning"
    (app,) = data["apps"]
    assert app["decision"] == "warning" and "shutdown at" in app["reason"]
    assert data["warning_at"] < clock.isoformat_z(clock.utcnow()) < data["shutdown_at"]
    assert app_status(aws, world, space) == "InService"
    assert [h["decision"] for h in data["history"]][:2] == ["warning", "idle"]


@with_config(timeout_minutes=15, grace_minutes=60, warning_minutes=5)
async def test_grace_period_protects_a_fresh_app(space, idle, world, aws):
    clock.travel(20 * 60)
    result = await idle.check()
    assert only(result).decision == "grace"
    assert app_status(aws, world, space) == "InService"
    # the grace ends at 60 min: the first check after it warns (never straight to shutdown)
    clock.travel(41 * 60)
    result = await idle.check()
    assert only(result).decision == "warning"
    assert app_status(aws, world, space) == "InService"
    clock.travel(5 * 60)
    result = await idle.check()
    assert only(result).decision == "shutdown"
    assert app_status(aws, world, space) in ("Deleting", "Deleted")


async def test_keepalive_postpones_then_expires(space, jp_fetch, idle, world, aws):
    data = await get_json(
        jp_fetch, "smstudio", "idle", "keepalive", method="POST", body=json.dumps({"minutes": 120})
    )
    assert data["keepalive_until"] and data["state"] == "active"
    clock.travel(110 * 60)
    result = await idle.check()
    assert only(result).decision == "active" and "kept alive" in only(result).reason
    # idle time counts from the end of the keep-alive
    clock.travel(60 * 60)  # 50 min after it ended
    assert only(await idle.check()).decision == "warning"
    clock.travel(11 * 60)
    assert only(await idle.check()).decision == "shutdown"
    assert app_status(aws, world, space) in ("Deleting", "Deleted")


async def test_keepalive_bounds_and_bad_input(jp_fetch, idle):
    err = await expect_400(
        jp_fetch, "smstudio", "idle", "keepalive", method="POST", body=json.dumps({"minutes": 999})
    )
    assert err["bound"] == "max_keepalive_minutes"
    await expect_400(jp_fetch, "smstudio", "idle", "keepalive", method="POST", body=json.dumps({}))
    await expect_400(
        jp_fetch, "smstudio", "idle", "keepalive", method="POST", body=json.dumps({"minutes": "2h"})
    )
    assert idle.keepalive_until is None


@with_config(dry_run=True)
async def test_dry_run_deletes_nothing(space, jp_fetch, idle, world, aws):
    await past_warning(idle, aws)
    aws.reset_counts()
    result = await idle.check()
    d = only(result)
    assert d.decision == "dry_run" and space["app_name"] in d.reason
    assert aws.count("sagemaker", "DeleteApp") == 0
    assert app_status(aws, world, space) == "InService"
    data = await get_json(jp_fetch, "smstudio", "idle")
    assert data["dry_run"] is True and data["history"][0]["decision"] == "dry_run"


# --- DeleteApp failures, final backup -----------------------------------------------------------
async def test_delete_denied_is_a_visible_state_logged_once(
    space, jp_fetch, idle, world, aws, caplog
):
    aws.deny("DeleteApp")
    await past_warning(idle, aws)
    with caplog.at_level(logging.INFO, logger="smstudio_ext"):
        await idle.check()
        clock.travel(60)
        await idle.check()
    data = await get_json(jp_fetch, "smstudio", "idle")
    assert data["state"] == "error"
    assert data["last_error"]["action"] == "sagemaker:DeleteApp"
    assert caplog.text.count("cannot shut down") == 1
    assert aws.count("sagemaker", "DeleteApp") == 1
    assert app_status(aws, world, space) == "InService"


async def test_delete_throttled_then_done(space, idle, world, aws):
    aws.fail("DeleteApp", code="ThrottlingException", status=400, times=2)
    await past_warning(idle, aws)
    result = await idle.check()
    assert result.actions[only(result).target.key].outcome == "deleted"
    assert app_status(aws, world, space) in ("Deleting", "Deleted")


@with_config(delete_max_attempts=1)
async def test_delete_failing_is_visible_then_recovers(space, jp_fetch, idle, world, aws):
    aws.fail("DeleteApp", code="InternalFailure", status=500)
    await past_warning(idle, aws)
    result = await idle.check()
    assert result.actions[only(result).target.key].outcome == "failed"
    data = await get_json(jp_fetch, "smstudio", "idle")
    assert data["state"] == "error" and data["last_error"]["action"] == "sagemaker:DeleteApp"
    assert data["history"][0]["action"]["outcome"] == "failed"
    # the next check tries again (no silent failure for days)
    aws.clear_faults()
    clock.travel(60)
    result = await idle.check()
    assert result.actions[only(result).target.key].outcome == "deleted"
    assert idle.status()["state"] == "shutting_down" and idle.status()["last_error"] is None


async def test_app_already_gone_is_not_an_error(space, idle, world, aws):
    await idle.check(act=False)  # DescribeApp of this app while it exists
    aws.client("sagemaker").delete_app(**world.app_key(space))
    aws.set_app_delete_delay(0)
    await past_warning(idle, aws)
    result = await idle.check()
    assert result.actions[only(result).target.key].outcome == "gone"
    assert idle.status()["last_error"] is None


class _Backup:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def final_backup(self, timeout_seconds):
        self.calls.append(timeout_seconds)
        if self.fail:
            raise RuntimeError("bucket unreachable")


@pytest.mark.parametrize("fail", [False, True])
async def test_final_backup_before_shutdown_never_blocks_it(
    space, jp_serverapp, idle, world, aws, fail
):
    backup = _Backup(fail)
    jp_serverapp.web_app.settings["smstudio"].backup = backup
    await past_warning(idle, aws)
    result = await idle.check()
    assert backup.calls == [300.0]
    assert result.actions[only(result).target.key].outcome == "deleted"
    assert app_status(aws, world, space) in ("Deleting", "Deleted")


# --- GET /api/idle (opt-in) ---------------------------------------------------------------------
async def test_api_idle_is_not_served_by_default(jp_fetch, idle):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "idle")
    assert info.value.code == 404


@with_config(serve_api_idle=True)
async def test_api_idle_format_and_never_backwards(jp_fetch, idle):
    fmt = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}z$")
    first = (await get_json(jp_fetch, "api", "idle"))["lastActiveTimestamp"]
    assert fmt.match(first)
    # activity (a keep-alive) three hours later moves it forward
    clock.travel(3 * HOURS)
    idle.keepalive(30)
    await idle.check()
    second = (await get_json(jp_fetch, "api", "idle"))["lastActiveTimestamp"]
    assert fmt.match(second) and second > first
    # the clock going back (reset) never moves it backwards
    clock.reset()
    await idle.check()
    third = (await get_json(jp_fetch, "api", "idle"))["lastActiveTimestamp"]
    assert third >= second


@with_config(serve_api_idle=True)
async def test_api_idle_requires_auth(jp_fetch, idle):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "idle", headers={"Authorization": ""})
    assert info.value.code in (401, 403)


# --- the loop -----------------------------------------------------------------------------------
@with_config(check_interval_seconds=0.05, timeout_minutes=15)
async def test_background_loop_shuts_down_within_one_interval(
    space, jp_serverapp, idle, world, aws
):
    task = asyncio.ensure_future(idle.run())
    try:
        clock.travel(16 * 60)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and idle.status()["state"] != "warning":
            await asyncio.sleep(0.05)
        assert idle.status()["state"] == "warning"
        assert app_status(aws, world, space) == "InService"
        clock.travel(10 * 60)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and app_status(aws, world, space) == "InService":
            await asyncio.sleep(0.05)
        assert app_status(aws, world, space) in ("Deleting", "Deleted")
    finally:
        task.cancel()


# --- Studio Classic: KernelGateway apps ---------------------------------------------------------
@pytest.fixture
def classic(aws, metadata_path, jp_data_dir):
    from smstudio_ext.testing import seed_world

    world = seed_world(aws, kind="classic")
    server_app = world.find_app(app_type="JupyterServer", owner=world.primary_profile)
    world.write_metadata(metadata_path, server_app)
    kgs = {a["instance_type"]: a for a in world.apps if a["app_type"] == "KernelGateway"}
    # a kernelspec that says which KernelGateway app it runs in (as a custom image's would)
    spec = jp_data_dir / "kernels" / "kg-t3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    meta = {
        "sagemaker": {
            "image_arn": kgs["ml.t3.medium"]["image_arn"],
            "instance_type": "ml.t3.medium",
        }
    }
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "kg", "language": "python", "metadata": meta})
    )
    return world, server_app, kgs


def kg_status(aws, world, app):
    return app_status(aws, world, app)


async def _busy(jp_serverapp, name):
    km = jp_serverapp.kernel_manager
    kid = await km.start_kernel(kernel_name=name)
    client = km.get_kernel(kid).client()
    client.start_channels()
    await client.wait_for_ready(timeout=30)
    client.execute("import time; time.sleep(60)")
    deadline = time.monotonic() + 20
    while km.kernel_model(kid)["execution_state"] != "busy":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    return kid


async def test_classic_deletes_only_idle_kernelgateway_apps(classic, jp_serverapp, idle, aws):
    world, server_app, kgs = classic
    # Given a busy kernel in the t3 KernelGateway app and nothing in the m5 one
    kid = await _busy(jp_serverapp, "kg-t3")
    try:
        await past_warning(idle, aws)
        result = await idle.check()
        by_name = {d.target.app_name: d for d in result.decisions}
        # Then the t3 app is kept, the m5 app is deleted, the JupyterServer app is untouched
        assert set(by_name) == {kgs["ml.t3.medium"]["app_name"], kgs["ml.m5.large"]["app_name"]}
        assert by_name[kgs["ml.t3.medium"]["app_name"]].decision == "active"
        assert by_name[kgs["ml.m5.large"]["app_name"]].decision == "shutdown"
        assert kg_status(aws, world, kgs["ml.t3.medium"]) == "InService"
        assert kg_status(aws, world, kgs["ml.m5.large"]) in ("Deleting", "Deleted")
        assert kg_status(aws, world, server_app) == "InService"
        data = idle.status()
        assert {a["app_type"] for a in data["apps"]} == {"KernelGateway"}
    finally:
        await jp_serverapp.kernel_manager.shutdown_kernel(kid, now=True)


async def test_classic_unmapped_busy_kernel_keeps_every_app(classic, jp_serverapp, idle, aws):
    world, server_app, kgs = classic
    kid = await _busy(jp_serverapp, "python3")  # no app, image or instance type to go on
    try:
        clock.travel(3 * HOURS)
        result = await idle.check()
        assert {d.decision for d in result.decisions} == {"active"}
        assert all("not mapped" in d.reason for d in result.decisions)
        for app in kgs.values():
            assert kg_status(aws, world, app) == "InService"
    finally:
        await jp_serverapp.kernel_manager.shutdown_kernel(kid, now=True)


async def test_classic_list_apps_denied_is_an_error_state(classic, idle, aws):
    aws.deny("ListApps")
    clock.travel(3 * HOURS)
    result = await idle.check()
    assert result.decisions == []
    assert idle.status()["state"] == "error"
    assert idle.status()["last_error"]["action"] == "sagemaker:ListApps"


# --- CLI ----------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(monkeypatch, jp_serverapp, http_server_client, jp_http_port, jp_base_url):
    monkeypatch.setenv("SMSTUDIO_SERVER_URL", f"http://127.0.0.1:{jp_http_port}{jp_base_url}")
    monkeypatch.setenv("SMSTUDIO_SERVER_TOKEN", jp_serverapp.identity_provider.token)


async def run_cli(*argv):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, cli_main, list(argv))


async def test_cli_status_and_keepalive(cli_env, idle, capsys):
    assert await run_cli("idle", "keepalive", "2h") == 0
    assert "kept alive until" in capsys.readouterr().out
    assert idle.keepalive_until - clock.utcnow() > timedelta(minutes=119)
    assert await run_cli("idle", "status", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["keepalive_until"] and data["state"] == "active"
    assert await run_cli("idle", "status") == 0
    out = capsys.readouterr().out
    assert "idle shutdown: active" in out and "keepalive" in out
    assert await run_cli("idle", "keepalive", "0") == 0
    assert "cancelled" in capsys.readouterr().out and idle.keepalive_until is None


async def test_cli_refuses_bad_durations_and_bounds(cli_env, idle, capsys):
    assert await run_cli("idle", "keepalive", "2x") == 2
    assert "invalid duration" in capsys.readouterr().err
    assert await run_cli("idle", "keepalive", "5h") == 2  # above max_keepalive_minutes (180)
    assert "max" in capsys.readouterr().err


# --- the documented JSON (rest-api.yaml) is what the server returns --------------------------------
async def test_status_matches_the_openapi_document(space, jp_fetch, idle):
    import os

    import yaml

    import smstudio_ext

    path = os.path.join(os.path.dirname(smstudio_ext.__file__), "rest-api.yaml")
    with open(path) as fh:
        doc = yaml.safe_load(fh)
    schema = doc["paths"]["/smstudio/idle"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    props = schema["properties"]
    clock.travel(55 * 60)
    await idle.check()  # a warning, so history and apps are filled
    data = await get_json(jp_fetch, "smstudio", "idle")
    assert set(data) == set(props)
    assert set(schema["required"]) <= set(data)
    assert data["state"] in props["state"]["enum"]
    for s in data["signals"]:
        assert set(s) == set(props["signals"]["items"]["properties"])
        assert s["name"] in props["signals"]["items"]["properties"]["name"]["enum"]
    for a in data["apps"]:
        assert set(a) == set(props["apps"]["items"]["properties"])
        assert a["decision"] in props["apps"]["items"]["properties"]["decision"]["enum"]
    assert data["history"]
    for h in data["history"]:
        assert set(h) == set(props["history"]["items"]["properties"])
