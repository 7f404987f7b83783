"""Issue 14 §1: feed Studio's own idle shutdown, say who shuts the app down (the mode), one
source of truth for the platform file and GET /api/idle. A real server in the seeded space
(the emulator's "compliant" domain enables the platform's IdleSettings, 60 min)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from datetime import datetime, timedelta, timezone

import pytest
from idle_support import HOURS, only, wait_for, with_config
from jupyter_activity_monitor_extension.idle_status_detector import (
    LocalFileActiveTimestampChecker,
)

from smstudio_ext import clock
from smstudio_ext.cli import main as cli_main
from smstudio_ext.context import StudioContext
from smstudio_ext.idle.mode import idle_mode, read_platform_idle
from smstudio_ext.idle.signals import parse_timestamp
from smstudio_ext.studio_settings import PlatformIdle

UPPER_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
OWN = {"enabled": True, "dry_run": False, "timeout_minutes": 60}


def report(result, name):
    return next(r for r in result.reports if r.name == name)


@pytest.fixture
def platform_file(tmp_path):
    return tmp_path / "last-active"


def platform_view(path):
    """What SMD's activity monitor reads from the file (its own reader, from its wheel)."""
    return LocalFileActiveTimestampChecker().read_last_active_timestamp(str(path))


@pytest.fixture
def busy_kernel(jp_serverapp, jp_asyncio_loop):
    """A kernel running a silent cell (what the platform's monitor cannot see)."""
    km = jp_serverapp.kernel_manager
    started = []

    async def start(code="import time; time.sleep(600)"):
        kid = await km.start_kernel(kernel_name="python3")
        started.append(kid)
        client = km.get_kernel(kid).client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        client.execute(code)
        await wait_for(lambda: km.kernel_model(kid)["execution_state"] == "busy", timeout=30)
        client.stop_channels()
        return kid

    yield start
    for kid in started:
        if kid in km:
            jp_asyncio_loop.run_until_complete(km.shutdown_kernel(kid, now=True))


# --- the mode (pure) --------------------------------------------------------------------------------
def platform(state, timeout=None):
    reasons = {
        "enabled": "JupyterLabAppSettings.AppLifecycleManagement.IdleSettings is ENABLED",
        "disabled": "JupyterLabAppSettings.AppLifecycleManagement.IdleSettings is DISABLED",
        "not-set": "no JupyterLabAppSettings.AppLifecycleManagement.IdleSettings"
        ".LifecycleManagement at any level",
        "unknown": "botocore 1.34.131 is too old to read AppLifecycleManagement",
        "not-applicable": "Studio Classic apps have no platform idle shutdown",
    }
    idle = {"IdleTimeoutInMinutes": timeout} if timeout else {}
    return PlatformIdle(
        state, reasons[state], "JupyterLab", "JupyterLabAppSettings", timeout, idle_settings=idle
    )


ON = platform("enabled", 120)


def test_mode_matrix():
    assert idle_mode(OWN, platform("not-set")).mode == "own"
    assert idle_mode(OWN, platform("disabled")).mode == "own"
    assert idle_mode({**OWN, "enabled": False}, ON).mode == "platform"
    assert idle_mode({**OWN, "dry_run": True}, ON).mode == "platform"
    assert idle_mode(None, ON).mode == "platform"
    assert idle_mode(None, platform("disabled")).mode == "none"
    assert idle_mode(None, platform("disabled")).warning == (
        "nothing shuts this app down when it is idle"
    )
    unknown = idle_mode(None, None, platform_error="AccessDenied")
    assert unknown.mode == "unknown" and unknown.platform_deletes is None
    assert "AccessDenied" in unknown.reasons[1]
    old_botocore = idle_mode(None, platform("unknown"))
    assert old_botocore.mode == "unknown" and "too old" in old_botocore.reasons[1]
    assert idle_mode(OWN, None, platform_error="denied").mode == "own"
    classic = idle_mode(OWN, platform("not-applicable"))
    assert classic.mode == "own" and classic.platform_deletes is False
    both = idle_mode(OWN, ON)
    assert both.mode == "both" and both.effective_timeout_minutes == 60
    assert "the shorter timeout wins (smstudio's, 60 min)" in both.warning
    shorter = idle_mode({**OWN, "timeout_minutes": 240}, ON)
    assert "(the platform's, 120 min)" in shorter.warning
    assert shorter.to_dict()["platform"]["IdleSettings"] == {"IdleTimeoutInMinutes": 120}
    no_timeout = idle_mode(None, platform("enabled"))
    assert no_timeout.mode == "platform" and "10080" in no_timeout.reasons[1]


