"""The backup doors in a real Jupyter server: REST routes, the schedule, shutdown hooks."""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta

import pytest
from tornado.httpclient import HTTPClientError

from smstudio_ext import clock

BUCKET = "studio-home-backups"


@pytest.fixture
def extra_server_config():
    return {"HomeBackup": {"bucket": f"s3://{BUCKET}/homes", "interval_hours": 6}}


def service(jp_serverapp):
    return jp_serverapp.web_app.settings["smstudio"].backup


async def fetch_json(jp_fetch, *parts, method="GET", body=None):
    kwargs = {"method": method}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    resp = await jp_fetch("smstudio", *parts, **kwargs)
    return resp.code, json.loads(resp.body)


@pytest.mark.parametrize("extra_server_config", [{}])
async def test_unconfigured_backup_reports_and_refuses(jp_fetch, jp_serverapp):
    code, data = await fetch_json(jp_fetch, "backup")
    assert code == 200 and data["configured"] is False and data["next_run"] is None
    with pytest.raises(HTTPClientError) as info:
        await fetch_json(jp_fetch, "backup", method="POST", body={})
    assert info.value.code == 409
    assert json.loads(info.value.response.body)["error"] == "not_configured"
    assert service(jp_serverapp).final_backup(2)["ran"] is False


@pytest.mark.parametrize("studio_app", ["JupyterLab"], indirect=True)
async def test_backup_snapshots_restore_over_rest(
    aws, world, jp_fetch, jp_serverapp, jp_root_dir, tmp_path
):
    # Given a Studio space app with a configured bucket and a home with a notebook
    aws.client("s3").create_bucket(Bucket=BUCKET)
    (jp_root_dir / "nb.ipynb").write_text('{"cells": []}')
    (jp_root_dir / "empty-dir").mkdir()
    svc = service(jp_serverapp)
    # When a backup is started over REST and runs to the end
    code, started = await fetch_json(jp_fetch, "backup", method="POST", body={})
    assert code == 202 and started["started"] is True
    assert svc.wait(30)
    code, status = await fetch_json(jp_fetch, "backup")
    # Then the status has the result and the per-space location, under the owner's profile
    app = world.find_app(app_type="JupyterLab")
    assert status["config"]["location"] == (
        f"s3://{BUCKET}/homes/{world.domain_id}/{app['user_profile_name']}/spaces/"
        f"{app['space_name']}/"
    )
    snap_id = status["last_result"]["snapshot_id"]
    assert snap_id and status["running"] is False and status["last_error"] is None
    code, snaps = await fetch_json(jp_fetch, "backup", "snapshots")
    assert [s["id"] for s in snaps["snapshots"]] == [snap_id]
    assert snaps["snapshots"][0]["files"] == 1
    # And a restore over REST brings the files back (a relative target is under the home)
    target = jp_root_dir / "restored"
    code, restored = await fetch_json(
        jp_fetch, "restore", method="POST", body={"snapshot": "latest", "target": "restored"}
    )
    assert restored["restored"] is True and (target / "nb.ipynb").exists()
    assert (target / "empty-dir").is_dir()
    assert svc.summary()["last_snapshot_id"] == snap_id


@pytest.mark.parametrize(
    "body",
    [{"paths": "nb.ipynb"}, {"overwrite": "yes"}, {"snapshot": 3}, {"unknown": 1}],
)
async def test_restore_bad_input(aws, jp_fetch, body):
    with pytest.raises(HTTPClientError) as info:
        await fetch_json(jp_fetch, "restore", method="POST", body=body)
    assert info.value.code == 400


async def test_restore_outside_the_home_is_refused_over_rest(aws, jp_fetch, tmp_path):
    for target in (str(tmp_path / "elsewhere"), "../escape", "/etc"):
        with pytest.raises(HTTPClientError) as info:
            await fetch_json(jp_fetch, "restore", method="POST", body={"target": target})
        assert info.value.code == 400
        assert "outside the home" in json.loads(info.value.response.body)["detail"]
    assert not (tmp_path / "elsewhere").exists()


async def test_restore_while_a_backup_runs_is_409(aws, jp_fetch, jp_serverapp, monkeypatch):
    svc = service(jp_serverapp)
    release = threading.Event()
    monkeypatch.setattr(svc, "backup", lambda **kw: release.wait(10) and {})
    code, _ = await fetch_json(jp_fetch, "backup", method="POST", body={})
    try:
        with pytest.raises(HTTPClientError) as info:
            await fetch_json(jp_fetch, "restore", method="POST", body={"target": "r"})
        assert info.value.code == 409 and "backup is running" in info.value.response.body.decode()
    finally:
        release.set()
    assert svc.wait(10)


async def test_second_start_while_running_is_409(aws, jp_fetch, jp_serverapp, monkeypatch):
    svc = service(jp_serverapp)
    release = threading.Event()
    monkeypatch.setattr(svc, "backup", lambda **kw: release.wait(10) and {})
    code, _ = await fetch_json(jp_fetch, "backup", method="POST", body={})
    assert code == 202
    try:
        with pytest.raises(HTTPClientError) as info:
            await fetch_json(jp_fetch, "backup", method="POST", body={})
        assert info.value.code == 409
        code, status = await fetch_json(jp_fetch, "backup")
        assert status["running"] is True and status["progress"]["operation"] == "backup"
    finally:
        release.set()
    assert svc.wait(10)


async def test_schedule_and_final_backup(aws, jp_fetch, jp_serverapp, jp_root_dir):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    (jp_root_dir / "a.py").write_text("print(1)")
    svc = service(jp_serverapp)
    with clock.travelling():
        # Never backed up: due at once; the tick starts a background run
        assert svc.due() is True
        assert svc.tick() is True
        assert svc.wait(30)
        assert svc.last_result["snapshot_id"]
        assert svc.due() is False
        clock.travel(timedelta(hours=6, minutes=1))
        assert svc.due() is True
    # The idle engine's hook: bounded, never raises, reports what happened
    result = svc.final_backup(30)
    assert result["ran"] is True and result["ok"] is True
    assert svc.final_backup(0)["ok"] is False  # no time at all: cancelled, no snapshot


def test_openapi_documents_every_field_returned(aws, jp_serverapp, jp_root_dir, tmp_path):
    import yaml

    import smstudio_ext

    with open(os.path.join(smstudio_ext.__path__[0], "rest-api.yaml")) as fh:
        spec = yaml.safe_load(fh)
    paths = spec["paths"]
    status_schema = paths["/smstudio/backup"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    aws.client("s3").create_bucket(Bucket=BUCKET)
    (jp_root_dir / "x.txt").write_text("x")
    svc = service(jp_serverapp)
    result = svc.backup()
    status = svc.status()
    assert set(status) <= set(status_schema["properties"])
    assert set(status["config"]) <= set(status_schema["properties"]["config"]["properties"])
    result_props = status_schema["properties"]["last_result"]["properties"]
    assert set(result) <= set(result_props)
    snap_schema = paths["/smstudio/backup/snapshots"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["properties"]["snapshots"]["items"]
    assert set(svc.snapshots()[0]) <= set(snap_schema["properties"])
    restored = svc.restore("latest", target=str(tmp_path / "r"))
    restore_schema = paths["/smstudio/restore"]["post"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    assert set(restored) <= set(restore_schema["properties"])
    from smstudio_ext.backup.repo import Progress

    assert set(Progress().to_dict()) <= set(status_schema["properties"]["progress"]["properties"])