def test_reading_the_platform_idle_through_aws(aws, world):
    from smstudio_ext.aws import AwsClients

    clients = AwsClients(aws.region, endpoint_urls={"sagemaker": aws.endpoint_url}, max_attempts=1)
    sm = aws.client("sagemaker")
    sm.update_user_profile(
        DomainId=world.domain_id,
        UserProfileName="alice",
        UserSettings={
            "JupyterLabAppSettings": {
                "AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": 180}}
            }
        },
    )

    def ctx(space):
        return StudioContext(
            kind="spaces", app_type="JupyterLab", domain_id=world.domain_id, space_name=space
        )

    # alice-space is private: the domain's defaults under its owner's profile (180 min, ENABLED
    # from the domain); team-space is shared: the domain's DefaultSpaceSettings only (the
    # compliant seeded domain's: 60 min), never the user settings (studio_settings,
    # docs/studio-facts.md)
    private = read_platform_idle(clients, ctx("alice-space"))
    assert private.state == "enabled" and private.timeout_minutes == 180
    shared = read_platform_idle(clients, ctx("team-space"))
    assert shared.state == "enabled" and shared.timeout_minutes == 60
    # without idle settings in DefaultSpaceSettings, a shared space has none
    sm.update_domain(DomainId=world.domain_id, DefaultSpaceSettings={"JupyterLabAppSettings": {}})
    shared = read_platform_idle(clients, ctx("team-space"))
    assert shared.state == "not-set" and not shared.enabled
    assert read_platform_idle(clients, StudioContext(kind="classic")) is None


# --- the mode on a server -----------------------------------------------------------------------------
@with_config(timeout_minutes=90)
async def test_status_says_both_are_on_and_who_wins(space, idle, jp_fetch, world, aws):
    await idle.check(act=False)
    data = json.loads((await jp_fetch("smstudio", "idle")).body)
    mode = data["mode"]
    assert mode["mode"] == "both" and mode["platform_timeout_minutes"] == 60
    assert "the shorter timeout wins (the platform's, 60 min)" in mode["warning"]
    assert mode["platform"]["state"] == "enabled"
    assert mode["platform"]["IdleSettings"]["LifecycleManagement"] == "ENABLED"
    assert data["platform_file"]["feeding"] is True


@with_config(platform_settings_minutes=0.01)
async def test_mode_when_the_platform_settings_are_unknown_or_off(space, idle, world, aws):
    aws.deny("DescribeSpace")
    await idle.check(act=False)
    mode = idle.status()["mode"]
    assert mode["mode"] == "own" and mode["platform_deletes"] is None
    assert any("unknown" in r and "DescribeSpace" in r for r in mode["reasons"]), mode
    # the admin turns the platform's idle shutdown off, and the denial is lifted
    aws.clear_faults()
    aws.client("sagemaker").update_domain(
        DomainId=world.domain_id,
        DefaultUserSettings={
            "JupyterLabAppSettings": {
                "AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "DISABLED"}}
            }
        },
    )
    clock.travel(60)
    await idle.check(act=False)
    assert idle.status()["mode"]["mode"] == "own"
    assert idle.status()["mode"]["platform_deletes"] is False


async def test_cli_status_shows_the_mode(
    space, idle, jp_serverapp, http_server_client, jp_http_port, jp_base_url, monkeypatch, capsys
):
    monkeypatch.setenv("SMSTUDIO_SERVER_URL", f"http://127.0.0.1:{jp_http_port}{jp_base_url}")
    monkeypatch.setenv("SMSTUDIO_SERVER_TOKEN", jp_serverapp.identity_provider.token)
    await idle.check(act=False)
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, cli_main, ["idle", "status"]) == 0
    out = capsys.readouterr().out
    assert "mode: both (smstudio and the platform)" in out
    assert "the shorter timeout wins" in out


# --- feeding the platform's file ---------------------------------------------------------------------
@with_config(platform_feed_seconds=600)
async def test_a_silent_busy_cell_is_fed_to_the_platform(
    space, idle, busy_kernel, platform_file, world, aws
):
    # Given nothing written yet (no activity: nothing to tell)
    await idle.check()
    assert not platform_file.exists()
    # When a silent cell runs (the platform's monitor sees no output, no last_activity)
    await busy_kernel()
    clock.travel(2 * HOURS)
    await idle.check()
    # Then the file holds now, in the platform's exact format, and the platform's own reader
    # parses it as recent
    text = platform_file.read_text()
    assert UPPER_Z.match(text), text
    seen = platform_view(platform_file).replace(tzinfo=timezone.utc)
    assert abs((seen - clock.utcnow()).total_seconds()) < 60
    assert oct(platform_file.stat().st_mode & 0o777) == "0o644"
    # written no more often than needed: the next checks within platform_feed_seconds do not
    clock.travel(5 * 60)
    await idle.check()
    assert platform_file.read_text() == text
    clock.travel(6 * 60)
    await idle.check()
    assert platform_file.read_text() > text
    assert idle.status()["platform_file"]["written_at"]


async def test_our_own_writes_are_never_read_back_as_activity(
    space, jp_serverapp, idle, busy_kernel, platform_file, world, aws
):
    kid = await busy_kernel()
    clock.travel(30 * 60)
    await idle.check()
    written = platform_file.read_text()
    # the cell ends: from now on, only the file (our write) says "active"
    await jp_serverapp.kernel_manager.shutdown_kernel(kid, now=True)
    clock.travel(55 * 60)
    result = await idle.check()
    assert platform_file.read_text() == written  # idle: nothing new to tell
    keep = report(result, "keepalive")
    assert keep.observations == [], "our own write was read back as platform activity"
    d = only(result)
    assert d.decision == "warning" and d.idle_seconds >= 54 * 60, d.reason


async def test_someone_elses_newer_time_is_kept(space, idle, busy_kernel, platform_file):
    theirs = (clock.utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    platform_file.write_text(theirs)  # e.g. Studio's editor, a clock ahead
    await busy_kernel()
    await idle.check()
    assert platform_file.read_text() == theirs  # never moved backwards


async def test_a_signal_in_doubt_is_fed_too(space, idle, platform_file, world, aws):
    def unreadable():
        raise PermissionError("hidepid=2")

    idle.sampler.sample = unreadable
    clock.travel(2 * HOURS)
    d = only(await idle.check())
    assert d.decision == "active" and "unknown" in d.reason
    assert UPPER_Z.match(platform_file.read_text())  # any doubt keeps the app, for both


async def test_a_fifo_or_a_directory_at_the_path_never_blocks_a_check(
    space, idle, busy_kernel, platform_file, caplog
):
    os.mkfifo(platform_file)
    await busy_kernel()
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        result = await asyncio.wait_for(idle.check(), timeout=30)
    assert only(result).decision == "active"
    assert "not a regular file" in caplog.text
    os.unlink(platform_file)
    platform_file.mkdir()
    clock.travel(HOURS)
    result = await asyncio.wait_for(idle.check(), timeout=30)
    assert only(result).decision == "active"
    assert "cannot write" in idle.status()["platform_file"]["error"]


@with_config(feed_platform=False)
async def test_feeding_can_be_turned_off(space, idle, busy_kernel, platform_file):
    await busy_kernel()
    await idle.check()
    assert not platform_file.exists()
    assert idle.status()["platform_file"]["feeding"] is False


async def test_not_fed_outside_studio_spaces(idle, busy_kernel, platform_file):
    await busy_kernel()
    await idle.check()
    assert not platform_file.exists() and idle.status()["mode"]["mode"] == "own"


# --- /api/idle: the same source of truth -------------------------------------------------------------
@with_config(serve_api_idle=True, platform_feed_seconds=1)
async def test_api_idle_and_the_file_say_the_same(
    space, idle, busy_kernel, jp_fetch, platform_file
):
    await busy_kernel()
    clock.travel(HOURS)
    await idle.check()
    file_text = platform_file.read_text()
    api = json.loads((await jp_fetch("api", "idle")).body)["lastActiveTimestamp"]
    assert api == file_text[:-1] + "z", (api, file_text)


def test_platform_file_format_matches_the_monitors_reader(tmp_path):
    from smstudio_ext.idle.platform import PlatformFile

    pf = PlatformFile(str(tmp_path / "f"), feed=True, min_interval_seconds=60)
    when = datetime(2026, 11, 30, 2, 17, 30, 5, tzinfo=timezone.utc)
    assert pf.feed(when)
    assert (tmp_path / "f").read_text() == "2026-11-30T02:17:30.000005Z"
    assert platform_view(tmp_path / "f") == when.replace(tzinfo=None)
    assert pf.read() is None  # ours
    assert not pf.feed(when + timedelta(seconds=1))  # within the interval
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temp file left behind


@with_config(enabled=False, check_interval_seconds=0.05, platform_feed_seconds=0.05)
async def test_turned_off_it_still_feeds_the_platform(
    space, jp_fetch, idle, busy_kernel, platform_file, world, aws
):
    # Given smstudio's own idle shutdown off (the platform's is on: the "platform" mode)
    await busy_kernel()
    task = asyncio.ensure_future(idle.run())
    try:
        # Then the loop still observes and tells the platform about the silent cell
        await wait_for(platform_file.exists, timeout=30)
        assert UPPER_Z.match(platform_file.read_text())
        await wait_for(lambda: idle.mode().mode != "unknown", timeout=30)
        data = json.loads((await jp_fetch("smstudio", "idle")).body)
        assert data["state"] == "disabled" and data["mode"]["mode"] == "platform", json.dumps(
            data["mode"]
        )
        assert data["mode"]["reasons"][0] == "smstudio idle shutdown is off"
        assert data["history"] == [] and aws.count("sagemaker", "DeleteApp") == 0
    finally:
        task.cancel()


def test_a_sandbox_can_move_the_platform_file(monkeypatch, tmp_path):
    from smstudio_ext.idle.config import PLATFORM_TIMESTAMP_FILE, IdleShutdown

    assert IdleShutdown().last_active_file == PLATFORM_TIMESTAMP_FILE
    monkeypatch.setenv("SMSTUDIO_IDLE_LAST_ACTIVE_FILE", str(tmp_path / "f"))
    assert IdleShutdown().last_active_file == str(tmp_path / "f")


# --- 7 and 8. the platform file: offsets, garbage -----------------------------------------------------
@with_config(serve_api_idle=True)
async def test_api_idle_is_utc_for_an_offset_timestamp(space, jp_fetch, idle, tmp_path):
    await idle.check(act=False)
    clock.travel(2 * HOURS)
    when = clock.utcnow() - timedelta(seconds=30)
    (tmp_path / "last-active").write_text(when.astimezone(timezone(timedelta(hours=2))).isoformat())
    await idle.check(act=False)
    data = json.loads((await jp_fetch("api", "idle")).body)
    assert data["lastActiveTimestamp"] == when.strftime("%Y-%m-%dT%H:%M:%S.%fz")
    assert idle.status()["last_active"].endswith("Z")
    assert parse_timestamp("2026-11-30T04:00:00+02:00") == datetime(
        2026, 11, 30, 2, 0, tzinfo=timezone.utc
    )


@pytest.mark.parametrize("garbage", ["1e400", "inf", "-1e400", "nan", "99999999999999999"])
async def test_garbage_numbers_in_the_platform_file(space, idle, tmp_path, garbage):
    (tmp_path / "last-active").write_text(garbage)
    clock.travel(HOURS)
    result = await idle.check()  # no OverflowError / ValueError out of the check
    keep = next(r for r in result.reports if r.name == "keepalive")
    assert keep.available and not keep.active
    assert idle.last_error is None
